// Device discovery through the static CUDA runtime.
#include "cuda_backend.h"

#include <cuda_runtime_api.h>

#include <string>

namespace netlens::cuda {
namespace {

std::string describe(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}

std::string versionText(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

}  // namespace

DeviceReport queryDevices() {
  DeviceReport report;
  cudaRuntimeGetVersion(&report.runtimeVersion);
  // Reports 0 (not an error) when libcuda.so.1 cannot be loaded.
  cudaDriverGetVersion(&report.driverVersion);

  int count = 0;
  const cudaError_t countStatus = cudaGetDeviceCount(&count);
  if (countStatus != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    if (report.driverVersion == 0) {
      report.error = "no NVIDIA driver found (libcuda.so.1 could not be loaded; " + describe(countStatus) + ")";
    } else if (report.driverVersion < report.runtimeVersion) {
      report.error = "the NVIDIA driver supports CUDA " + versionText(report.driverVersion) +
                     " but the engine needs CUDA " + versionText(report.runtimeVersion) + " (" +
                     describe(countStatus) + ")";
    } else {
      report.error = describe(countStatus);
    }
    return report;
  }
  report.deviceCount = count;
  if (count == 0) {
    report.error = "the NVIDIA driver reports no CUDA device";
    return report;
  }

  cudaDeviceProp properties{};
  const cudaError_t propertiesStatus = cudaGetDeviceProperties(&properties, 0);
  if (propertiesStatus != cudaSuccess) {
    cudaGetLastError();
    report.error = "device 0: " + describe(propertiesStatus);
    return report;
  }
  report.deviceName = properties.name;
  report.computeMajor = properties.major;
  report.computeMinor = properties.minor;
  report.totalMemoryBytes = properties.totalGlobalMem;

  // Free memory needs a context; creating the primary context here is what the engine does first
  // anyway, so the probe costs nothing extra later.
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  const cudaError_t setStatus = cudaSetDevice(0);
  const cudaError_t memStatus = setStatus == cudaSuccess ? cudaMemGetInfo(&freeBytes, &totalBytes) : setStatus;
  if (memStatus != cudaSuccess) {
    cudaGetLastError();
    report.error = "device 0 (" + report.deviceName + ") cannot be used: " + describe(memStatus);
    return report;
  }
  report.freeMemoryBytes = freeBytes;
  report.totalMemoryBytes = totalBytes;
  report.gpuPresent = true;
  return report;
}

}  // namespace netlens::cuda
