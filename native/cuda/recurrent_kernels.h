// The CUDA executor's LSTM/GRU kernels: one time step's fused gate update (forward) and gate
// gradients (backward), and the batch-first ⇄ time-major copy. The GEMMs around them (input
// projections, h·W_hhᵀ, weight gradients) are cuBLAS calls in cuda_executor.cpp. Each launcher
// enqueues on `stream` and returns the launch status; the math lives in recurrent_math.h (tested on
// the CPU by recurrent_math_test), the CPU kernels in native/cpu/recurrent.cpp are the reference.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "recurrent_math.h"

namespace netlens::cuda::kernels {

/** recurrent::forwardElement for every (b, j) of the step's [batch, hidden] state. */
cudaError_t recurrentForwardStep(cudaStream_t stream, const recurrent::ForwardStep& step);
/** recurrent::backwardElement for every (b, j). */
cudaError_t recurrentBackwardStep(cudaStream_t stream, const recurrent::BackwardStep& step);
/** dst[inner, outer, features] (+)= src[outer, inner, features] (dst must not overlap src). */
cudaError_t swapLeadingAxes(cudaStream_t stream, int64_t outer, int64_t inner, int64_t features, const float* src, float* dst,
                            bool accumulate);

}  // namespace netlens::cuda::kernels
