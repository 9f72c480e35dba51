// The CUDA backend's plain C++ face: no CUDA or cuDNN types leak out of native/cuda, so the core
// compiles with a host compiler only.
#pragma once

#include <cstdint>
#include <string>

namespace netlens::cuda {

struct DeviceReport {
  bool gpuPresent = false;
  int deviceCount = 0;
  std::string deviceName;
  int computeMajor = 0;
  int computeMinor = 0;
  std::uint64_t totalMemoryBytes = 0;
  std::uint64_t freeMemoryBytes = 0;
  int driverVersion = 0;
  int runtimeVersion = 0;
  std::string error;
};

// Device 0 is the one reported; the static CUDA runtime loads libcuda.so.1 lazily, so this works
// (and explains itself) on machines without a driver.
DeviceReport queryDevices();

struct CudnnReport {
  bool compiled = false;
  bool available = false;
  std::string version;
  std::string status;
};

// Loads libcudnn.so.9 with dlopen (once per process). Creates a handle only when a GPU is present.
CudnnReport probeCudnn(bool gpuPresent);

}  // namespace netlens::cuda
