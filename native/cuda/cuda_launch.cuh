// The launch shape every Netlens kernel file shares (nvcc only): 256 threads a block, enough blocks to
// cover `count` elements up to a cap (grid-stride loops take the rest).
#pragma once

#include <cstdint>

namespace netlens::cuda::kernels {

constexpr int kThreads = 256;

inline unsigned blocksFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace netlens::cuda::kernels

/** for (i = this thread's first element; i < count; i += every thread of the grid) */
#define NETLENS_GRID_STRIDE(i, count) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (count); i += static_cast<int64_t>(blockDim.x) * gridDim.x)
