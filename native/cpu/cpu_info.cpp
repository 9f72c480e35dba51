#include "cpu_info.h"

#include "conv_onednn.h"
#include "kernels.h"

#include <fstream>
#include <string>
#include <thread>

namespace netlens::cpu {
namespace {

std::string modelFromProcCpuinfo() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const auto start = line.find_first_not_of(' ', colon + 1);
        return start == std::string::npos ? std::string() : line.substr(start);
      }
    }
  }
  return {};
}

std::string simdFeatures() {
  std::string features;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const auto add = [&features](bool present, const char* name) {
    if (!present) return;
    if (!features.empty()) features += ' ';
    features += name;
  };
  add(__builtin_cpu_supports("sse4.2"), "sse4.2");
  add(__builtin_cpu_supports("avx"), "avx");
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
#elif defined(__aarch64__)
  features = "neon";
#endif
  return features;
}

}  // namespace

CpuReport queryCpu() {
  CpuReport report;
  report.threads = static_cast<int>(std::thread::hardware_concurrency());
  report.model = modelFromProcCpuinfo();
  report.features = simdFeatures();
  return report;
}

std::string cpuKernelsDescription() {
  const int threads = threadCount();
  const std::string threadText = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  // oneDNN runs single-threaded on each of our threads' slices of the batch, whatever its build's
  // threading runtime, so the thread count is ours for every kernel.
  if (onednn::usable()) return onednn::status() + " convolutions, " + gemmKernelName() + ", " + threadText;
  return gemmKernelName() + " + im2col convolutions, " + threadText + " (oneDNN: " + onednn::status() + ")";
}

}  // namespace netlens::cpu
