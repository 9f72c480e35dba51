// See layout_kernels.h. One thread per destination element: writes are contiguous, reads gather
// through layoutSource (layout_math.h).
#include "layout_kernels.h"

#include "layout_math.h"

namespace netlens::cuda::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void changeLayoutKernel(bool toNhwc, int64_t count, int64_t channels, int64_t spatial, const float* src, float* dst,
                                   bool accumulate) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count; i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const float value = src[layoutSource(toNhwc, i, channels, spatial)];
    dst[i] = accumulate ? dst[i] + value : value;
  }
}

}  // namespace

cudaError_t changeLayout(cudaStream_t stream, bool toNhwc, int64_t count, int64_t channels, int64_t spatial, const float* src, float* dst,
                         bool accumulate) {
  if (channels < 1 || spatial < 1 || count % (channels * spatial) != 0) return cudaErrorInvalidValue;
  const int64_t wanted = (count + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(wanted < 1 ? 1 : (wanted > 65535 * 8 ? 65535 * 8 : wanted));
  changeLayoutKernel<<<blocks, kThreads, 0, stream>>>(toNhwc, count, channels, spatial, src, dst, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
