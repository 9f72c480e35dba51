// The CPU the reference backend runs on.
#pragma once

#include <string>

namespace netlens::cpu {

struct CpuReport {
  int threads = 0;
  std::string model;
  std::string features;
};

CpuReport queryCpu();

/**
 * Which libraries and kernels the CPU backend uses, for people: "oneDNN 2.6.3 (OpenMP build)
 * convolutions, built-in AVX2 GEMM, 2 threads", or "built-in AVX2 GEMM + im2col convolutions,
 * 2 threads (oneDNN: <why not>)". NETLENS_BLAS=builtin forces the built-in kernels.
 */
std::string cpuKernelsDescription();

/** "built-in AVX2 GEMM" or "built-in portable GEMM": the GEMM micro-kernel chosen for this CPU. */
std::string gemmKernelName();

}  // namespace netlens::cpu
