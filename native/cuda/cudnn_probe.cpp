// cuDNN is loaded with dlopen, never linked, so one netlens.node loads on machines without it.
// Search order: NETLENS_CUDNN_PATH (file or directory), CUDNN_ROOT, CUDA_HOME, CUDA_PATH, the
// directory found at build time, then the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache).
#include "cuda_backend.h"

#ifdef NETLENS_WITH_CUDNN

#include <cudnn.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

namespace netlens::cuda {
namespace {

constexpr const char* kLibraryName = "libcudnn.so.9";

constexpr const char* kGraphLibraryName = "libcudnn_graph.so.9";

struct CudnnLibrary {
  void* handle = nullptr;       // the libcudnn.so.9 front library
  void* graphHandle = nullptr;  // libcudnn_graph.so.9, which implements the handle/version calls
  std::string loadedFrom;
  std::string failure;  // why it is not usable, when handle is null or a symbol is missing
  decltype(&cudnnGetVersion) getVersion = nullptr;
  decltype(&cudnnGetErrorString) getErrorString = nullptr;
  decltype(&cudnnCreate) create = nullptr;
  decltype(&cudnnDestroy) destroy = nullptr;
};

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

// Candidate files that exist, in search order; a missing directory is noted, not tried.
std::vector<std::string> candidateFiles(std::vector<std::string>& notes) {
  std::vector<std::string> files;
  const auto addFromDirectory = [&](const std::string& origin, const std::string& root,
                                    const std::vector<std::string>& subdirectories) {
    if (root.empty()) return;
    for (const auto& subdirectory : subdirectories) {
      const std::string file = root + (subdirectory.empty() ? "" : "/" + subdirectory) + "/" + kLibraryName;
      if (isFile(file)) {
        files.push_back(file);
        return;
      }
    }
    notes.push_back(origin + "=" + root + ": no " + kLibraryName);
  };

  const std::string explicitPath = environment("NETLENS_CUDNN_PATH");
  if (!explicitPath.empty()) {
    if (isDirectory(explicitPath)) {
      addFromDirectory("NETLENS_CUDNN_PATH", explicitPath, {"", "lib", "lib64"});
    } else if (isFile(explicitPath)) {
      files.push_back(explicitPath);
    } else {
      notes.push_back("NETLENS_CUDNN_PATH=" + explicitPath + ": does not exist");
    }
  }
  const std::vector<std::string> rootLayouts{"lib", "lib64", "nvidia/cudnn/lib", ""};
  addFromDirectory("CUDNN_ROOT", environment("CUDNN_ROOT"), rootLayouts);
  addFromDirectory("CUDA_HOME", environment("CUDA_HOME"), {"lib64", "lib"});
  addFromDirectory("CUDA_PATH", environment("CUDA_PATH"), {"lib64", "lib"});
#ifdef NETLENS_CUDNN_BUILD_LIBDIR
  addFromDirectory("build-time cuDNN", NETLENS_CUDNN_BUILD_LIBDIR, {""});
#endif
  files.push_back(kLibraryName);  // bare name: the dynamic loader's search path
  return files;
}

CudnnLibrary load() {
  CudnnLibrary library;
  std::vector<std::string> notes;
  for (const auto& file : candidateFiles(notes)) {
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* error = dlerror();
      notes.push_back(error ? std::string(error) : file + ": dlopen failed");
      continue;
    }
    library.handle = handle;
    library.loadedFrom = file;
    break;
  }
  if (library.handle == nullptr) {
    library.failure = "not found";
    for (const auto& note : notes) library.failure += "; " + note;
    return library;
  }

  // The front library forwards each call to a sub-library that it opens on first use and aborts the
  // process when that sub-library is missing (a partial install), so open it ourselves first and
  // call into it directly.
  const auto slash = library.loadedFrom.rfind('/');
  const std::string graphFile =
      slash == std::string::npos ? kGraphLibraryName : library.loadedFrom.substr(0, slash + 1) + kGraphLibraryName;
  library.graphHandle = dlopen(graphFile.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library.graphHandle == nullptr) {
    const char* error = dlerror();
    library.failure = library.loadedFrom + " is incomplete: " + (error ? std::string(error) : graphFile);
    dlclose(library.handle);
    library.handle = nullptr;
    return library;
  }

  bool complete = true;
  const auto bind = [&](auto& function, const char* symbol) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library.graphHandle, symbol));
    if (function == nullptr) {
      complete = false;
      library.failure += std::string(library.failure.empty() ? "" : "; ") + "missing symbol " + symbol;
    }
  };
  bind(library.getVersion, "cudnnGetVersion");
  bind(library.getErrorString, "cudnnGetErrorString");
  bind(library.create, "cudnnCreate");
  bind(library.destroy, "cudnnDestroy");
  if (!complete) {
    library.failure = graphFile + ": " + library.failure;
    dlclose(library.graphHandle);
    dlclose(library.handle);
    library.graphHandle = nullptr;
    library.handle = nullptr;
  }
  return library;
}

const CudnnLibrary& cudnnLibrary() {
  static const CudnnLibrary library = load();
  return library;
}

std::string versionText(std::size_t version) {
  // cuDNN 9 encodes major*10000 + minor*100 + patch.
  return std::to_string(version / 10000) + "." + std::to_string((version % 10000) / 100) + "." +
         std::to_string(version % 100);
}

}  // namespace

CudnnReport probeCudnn(bool gpuPresent) {
  CudnnReport report;
  report.compiled = true;
  const CudnnLibrary& library = cudnnLibrary();
  if (library.handle == nullptr) {
    report.status = "cuDNN unavailable: " + library.failure;
    return report;
  }
  const std::size_t loadedVersion = library.getVersion();
  report.version = versionText(loadedVersion);
  if (loadedVersion / 10000 != CUDNN_MAJOR) {
    report.status = "cuDNN " + report.version + " at " + library.loadedFrom + " does not match the " +
                    std::to_string(CUDNN_MAJOR) + ".x headers the engine was built with";
    return report;
  }
  report.available = true;
  report.status = "cuDNN " + report.version + " loaded from " + library.loadedFrom;
  if (!gpuPresent) {
    report.status += " (no GPU: no handle created)";
    return report;
  }
  cudnnHandle_t handle = nullptr;
  const cudnnStatus_t created = library.create(&handle);
  report.status += std::string("; cudnnCreate: ") + library.getErrorString(created);
  if (created == CUDNN_STATUS_SUCCESS) {
    library.destroy(handle);
  } else {
    report.available = false;
  }
  return report;
}

}  // namespace netlens::cuda

#else  // built without cuDNN headers

namespace netlens::cuda {

CudnnReport probeCudnn(bool) {
  CudnnReport report;
  report.status = "cuDNN: not compiled in (no cuDNN headers at build time; set CUDNN_ROOT and rebuild)";
  return report;
}

}  // namespace netlens::cuda

#endif
