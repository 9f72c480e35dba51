// The cuDNN report the engine info shows. cuDNN is loaded with dlopen, never linked (cuda_libraries.cpp
// has the search order), so one netlens.node loads on machines without it.
#include "cuda_backend.h"

#ifdef NETLENS_WITH_CUDNN

#include "cuda_libraries.h"

namespace netlens::cuda {
namespace {

std::string versionText(std::size_t version) {
  // cuDNN 9 encodes major*10000 + minor*100 + patch.
  return std::to_string(version / 10000) + "." + std::to_string((version % 10000) / 100) + "." +
         std::to_string(version % 100);
}

CudnnReport report(const CudnnApi& api, bool gpuPresent) {
  CudnnReport result;
  result.compiled = true;
  if (!api.loaded) {
    result.status = "cuDNN unavailable: " + api.failure;
    return result;
  }
  const std::size_t loadedVersion = api.getVersion();
  result.version = versionText(loadedVersion);
  if (loadedVersion / 10000 != CUDNN_MAJOR) {
    result.status = "cuDNN " + result.version + " at " + api.loadedFrom + " does not match the " +
                    std::to_string(CUDNN_MAJOR) + ".x headers the engine was built with";
    return result;
  }
  result.available = true;
  result.convolutions = api.convolutions;
  result.status = "cuDNN " + result.version + " loaded from " + api.loadedFrom;
  if (!api.convolutions) result.status += " (" + api.failure + ")";
  if (!gpuPresent) {
    result.status += " (no GPU: no handle created)";
    return result;
  }
  cudnnHandle_t handle = nullptr;
  const cudnnStatus_t created = api.create(&handle);
  result.status += std::string("; cudnnCreate: ") + api.getErrorString(created);
  if (created == CUDNN_STATUS_SUCCESS) {
    api.destroy(handle);
  } else {
    result.available = false;
  }
  return result;
}

}  // namespace

CudnnReport probeCudnn(bool gpuPresent) { return report(cudnnApi(), gpuPresent); }

CudnnReport probeCudnnWith(const LibrarySearch& search, bool gpuPresent) { return report(loadCudnn(search), gpuPresent); }

}  // namespace netlens::cuda

#else  // built without cuDNN headers

namespace netlens::cuda {

namespace {
CudnnReport notCompiled() {
  CudnnReport report;
  report.status = "cuDNN: not compiled in (no cuDNN headers at build time; set CUDNN_ROOT and rebuild)";
  return report;
}
}  // namespace

CudnnReport probeCudnn(bool) { return notCompiled(); }
CudnnReport probeCudnnWith(const LibrarySearch&, bool) { return notCompiled(); }

}  // namespace netlens::cuda

#endif
