// Softmax and layer norm kernels; see cuda_kernels_norm.h.
#include "cuda_kernels_norm.h"

#include <math.h>

#include <cstdint>

#include "cuda_launch.cuh"
#include "pointwise_math.h"

namespace netlens::cuda::kernels {
namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// Enough blocks for one warp per line, capped (the kernels loop over the rest).
unsigned warpBlocksFor(int64_t lines) {
  const int64_t perBlock = kThreads / kWarp;
  const int64_t blocks = (lines + perBlock - 1) / perBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

template <typename T>
__device__ T warpSum(T value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullMask, value, offset);
  return value;
}

__device__ float warpMax(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
  return value;
}

__device__ void store(float* target, int64_t at, float value, bool accumulate) { target[at] = accumulate ? target[at] + value : value; }

#define NETLENS_WARP_LOOP(line, lines)                                                       \
  const int lane = static_cast<int>(threadIdx.x % kWarp);                                    \
  const int64_t firstWarp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / kWarp; \
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp;                 \
  for (int64_t line = firstWarp; line < (lines); line += warps)

__global__ void softmaxForwardKernel(bool logSoftmax, int64_t lines, int64_t extent, int64_t inner, const float* x, float* y) {
  NETLENS_WARP_LOOP(line, lines) {
    const int64_t base = math::axisLineBase(line, extent, inner);
    float peak = -INFINITY;
    for (int64_t i = lane; i < extent; i += kWarp) peak = fmaxf(peak, x[base + i * inner]);
    peak = warpMax(peak);
    double sum = 0.0;
    for (int64_t i = lane; i < extent; i += kWarp) sum += exp(static_cast<double>(x[base + i * inner] - peak));
    sum = warpSum(sum);
    if (logSoftmax) {
      const float logSum = static_cast<float>(log(sum));
      for (int64_t i = lane; i < extent; i += kWarp) y[base + i * inner] = x[base + i * inner] - peak - logSum;
    } else {
      const double inverse = 1.0 / sum;
      for (int64_t i = lane; i < extent; i += kWarp) {
        y[base + i * inner] = static_cast<float>(exp(static_cast<double>(x[base + i * inner] - peak)) * inverse);
      }
    }
  }
}

__global__ void softmaxBackwardKernel(bool logSoftmax, int64_t lines, int64_t extent, int64_t inner, const float* y, const float* dy,
                                      float* dx, bool accumulate) {
  NETLENS_WARP_LOOP(line, lines) {
    const int64_t base = math::axisLineBase(line, extent, inner);
    double dot = 0.0;
    for (int64_t i = lane; i < extent; i += kWarp) {
      const int64_t at = base + i * inner;
      dot += logSoftmax ? static_cast<double>(dy[at]) : static_cast<double>(dy[at]) * y[at];
    }
    const float total = static_cast<float>(warpSum(dot));
    for (int64_t i = lane; i < extent; i += kWarp) {
      const int64_t at = base + i * inner;
      store(dx, at, math::softmaxInputGradient(logSoftmax, y[at], dy[at], total), accumulate);
    }
  }
}

__global__ void layerNormForwardKernel(int64_t rows, int64_t cols, float eps, const float* x, const float* gamma, const float* beta,
                                       float* mean, float* invStd, float* y) {
  NETLENS_WARP_LOOP(r, rows) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    double sum = 0.0;
    for (int64_t i = lane; i < cols; i += kWarp) sum += in[i];
    const double m = warpSum(sum) / static_cast<double>(cols);
    double squares = 0.0;
    for (int64_t i = lane; i < cols; i += kWarp) squares += (in[i] - m) * (in[i] - m);
    const double s = math::layerNormInvStd(warpSum(squares), static_cast<double>(cols), eps);
    if (lane == 0) {
      mean[r] = static_cast<float>(m);
      invStd[r] = static_cast<float>(s);
    }
    for (int64_t i = lane; i < cols; i += kWarp) {
      out[i] = math::layerNormValue(in[i], m, s, gamma ? gamma[i] : 1.0f, beta ? beta[i] : 0.0f);
    }
  }
}

__global__ void layerNormInputBackwardKernel(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* mean,
                                             const float* invStd, const float* dy, float* dx, bool accumulate) {
  NETLENS_WARP_LOOP(r, rows) {
    const float* in = x + r * cols;
    const float* grad = dy + r * cols;
    const double m = mean[r], s = invStd[r];
    double sumG = 0.0, sumGXhat = 0.0;
    for (int64_t i = lane; i < cols; i += kWarp) {
      const double g = static_cast<double>(grad[i]) * (gamma ? gamma[i] : 1.0f);
      sumG += g;
      sumGXhat += g * (in[i] - m) * s;
    }
    sumG = warpSum(sumG);
    sumGXhat = warpSum(sumGXhat);
    for (int64_t i = lane; i < cols; i += kWarp) {
      const double g = static_cast<double>(grad[i]) * (gamma ? gamma[i] : 1.0f);
      store(dx, r * cols + i, math::layerNormInputGradient(g, (in[i] - m) * s, sumG, sumGXhat, static_cast<double>(cols), s), accumulate);
    }
  }
}

// Column sums: a block covers 32 columns; its 8 rows of threads stride over the rows, then add up.
constexpr int kColumns = 32, kRowThreads = kThreads / kColumns;

__global__ void layerNormParamBackwardKernel(int64_t rows, int64_t cols, const float* x, const float* mean, const float* invStd,
                                             const float* dy, float* dgamma, float* dbeta, bool accumulate) {
  __shared__ double gammaPartial[kRowThreads][kColumns];
  __shared__ double betaPartial[kRowThreads][kColumns];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kColumns) + threadIdx.x;
  double gammaSum = 0.0, betaSum = 0.0;
  if (c < cols) {
    for (int64_t r = threadIdx.y; r < rows; r += kRowThreads) {
      const float grad = dy[r * cols + c];
      gammaSum += static_cast<double>(grad) * (x[r * cols + c] - mean[r]) * invStd[r];
      betaSum += grad;
    }
  }
  gammaPartial[threadIdx.y][threadIdx.x] = gammaSum;
  betaPartial[threadIdx.y][threadIdx.x] = betaSum;
  __syncthreads();
  if (threadIdx.y != 0 || c >= cols) return;
  for (int k = 1; k < kRowThreads; ++k) {
    gammaSum += gammaPartial[k][threadIdx.x];
    betaSum += betaPartial[k][threadIdx.x];
  }
  if (dgamma) store(dgamma, c, static_cast<float>(gammaSum), accumulate);
  if (dbeta) store(dbeta, c, static_cast<float>(betaSum), accumulate);
}

}  // namespace

cudaError_t softmaxForward(cudaStream_t stream, bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y) {
  softmaxForwardKernel<<<warpBlocksFor(outer * inner), kThreads, 0, stream>>>(logSoftmax, outer * inner, extent, inner, x, y);
  return cudaGetLastError();
}

cudaError_t softmaxBackward(cudaStream_t stream, bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* y,
                            const float* dy, float* dx, bool accumulate) {
  softmaxBackwardKernel<<<warpBlocksFor(outer * inner), kThreads, 0, stream>>>(logSoftmax, outer * inner, extent, inner, y, dy, dx,
                                                                               accumulate);
  return cudaGetLastError();
}

cudaError_t layerNormForward(cudaStream_t stream, int64_t rows, int64_t cols, float eps, const float* x, const float* gamma,
                             const float* beta, float* mean, float* invStd, float* y) {
  layerNormForwardKernel<<<warpBlocksFor(rows), kThreads, 0, stream>>>(rows, cols, eps, x, gamma, beta, mean, invStd, y);
  return cudaGetLastError();
}

cudaError_t layerNormInputBackward(cudaStream_t stream, int64_t rows, int64_t cols, const float* x, const float* gamma, const float* mean,
                                   const float* invStd, const float* dy, float* dx, bool accumulate) {
  layerNormInputBackwardKernel<<<warpBlocksFor(rows), kThreads, 0, stream>>>(rows, cols, x, gamma, mean, invStd, dy, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t layerNormParamBackward(cudaStream_t stream, int64_t rows, int64_t cols, const float* x, const float* mean, const float* invStd,
                                   const float* dy, float* dgamma, float* dbeta, bool accumulate) {
  const unsigned blocks = static_cast<unsigned>((cols + kColumns - 1) / kColumns);
  layerNormParamBackwardKernel<<<blocks < 1 ? 1 : blocks, dim3(kColumns, kRowThreads), 0, stream>>>(rows, cols, x, mean, invStd, dy,
                                                                                                    dgamma, dbeta, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
