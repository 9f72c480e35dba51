// What the native engine can run on: build configuration, CPU, GPU and cuDNN as seen at run time.
// Plain C++ (no N-API types) so the add-on, the C++ tests and future tools share one API.
#pragma once

#include <cstdint>
#include <string>

namespace netlens {

struct EngineInfo {
  std::string version;            // the package version the engine was built from
  bool cudaCompiled = false;      // the CUDA backend is part of this build
  bool gpuPresent = false;        // a usable CUDA device was found right now
  int deviceCount = 0;
  std::string deviceName;         // device 0, empty without a GPU
  std::string computeCapability;  // "9.0", empty without a GPU
  std::uint64_t totalMemoryBytes = 0;
  std::uint64_t freeMemoryBytes = 0;
  int driverVersion = 0;   // CUDA version the driver supports (13000 = 13.0); 0 when no driver
  int runtimeVersion = 0;  // CUDA runtime linked into the engine; 0 in a CPU-only build
  std::string gpuError;    // why there is no GPU (empty when gpuPresent)
  bool cudnnCompiled = false;   // the cuDNN run-time probe is part of this build
  bool cudnnAvailable = false;  // libcudnn was loaded
  std::string cudnnVersion;     // "9.24.0" when loaded
  std::string cudnnStatus;      // one line for people: loaded from where, or why not
  // The CUDA executor can train here (a GPU, cuDNN with convolutions, cuBLAS, a build with cuDNN
  // headers); the status says on what, or what is missing ("no GPU: …", "cuDNN: … not found").
  bool cudaExecutorAvailable = false;
  std::string cudaExecutorStatus;
  int cpuThreads = 0;
  std::string cpuModel;
  std::string cpuFeatures;  // SIMD extensions the CPU backend can use, space separated
  // Which kernel library the CPU backend uses, or the built-in kernels and why:
  // "oneDNN 2.6.3 (OpenMP build) convolutions, built-in AVX2 GEMM, 2 threads"
  std::string cpuBlas;
};

// Queries the machine each call (free GPU memory changes). Never throws for a missing GPU, driver
// or cuDNN: those are reported in the fields.
EngineInfo engineInfo();

// 13000 -> "13.0", 12040 -> "12.4"; "none" for 0.
std::string formatCudaVersion(int version);

}  // namespace netlens
