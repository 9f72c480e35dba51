// Checks that engineInfo() describes this machine consistently; runs without Node (ctest).
// On a GPU machine set NETLENS_EXPECT_GPU=1 (and NETLENS_EXPECT_CUDNN=1 when cuDNN is installed) so
// a silently CPU-only result fails; NETLENS_EXPECT_GPU=0 asserts the opposite.
#include "netlens/engine_info.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
  if (!condition) {
    ++failures;
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  }
}

// -1 when unset, else 0 or 1.
int expectation(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return -1;
  return std::string(value) == "0" ? 0 : 1;
}

}  // namespace

int main() {
  const netlens::EngineInfo info = netlens::engineInfo();
  std::printf("version            %s\n", info.version.c_str());
  std::printf("cudaCompiled       %d\n", info.cudaCompiled);
  std::printf("gpuPresent         %d\n", info.gpuPresent);
  std::printf("deviceCount        %d\n", info.deviceCount);
  std::printf("deviceName         %s\n", info.deviceName.c_str());
  std::printf("computeCapability  %s\n", info.computeCapability.c_str());
  std::printf("memory free/total  %llu / %llu bytes\n", static_cast<unsigned long long>(info.freeMemoryBytes),
              static_cast<unsigned long long>(info.totalMemoryBytes));
  std::printf("driver / runtime   %s / %s\n", netlens::formatCudaVersion(info.driverVersion).c_str(),
              netlens::formatCudaVersion(info.runtimeVersion).c_str());
  std::printf("gpuError           %s\n", info.gpuError.c_str());
  std::printf("cudnn              compiled=%d available=%d version=%s\n", info.cudnnCompiled, info.cudnnAvailable,
              info.cudnnVersion.c_str());
  std::printf("cudnnStatus        %s\n", info.cudnnStatus.c_str());
  std::printf("cudaExecutor       available=%d %s\n", info.cudaExecutorAvailable, info.cudaExecutorStatus.c_str());
  std::printf("cpu                %d threads, %s [%s]\n", info.cpuThreads, info.cpuModel.c_str(), info.cpuFeatures.c_str());
  std::printf("cpuBlas            %s\n", info.cpuBlas.c_str());

  check(!info.version.empty(), "version is set");
  check(info.cpuThreads > 0, "cpuThreads > 0");
  check(!info.cpuBlas.empty(), "cpuBlas names the CPU kernels");
  check(!info.cudnnStatus.empty(), "cudnnStatus explains the cuDNN state");
  check(!info.cudaExecutorStatus.empty(), "cudaExecutorStatus says where the CUDA executor runs, or what it lacks");
  if (info.cudaExecutorAvailable) {
    check(info.gpuPresent && info.cudnnAvailable, "the CUDA executor is only available with a GPU and cuDNN");
  } else if (!info.gpuPresent && info.cudaCompiled) {
    check(info.cudaExecutorStatus.find("no GPU") != std::string::npos || info.cudaExecutorStatus.find("not compiled in") != std::string::npos,
          "without a GPU the CUDA executor status says so: " + info.cudaExecutorStatus);
  }
  if (info.gpuPresent) {
    check(info.cudaCompiled, "a GPU is only reported by a CUDA build");
    check(info.deviceCount > 0, "deviceCount > 0 with a GPU");
    check(!info.deviceName.empty(), "deviceName set with a GPU");
    check(!info.computeCapability.empty(), "computeCapability set with a GPU");
    check(info.totalMemoryBytes > 0, "totalMemoryBytes > 0 with a GPU");
    check(info.freeMemoryBytes <= info.totalMemoryBytes, "free <= total");
    check(info.driverVersion > 0, "driverVersion > 0 with a GPU");
    check(info.gpuError.empty(), "no gpuError with a GPU");
  } else {
    check(!info.gpuError.empty(), "gpuError says why there is no GPU");
    check(info.deviceName.empty(), "no deviceName without a GPU");
    check(info.freeMemoryBytes == 0, "no free memory without a GPU");
  }
  if (info.cudaCompiled) {
    check(info.runtimeVersion > 0, "runtimeVersion > 0 in a CUDA build");
  } else {
    check(info.runtimeVersion == 0 && info.driverVersion == 0, "no CUDA versions in a CPU-only build");
    check(!info.cudnnCompiled, "no cuDNN probe in a CPU-only build");
  }
  if (info.cudnnAvailable) {
    check(info.cudnnCompiled && !info.cudnnVersion.empty(), "a loaded cuDNN has a version");
  }

  const int expectGpu = expectation("NETLENS_EXPECT_GPU");
  if (expectGpu >= 0) check(info.gpuPresent == (expectGpu == 1), "gpuPresent matches NETLENS_EXPECT_GPU");
  const int expectCudnn = expectation("NETLENS_EXPECT_CUDNN");
  if (expectCudnn >= 0) check(info.cudnnAvailable == (expectCudnn == 1), "cudnnAvailable matches NETLENS_EXPECT_CUDNN");
  if (expectGpu == 1 && expectCudnn == 1) check(info.cudaExecutorAvailable, "the CUDA executor can run where a GPU and cuDNN are expected: " + info.cudaExecutorStatus);

  if (failures > 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("engine_info_test: all checks passed\n");
  return 0;
}
