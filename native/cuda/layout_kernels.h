// The layout-change kernel of channels-last mode (CudaOptions::channelsLast): NCHW ⇄ NHWC copies of
// activations and their gradients where a layout-aware op meets one that reads NCHW. Index math in
// layout_math.h (checked on the host by layout_math_test).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace netlens::cuda::kernels {

/**
 * dst (+)= src in the other layout: toNhwc reads an NCHW [N, channels, spatial] buffer and writes it
 * NHWC; otherwise the reverse. `accumulate` adds into dst (a gradient several readers write).
 */
cudaError_t changeLayout(cudaStream_t stream, bool toNhwc, int64_t count, int64_t channels, int64_t spatial, const float* src, float* dst,
                         bool accumulate);

}  // namespace netlens::cuda::kernels
