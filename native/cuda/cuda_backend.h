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
  /** libcudnn_ops.so.9 and libcudnn_cnn.so.9 are there too, so the CUDA executor can convolve. */
  bool convolutions = false;
  std::string version;
  std::string status;
};

/**
 * Where the GPU libraries are looked for. The default is the engine's search: the NETLENS_CUDNN_PATH /
 * NETLENS_CUBLAS_PATH variable, CUDNN_ROOT, CUDA_HOME, CUDA_PATH, the directory CMake found, then the
 * dynamic loader's own search. Tests narrow it to one place.
 */
struct LibrarySearch {
  std::string explicitPath;    // a file or a directory tried first (instead of the NETLENS_*_PATH variable)
  bool environment = true;     // NETLENS_*_PATH, CUDNN_ROOT, CUDA_HOME, CUDA_PATH
  bool buildDirectory = true;  // the directory found at build time
  bool defaultSearch = true;   // dlopen by soname (LD_LIBRARY_PATH, ld.so.cache)
};

// Loads libcudnn.so.9 with dlopen (once per process). Creates a handle only when a GPU is present.
CudnnReport probeCudnn(bool gpuPresent);
/** The same with another search, loaded afresh (not the engine's copy). */
CudnnReport probeCudnnWith(const LibrarySearch& search, bool gpuPresent);

struct CublasReport {
  bool available = false;
  std::string version;    // cuBLAS major.minor.patch
  std::string ltVersion;  // cuBLASLt, as cublasLtGetVersion reports it
  std::string status;
};

// Loads libcublasLt and libcublas (.so.13, else .so.12) with dlopen, once per process.
CublasReport probeCublas(bool gpuPresent);
CublasReport probeCublasWith(const LibrarySearch& search, bool gpuPresent);

/**
 * Whether this process can run the CUDA executor: a GPU, cuDNN with its convolution libraries and
 * cuBLAS (and a build with cuDNN headers). When not, `reason` says what is missing.
 */
bool cudaExecutorAvailable(std::string* reason);

}  // namespace netlens::cuda
