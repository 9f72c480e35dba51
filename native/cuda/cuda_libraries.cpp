// dlopen-based loading of cuDNN 9 and cuBLAS: the search order, the function tables, and the
// reports the engine info shows.
#include "cuda_libraries.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <type_traits>

namespace netlens::cuda {
namespace {

bool isDirectory(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool isFile(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

std::string directoryOf(const std::string& file) {
  const auto slash = file.rfind('/');
  return slash == std::string::npos ? std::string() : file.substr(0, slash);
}

std::string joinNotes(const std::vector<std::string>& notes) {
  std::string text;
  for (const auto& note : notes) text += (text.empty() ? "" : "; ") + note;
  return text;
}

// Binds `symbol` from `handle` into `function`; a missing one is added to `missing`.
template <typename Function>
void bind(void* handle, Function& function, const char* symbol, std::string& missing) {
  function = reinterpret_cast<Function>(dlsym(handle, symbol));
  if (function == nullptr) {
    dlerror();  // clear the message, so a later dlerror() reports its own failure
    missing += (missing.empty() ? "" : ", ") + std::string(symbol);
  }
}

}  // namespace

LoadOutcome openLibrary(const std::vector<std::string>& sonames, const std::string& pathVariable,
                        const std::string& wheelSubdir, const std::string& buildDirectory, const LibrarySearch& search) {
  LoadOutcome outcome;
  std::vector<std::pair<std::string, std::string>> files;  // (origin, file)
  const auto addFromDirectory = [&](const std::string& origin, const std::string& root,
                                    const std::vector<std::string>& subdirectories) {
    if (root.empty()) return;
    if (!isDirectory(root)) {
      outcome.notes.push_back(origin + "=" + root + ": does not exist");
      return;
    }
    for (const auto& subdirectory : subdirectories) {
      for (const auto& soname : sonames) {
        const std::string file = root + (subdirectory.empty() ? "" : "/" + subdirectory) + "/" + soname;
        if (isFile(file)) {
          files.emplace_back(origin, file);
          return;
        }
      }
    }
    outcome.notes.push_back(origin + "=" + root + ": no " + sonames.front());
  };

  const std::string explicitPath =
      !search.explicitPath.empty() ? search.explicitPath : (search.environment ? environment(pathVariable.c_str()) : "");
  const std::string explicitOrigin = search.explicitPath.empty() ? pathVariable : std::string("configured path");
  if (!explicitPath.empty()) {
    if (isFile(explicitPath)) {
      files.emplace_back(explicitOrigin, explicitPath);
    } else {
      addFromDirectory(explicitOrigin, explicitPath, {"", "lib", "lib64", wheelSubdir});
    }
  }
  if (search.environment) {
    addFromDirectory("CUDNN_ROOT", environment("CUDNN_ROOT"), {"lib", "lib64", wheelSubdir, ""});
    addFromDirectory("CUDA_HOME", environment("CUDA_HOME"), {"lib64", "lib"});
    addFromDirectory("CUDA_PATH", environment("CUDA_PATH"), {"lib64", "lib"});
  }
  if (search.buildDirectory && !buildDirectory.empty()) addFromDirectory("build-time directory", buildDirectory, {""});
  if (search.defaultSearch) {
    for (const auto& soname : sonames) files.emplace_back("default search", soname);
  }

  for (const auto& [origin, file] : files) {
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* error = dlerror();
      outcome.notes.push_back(origin + ": " + (error ? std::string(error) : file + ": dlopen failed"));
      continue;
    }
    outcome.handle = handle;
    outcome.loadedFrom = file;
    return outcome;
  }
  outcome.failure = sonames.front() + " not found" + (outcome.notes.empty() ? "" : " (" + joinNotes(outcome.notes) + ")");
  return outcome;
}

// ---- cuDNN ---------------------------------------------------------------------------------------

#ifdef NETLENS_WITH_CUDNN

#ifdef NETLENS_CUDNN_BUILD_LIBDIR
constexpr const char* kCudnnBuildDirectory = NETLENS_CUDNN_BUILD_LIBDIR;
#else
constexpr const char* kCudnnBuildDirectory = "";
#endif

CudnnApi loadCudnn(const LibrarySearch& search) {
  CudnnApi api;
  const LoadOutcome front = openLibrary({"libcudnn.so.9"}, "NETLENS_CUDNN_PATH", "nvidia/cudnn/lib", kCudnnBuildDirectory, search);
  if (front.handle == nullptr) {
    api.failure = front.failure;
    return api;
  }
  api.loadedFrom = front.loadedFrom;
  // The front library forwards each call to a sub-library it opens on first use, and aborts the
  // process when that sub-library is missing (a partial install, like a wheel with only the graph
  // library). So each sub-library is opened here first, from the same directory, and only then used.
  const std::string directory = directoryOf(front.loadedFrom);
  const auto openSibling = [&](const char* soname, std::string& why) -> void* {
    const std::string file = directory.empty() ? soname : directory + "/" + soname;
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* error = dlerror();
      why = error ? std::string(error) : file + ": dlopen failed";
    }
    return handle;
  };
  std::string why;
  void* graph = openSibling("libcudnn_graph.so.9", why);
  if (graph == nullptr) {
    api.failure = front.loadedFrom + " is incomplete: " + why;
    dlclose(front.handle);
    return api;
  }
  std::string missing;
  bind(graph, api.getVersion, "cudnnGetVersion", missing);
  bind(graph, api.getErrorString, "cudnnGetErrorString", missing);
  bind(graph, api.create, "cudnnCreate", missing);
  bind(graph, api.destroy, "cudnnDestroy", missing);
  bind(graph, api.setStream, "cudnnSetStream", missing);
  if (!missing.empty()) {
    api.failure = "libcudnn_graph.so.9 lacks " + missing;
    return api;
  }
  api.loaded = true;

  void* ops = openSibling("libcudnn_ops.so.9", why);
  void* cnn = ops == nullptr ? nullptr : openSibling("libcudnn_cnn.so.9", why);
  if (ops == nullptr || cnn == nullptr) {
    api.failure = "no convolutions: " + why;
    return api;
  }
  bind(ops, api.createTensorDescriptor, "cudnnCreateTensorDescriptor", missing);
  bind(ops, api.setTensor4dDescriptor, "cudnnSetTensor4dDescriptor", missing);
  bind(ops, api.destroyTensorDescriptor, "cudnnDestroyTensorDescriptor", missing);
  bind(ops, api.createFilterDescriptor, "cudnnCreateFilterDescriptor", missing);
  bind(ops, api.setFilter4dDescriptor, "cudnnSetFilter4dDescriptor", missing);
  bind(ops, api.destroyFilterDescriptor, "cudnnDestroyFilterDescriptor", missing);
  bind(ops, api.addTensor, "cudnnAddTensor", missing);
  bind(cnn, api.createConvolutionDescriptor, "cudnnCreateConvolutionDescriptor", missing);
  bind(cnn, api.setConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor", missing);
  bind(cnn, api.setConvolutionGroupCount, "cudnnSetConvolutionGroupCount", missing);
  bind(cnn, api.setConvolutionMathType, "cudnnSetConvolutionMathType", missing);
  bind(cnn, api.destroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor", missing);
  bind(cnn, api.forwardAlgorithms, "cudnnGetConvolutionForwardAlgorithm_v7", missing);
  bind(cnn, api.backwardDataAlgorithms, "cudnnGetConvolutionBackwardDataAlgorithm_v7", missing);
  bind(cnn, api.backwardFilterAlgorithms, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", missing);
  bind(cnn, api.forwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize", missing);
  bind(cnn, api.backwardDataWorkspaceSize, "cudnnGetConvolutionBackwardDataWorkspaceSize", missing);
  bind(cnn, api.backwardFilterWorkspaceSize, "cudnnGetConvolutionBackwardFilterWorkspaceSize", missing);
  bind(cnn, api.convolutionForward, "cudnnConvolutionForward", missing);
  bind(cnn, api.convolutionBackwardData, "cudnnConvolutionBackwardData", missing);
  bind(cnn, api.convolutionBackwardFilter, "cudnnConvolutionBackwardFilter", missing);
  bind(cnn, api.convolutionBackwardBias, "cudnnConvolutionBackwardBias", missing);
  if (!missing.empty()) {
    api.failure = "no convolutions: missing " + missing;
    return api;
  }
  std::string missingFind;
  bind(cnn, api.findForward, "cudnnFindConvolutionForwardAlgorithmEx", missingFind);
  bind(cnn, api.findBackwardData, "cudnnFindConvolutionBackwardDataAlgorithmEx", missingFind);
  bind(cnn, api.findBackwardFilter, "cudnnFindConvolutionBackwardFilterAlgorithmEx", missingFind);
  api.findAlgorithms = missingFind.empty();
  // The fused forward is a cnn entry point, the activation descriptor an ops one; both are looked for
  // in the sub-library first and then in the front library, which exports every legacy entry point.
  std::string missingFused;
  const auto bindEither = [&](void* first, auto& function, const char* symbol) {
    std::string unused;
    bind(first, function, symbol, unused);
    if (function == nullptr) bind(front.handle, function, symbol, missingFused);
  };
  bindEither(cnn, api.convolutionBiasActivationForward, "cudnnConvolutionBiasActivationForward");
  bindEither(ops, api.createActivationDescriptor, "cudnnCreateActivationDescriptor");
  bindEither(ops, api.setActivationDescriptor, "cudnnSetActivationDescriptor");
  bindEither(ops, api.destroyActivationDescriptor, "cudnnDestroyActivationDescriptor");
  api.fusedConvolutions = missingFused.empty();
  if (!api.fusedConvolutions) api.fusedFailure = "this cuDNN lacks " + missingFused;
  // The engine libraries are opened by the front library on first use; opening the ones present here
  // from the same folder means they are found even when that folder is not on the loader's path.
  for (const char* optional : {"libcudnn_heuristic.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9"}) {
    std::string ignored;
    openSibling(optional, ignored);
  }
  api.convolutions = true;
  return api;
}

const CudnnApi& cudnnApi() {
  static const CudnnApi api = loadCudnn(LibrarySearch{});
  return api;
}

#endif  // NETLENS_WITH_CUDNN

// ---- cuBLAS --------------------------------------------------------------------------------------

#ifdef NETLENS_CUBLAS_BUILD_LIBDIR
constexpr const char* kCublasBuildDirectory = NETLENS_CUBLAS_BUILD_LIBDIR;
#else
constexpr const char* kCublasBuildDirectory = "";
#endif

CublasApi loadCublas(const LibrarySearch& search) {
  CublasApi api;
  // cuBLASLt first: libcublas needs it, and the dynamic loader reuses an already opened library with
  // the same soname, so a cuBLASLt found off the default search path still satisfies libcublas.
  const LoadOutcome lt = openLibrary({"libcublasLt.so.13", "libcublasLt.so.12"}, "NETLENS_CUBLAS_PATH", "nvidia/cublas/lib",
                                     kCublasBuildDirectory, search);
  if (lt.handle == nullptr) {
    api.failure = lt.failure;
    return api;
  }
  api.ltLoadedFrom = lt.loadedFrom;
  const bool major13 = lt.loadedFrom.find("libcublasLt.so.13") != std::string::npos;
  const std::string soname = major13 ? "libcublas.so.13" : "libcublas.so.12";
  const std::string directory = directoryOf(lt.loadedFrom);
  const std::string file = directory.empty() ? soname : directory + "/" + soname;
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    api.failure = soname + " not loadable beside " + lt.loadedFrom + ": " + (error ? error : file);
    return api;
  }
  api.loadedFrom = file;
  std::string missing;
  bind(handle, api.create, "cublasCreate_v2", missing);
  bind(handle, api.destroy, "cublasDestroy_v2", missing);
  bind(handle, api.setStream, "cublasSetStream_v2", missing);
  bind(handle, api.setMathMode, "cublasSetMathMode", missing);
  bind(handle, api.setWorkspace, "cublasSetWorkspace_v2", missing);
  bind(handle, api.getProperty, "cublasGetProperty", missing);
  bind(handle, api.statusString, "cublasGetStatusString", missing);
  bind(handle, api.sgemm, "cublasSgemm_v2", missing);
  bind(handle, api.gemmEx, "cublasGemmEx", missing);
  bind(handle, api.gemmStridedBatchedEx, "cublasGemmStridedBatchedEx", missing);
  bind(lt.handle, api.ltVersion, "cublasLtGetVersion", missing);
  if (!missing.empty()) {
    api.failure = file + " lacks " + missing;
    return api;
  }
  api.loaded = true;
  std::string missingLt;
  bind(lt.handle, api.ltCreate, "cublasLtCreate", missingLt);
  bind(lt.handle, api.ltDestroy, "cublasLtDestroy", missingLt);
  bind(lt.handle, api.ltMatmulDescCreate, "cublasLtMatmulDescCreate", missingLt);
  bind(lt.handle, api.ltMatmulDescDestroy, "cublasLtMatmulDescDestroy", missingLt);
  bind(lt.handle, api.ltMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", missingLt);
  bind(lt.handle, api.ltMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", missingLt);
  bind(lt.handle, api.ltMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", missingLt);
  bind(lt.handle, api.ltPreferenceCreate, "cublasLtMatmulPreferenceCreate", missingLt);
  bind(lt.handle, api.ltPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", missingLt);
  bind(lt.handle, api.ltPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", missingLt);
  bind(lt.handle, api.ltAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", missingLt);
  bind(lt.handle, api.ltMatmul, "cublasLtMatmul", missingLt);
  api.ltMatmuls = missingLt.empty();
  if (!api.ltMatmuls) api.ltFailure = lt.loadedFrom + " lacks " + missingLt;
  return api;
}

const CublasApi& cublasApi() {
  static const CublasApi api = loadCublas(LibrarySearch{});
  return api;
}

namespace {

CublasReport reportCublas(const CublasApi& api, bool gpuPresent) {
  CublasReport report;
  if (!api.loaded) {
    report.status = "cuBLAS unavailable: " + api.failure;
    return report;
  }
  int major = 0, minor = 0, patch = 0;
  api.getProperty(MAJOR_VERSION, &major);
  api.getProperty(MINOR_VERSION, &minor);
  api.getProperty(PATCH_LEVEL, &patch);
  report.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  const size_t lt = api.ltVersion();
  report.ltVersion = std::to_string(lt / 10000) + "." + std::to_string((lt % 10000) / 100) + "." + std::to_string(lt % 100);
  report.available = true;
  report.status = "cuBLAS " + report.version + " loaded from " + api.loadedFrom + " (cuBLASLt " + report.ltVersion +
                  (api.ltMatmuls ? "" : "; no fused epilogues: " + api.ltFailure) + ")";
  if (!gpuPresent) {
    report.status += " (no GPU: no handle created)";
    return report;
  }
  CublasApi::Handle handle = nullptr;
  const CublasApi::Status created = api.create(&handle);
  report.status += std::string("; cublasCreate: ") + api.statusString(created);
  if (created == 0) {
    api.destroy(handle);
  } else {
    report.available = false;
  }
  return report;
}

}  // namespace

CublasReport probeCublas(bool gpuPresent) { return reportCublas(cublasApi(), gpuPresent); }

CublasReport probeCublasWith(const LibrarySearch& search, bool gpuPresent) {
  return reportCublas(loadCublas(search), gpuPresent);
}

bool cudaExecutorAvailable(std::string* reason) {
  std::string why;
#ifdef NETLENS_WITH_CUDNN
  const DeviceReport device = queryDevices();
  // cuBLAS first: cuDNN's engine libraries need libcublasLt, and an already opened one satisfies them.
  if (!device.gpuPresent) {
    why = "no GPU: " + device.error;
  } else if (!cublasApi().loaded) {
    why = "cuBLAS: " + cublasApi().failure;
  } else if (!cudnnApi().loaded || !cudnnApi().convolutions) {
    why = "cuDNN: " + (cudnnApi().failure.empty() ? std::string("not loaded") : cudnnApi().failure);
  }
#else
  why = "the CUDA executor is not compiled in (no cuDNN headers at build time; set CUDNN_ROOT and rebuild)";
#endif
  if (reason) *reason = why;
  return why.empty();
}

}  // namespace netlens::cuda
