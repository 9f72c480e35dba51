// Softmax / log-softmax along one dimension and layer norm over the trailing values of each row, for
// the CUDA executor. NCHW fp32. One warp per line or row (shuffle reductions), statistics summed in
// double like the CPU reference (native/cpu/tensor_ops.cpp, norm.cpp); the per-element formulas are
// in pointwise_math.h. `accumulate` adds into the destination instead of overwriting it.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace netlens::cuda::kernels {

/** Softmax (or log-softmax) of a tensor seen as [outer, extent, inner], along `extent`. */
cudaError_t softmaxForward(cudaStream_t stream, bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y);
/** dx (+)= the gradient from the forward output y. */
cudaError_t softmaxBackward(cudaStream_t stream, bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* y,
                            const float* dy, float* dx, bool accumulate);

/**
 * Layer norm of `rows` rows of `cols` values; gamma/beta may be null (no affine, or no bias).
 * mean and invStd (rows each) receive the statistics, 1/sqrt(biased variance + eps), for the backward.
 */
cudaError_t layerNormForward(cudaStream_t stream, int64_t rows, int64_t cols, float eps, const float* x, const float* gamma,
                             const float* beta, float* mean, float* invStd, float* y);
/** dx (+)= input gradient (null: none wanted). */
cudaError_t layerNormInputBackward(cudaStream_t stream, int64_t rows, int64_t cols, const float* x, const float* gamma, const float* mean,
                                   const float* invStd, const float* dy, float* dx, bool accumulate);
/** dgamma, dbeta (+)= their column sums over rows; either may be null. */
cudaError_t layerNormParamBackward(cudaStream_t stream, int64_t rows, int64_t cols, const float* x, const float* mean, const float* invStd,
                                   const float* dy, float* dgamma, float* dbeta, bool accumulate);

}  // namespace netlens::cuda::kernels
