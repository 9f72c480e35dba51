#include "netlens/engine_info.h"

#include "cpu_info.h"

#ifdef NETLENS_WITH_CUDA
#include "cuda_backend.h"
#endif

namespace netlens {

std::string formatCudaVersion(int version) {
  if (version <= 0) return "none";
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

EngineInfo engineInfo() {
  EngineInfo info;
  info.version = NETLENS_VERSION;

  const cpu::CpuReport cpuReport = cpu::queryCpu();
  info.cpuThreads = cpuReport.threads;
  info.cpuModel = cpuReport.model;
  info.cpuFeatures = cpuReport.features;
  info.cpuBlas = cpu::cpuKernelsDescription();

#ifdef NETLENS_WITH_CUDA
  info.cudaCompiled = true;
  const cuda::DeviceReport device = cuda::queryDevices();
  info.gpuPresent = device.gpuPresent;
  info.deviceCount = device.deviceCount;
  info.deviceName = device.deviceName;
  if (device.gpuPresent) {
    info.computeCapability = std::to_string(device.computeMajor) + "." + std::to_string(device.computeMinor);
  }
  info.totalMemoryBytes = device.totalMemoryBytes;
  info.freeMemoryBytes = device.freeMemoryBytes;
  info.driverVersion = device.driverVersion;
  info.runtimeVersion = device.runtimeVersion;
  info.gpuError = device.error;

  const cuda::CudnnReport cudnn = cuda::probeCudnn(device.gpuPresent);
  info.cudnnCompiled = cudnn.compiled;
  info.cudnnAvailable = cudnn.available;
  info.cudnnVersion = cudnn.version;
  info.cudnnStatus = cudnn.status;

  std::string missing;
  info.cudaExecutorAvailable = cuda::cudaExecutorAvailable(&missing);
  info.cudaExecutorStatus = info.cudaExecutorAvailable ? "CUDA executor ready on " + device.deviceName : missing;
#else
  info.gpuError = "CUDA backend not compiled in (CPU-only build: no nvcc at build time, or NETLENS_CUDA=0)";
  info.cudnnStatus = "cuDNN: not compiled in (CPU-only build)";
  info.cudaExecutorStatus = "the CUDA executor is not compiled in (CPU-only build)";
#endif
  return info;
}

}  // namespace netlens
