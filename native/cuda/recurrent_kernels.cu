// LSTM/GRU kernels; see recurrent_kernels.h. One thread per (b, j) of a step's state, looping over
// the math of recurrent_math.h; the step structs travel by value as kernel arguments, so a captured
// graph keeps each step's pointers.
#include "recurrent_kernels.h"

#include "cuda_launch.cuh"

namespace netlens::cuda::kernels {
namespace {

__global__ void forwardStepKernel(recurrent::ForwardStep step) {
  NETLENS_GRID_STRIDE(i, step.batch * step.hidden) { recurrent::forwardElement(step, i / step.hidden, i % step.hidden); }
}

__global__ void backwardStepKernel(recurrent::BackwardStep step) {
  NETLENS_GRID_STRIDE(i, step.batch * step.hidden) { recurrent::backwardElement(step, i / step.hidden, i % step.hidden); }
}

__global__ void swapLeadingAxesKernel(int64_t outer, int64_t inner, int64_t features, const float* src, float* dst, bool accumulate) {
  NETLENS_GRID_STRIDE(i, outer * inner * features) {
    const float value = src[recurrent::swapLeadingSource(i, outer, inner, features)];
    dst[i] = accumulate ? dst[i] + value : value;
  }
}

}  // namespace

cudaError_t recurrentForwardStep(cudaStream_t stream, const recurrent::ForwardStep& step) {
  forwardStepKernel<<<blocksFor(step.batch * step.hidden), kThreads, 0, stream>>>(step);
  return cudaGetLastError();
}

cudaError_t recurrentBackwardStep(cudaStream_t stream, const recurrent::BackwardStep& step) {
  backwardStepKernel<<<blocksFor(step.batch * step.hidden), kThreads, 0, stream>>>(step);
  return cudaGetLastError();
}

cudaError_t swapLeadingAxes(cudaStream_t stream, int64_t outer, int64_t inner, int64_t features, const float* src, float* dst,
                            bool accumulate) {
  swapLeadingAxesKernel<<<blocksFor(outer * inner * features), kThreads, 0, stream>>>(outer, inner, features, src, dst, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
