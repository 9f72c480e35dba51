// Kernels for sampling and indexing ops; see cuda_kernels_sampling.h. Thin loops around the math of
// sampling_math.h: one thread per output element for gathers, per input element for gradients that
// can be gathered, atomics only where windows overlap (adaptive max pooling's backward).
#include "cuda_kernels_sampling.h"

#include "cuda_launch.cuh"

namespace netlens::cuda::kernels {
namespace {

__global__ void resizeForwardKernel(int64_t planes, sampling::ResizeAxis rows, sampling::ResizeAxis cols, const float* x, float* y) {
  NETLENS_GRID_STRIDE(i, planes * rows.out * cols.out) { y[i] = sampling::resizedValue(rows, cols, x, i); }
}

__global__ void resizeBackwardKernel(int64_t planes, sampling::ResizeAxis rows, sampling::ResizeAxis cols, const float* dy, float* dx,
                                     bool accumulate) {
  NETLENS_GRID_STRIDE(i, planes * rows.in * cols.in) {
    const float g = sampling::resizeGradient(rows, cols, dy, i);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

__global__ void embeddingForwardKernel(int64_t tokens, int64_t count, int64_t dim, const float* ids, const float* table, float* y) {
  NETLENS_GRID_STRIDE(i, tokens * dim) { y[i] = sampling::embeddingValue(ids, table, count, dim, i); }
}

__global__ void embeddingBackwardKernel(int64_t tokens, int64_t count, int64_t dim, int64_t padding, const float* ids, const float* dy,
                                        float* dtable) {
  NETLENS_GRID_STRIDE(j, dim) { sampling::embeddingColumnGradient(ids, dy, tokens, count, dim, padding, j, dtable); }
}

__global__ void adaptiveMaxPoolForwardKernel(int64_t planes, int64_t inH, int64_t inW, int64_t outH, int64_t outW, const float* x,
                                             float* y, int32_t* indices) {
  NETLENS_GRID_STRIDE(i, planes * outH * outW) {
    int64_t index = 0;
    y[i] = sampling::adaptiveMaximum(x, inH, inW, outH, outW, i, &index);
    indices[i] = static_cast<int32_t>(index);
  }
}

__global__ void scatterAddByIndexKernel(int64_t planes, int64_t fromPlane, int64_t toPlane, const float* dy, const int32_t* indices,
                                        float* dx) {
  NETLENS_GRID_STRIDE(i, planes * fromPlane) { atomicAdd(dx + (i / fromPlane) * toPlane + indices[i], dy[i]); }
}

__global__ void maxUnpoolForwardKernel(int64_t planes, int64_t inPlane, int64_t outPlane, const float* x, const int32_t* indices,
                                       float* y) {
  NETLENS_GRID_STRIDE(i, planes * inPlane) {
    const int64_t target = sampling::unpoolTarget(i, inPlane, outPlane, indices[i]);
    if (target >= 0) y[target] = x[i];
  }
}

__global__ void maxUnpoolBackwardKernel(int64_t planes, int64_t inPlane, int64_t outPlane, const float* dy, const int32_t* indices,
                                        float* dx, bool accumulate) {
  NETLENS_GRID_STRIDE(i, planes * inPlane) {
    const int64_t source = sampling::unpoolTarget(i, inPlane, outPlane, indices[i]);
    const float g = source >= 0 ? dy[source] : 0.0f;
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

__global__ void lrnForwardKernel(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, float k,
                                 const float* x, float* y, float* scale) {
  NETLENS_GRID_STRIDE(i, batch * channels * inner) { y[i] = sampling::lrnValue(x, channels, inner, size, alpha, beta, k, i, scale + i); }
}

__global__ void lrnBackwardKernel(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, const float* x,
                                  const float* scale, const float* dy, float* dx, bool accumulate) {
  NETLENS_GRID_STRIDE(i, batch * channels * inner) {
    const float g = sampling::lrnGradient(x, scale, dy, channels, inner, size, alpha, beta, i);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

__global__ void matmulReduceOperandKernel(sampling::MatmulBatches g, int which, const float* partial, float* grad, bool accumulate) {
  const int64_t count = which == 0 ? g.aMatrices * g.m * g.k : g.bMatrices * g.k * g.n;
  NETLENS_GRID_STRIDE(i, count) {
    const float sum = sampling::matmulReducedGradient(g, which, partial, i);
    grad[i] = accumulate ? grad[i] + sum : sum;
  }
}

}  // namespace

cudaError_t resizeForward(cudaStream_t stream, int64_t planes, const sampling::ResizeAxis& rows, const sampling::ResizeAxis& cols,
                          const float* x, float* y) {
  const int64_t count = planes * rows.out * cols.out;
  resizeForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(planes, rows, cols, x, y);
  return cudaGetLastError();
}

cudaError_t resizeBackward(cudaStream_t stream, int64_t planes, const sampling::ResizeAxis& rows, const sampling::ResizeAxis& cols,
                           const float* dy, float* dx, bool accumulate) {
  const int64_t count = planes * rows.in * cols.in;
  resizeBackwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(planes, rows, cols, dy, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t embeddingForward(cudaStream_t stream, int64_t tokens, int64_t count, int64_t dim, const float* ids, const float* table,
                             float* y) {
  embeddingForwardKernel<<<blocksFor(tokens * dim), kThreads, 0, stream>>>(tokens, count, dim, ids, table, y);
  return cudaGetLastError();
}

cudaError_t embeddingBackward(cudaStream_t stream, int64_t tokens, int64_t count, int64_t dim, int64_t padding, const float* ids,
                              const float* dy, float* dtable) {
  embeddingBackwardKernel<<<blocksFor(dim), kThreads, 0, stream>>>(tokens, count, dim, padding, ids, dy, dtable);
  return cudaGetLastError();
}

cudaError_t adaptiveMaxPoolForward(cudaStream_t stream, int64_t planes, int64_t inH, int64_t inW, int64_t outH, int64_t outW,
                                   const float* x, float* y, int32_t* indices) {
  adaptiveMaxPoolForwardKernel<<<blocksFor(planes * outH * outW), kThreads, 0, stream>>>(planes, inH, inW, outH, outW, x, y, indices);
  return cudaGetLastError();
}

cudaError_t scatterAddByIndex(cudaStream_t stream, int64_t planes, int64_t fromPlane, int64_t toPlane, const float* dy,
                              const int32_t* indices, float* dx) {
  scatterAddByIndexKernel<<<blocksFor(planes * fromPlane), kThreads, 0, stream>>>(planes, fromPlane, toPlane, dy, indices, dx);
  return cudaGetLastError();
}

cudaError_t maxUnpoolForward(cudaStream_t stream, int64_t planes, int64_t inPlane, int64_t outPlane, const float* x,
                             const int32_t* indices, float* y) {
  const cudaError_t cleared = cudaMemsetAsync(y, 0, sizeof(float) * planes * outPlane, stream);
  if (cleared != cudaSuccess) return cleared;
  maxUnpoolForwardKernel<<<blocksFor(planes * inPlane), kThreads, 0, stream>>>(planes, inPlane, outPlane, x, indices, y);
  return cudaGetLastError();
}

cudaError_t maxUnpoolBackward(cudaStream_t stream, int64_t planes, int64_t inPlane, int64_t outPlane, const float* dy,
                              const int32_t* indices, float* dx, bool accumulate) {
  maxUnpoolBackwardKernel<<<blocksFor(planes * inPlane), kThreads, 0, stream>>>(planes, inPlane, outPlane, dy, indices, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t lrnForward(cudaStream_t stream, int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta,
                       float k, const float* x, float* y, float* scale) {
  lrnForwardKernel<<<blocksFor(batch * channels * inner), kThreads, 0, stream>>>(batch, channels, inner, size, alpha, beta, k, x, y,
                                                                                 scale);
  return cudaGetLastError();
}

cudaError_t lrnBackward(cudaStream_t stream, int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta,
                        const float* x, const float* scale, const float* dy, float* dx, bool accumulate) {
  lrnBackwardKernel<<<blocksFor(batch * channels * inner), kThreads, 0, stream>>>(batch, channels, inner, size, alpha, beta, x, scale,
                                                                                  dy, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t matmulReduceOperand(cudaStream_t stream, const sampling::MatmulBatches& g, int which, const float* partial, float* grad,
                                bool accumulate) {
  const int64_t count = which == 0 ? g.aMatrices * g.m * g.k : g.bMatrices * g.k * g.n;
  matmulReduceOperandKernel<<<blocksFor(count), kThreads, 0, stream>>>(g, which, partial, grad, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
