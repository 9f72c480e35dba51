// NETLENS_HD marks a function compiled for both the GPU (nvcc) and the host (any C++17 compiler), so
// a kernel's per-element math can be checked by a plain C++ test where no GPU exists (CI, dev boxes).
#pragma once

#if defined(__CUDACC__)
#define NETLENS_HD __host__ __device__ inline
#else
#define NETLENS_HD inline
#endif
