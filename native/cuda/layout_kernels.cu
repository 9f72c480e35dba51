// See layout_kernels.h. One thread per destination element: writes are contiguous, reads gather
// through layoutSource (layout_math.h).
#include "layout_kernels.h"

#include "cuda_launch.cuh"
#include "layout_math.h"

namespace netlens::cuda::kernels {
namespace {

__global__ void changeLayoutKernel(bool toNhwc, int64_t count, int64_t channels, int64_t spatial, const float* src, float* dst,
                                   bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) {
    const float value = src[layoutSource(toNhwc, i, channels, spatial)];
    dst[i] = accumulate ? dst[i] + value : value;
  }
}

}  // namespace

cudaError_t changeLayout(cudaStream_t stream, bool toNhwc, int64_t count, int64_t channels, int64_t spatial, const float* src, float* dst,
                         bool accumulate) {
  if (channels < 1 || spatial < 1 || count % (channels * spatial) != 0) return cudaErrorInvalidValue;
  changeLayoutKernel<<<blocksFor(count), kThreads, 0, stream>>>(toNhwc, count, channels, spatial, src, dst, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
