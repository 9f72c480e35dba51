// Netlens's own CUDA kernels; see cuda_kernels.h. Each mirrors the CPU reference in native/cpu
// (same window rules, same formulas, reductions in double where the CPU reduces in double).
#include "cuda_kernels.h"

#include <cmath>
#include <cstdint>

#include <cuda_bf16.h>

#include "cuda_launch.cuh"

namespace netlens::cuda::kernels {
namespace {

__device__ float sigmoidOf(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void activationForwardKernel(Activation kind, float parameter, int64_t count, const float* x, float* y) {
  NETLENS_GRID_STRIDE(i, count) {
    const float v = x[i];
    float r = 0.0f;
    switch (kind) {
      case Activation::Relu: r = v > 0.0f ? v : 0.0f; break;
      case Activation::Relu6: r = fminf(fmaxf(v, 0.0f), 6.0f); break;
      case Activation::LeakyRelu: r = v > 0.0f ? v : parameter * v; break;
      case Activation::Sigmoid: r = sigmoidOf(v); break;
      case Activation::Tanh: r = tanhf(v); break;
      case Activation::Silu: r = v * sigmoidOf(v); break;
      case Activation::Gelu: r = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
      case Activation::GeluTanh: {
        const float inner = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        r = 0.5f * v * (1.0f + tanhf(inner));
        break;
      }
    }
    y[i] = r;
  }
}

__global__ void activationBackwardKernel(Activation kind, float parameter, int64_t count, const float* x, const float* y,
                                         const float* dy, float* dx, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) {
    const float v = x[i];
    float d = 0.0f;
    switch (kind) {
      case Activation::Relu: d = v > 0.0f ? 1.0f : 0.0f; break;
      case Activation::Relu6: d = (v > 0.0f && v < 6.0f) ? 1.0f : 0.0f; break;
      case Activation::LeakyRelu: d = v > 0.0f ? 1.0f : parameter; break;
      case Activation::Sigmoid: d = y[i] * (1.0f - y[i]); break;
      case Activation::Tanh: d = 1.0f - y[i] * y[i]; break;
      case Activation::Silu: {
        const float s = sigmoidOf(v);
        d = s * (1.0f + v * (1.0f - s));
        break;
      }
      case Activation::Gelu:
        d = 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * expf(-0.5f * v * v) * 0.3989422804014327f;
        break;
      case Activation::GeluTanh: {
        const float t = tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v));
        d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * v * v);
        break;
      }
    }
    const float g = d * dy[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

__global__ void addBiasRowsKernel(int64_t rows, int64_t columns, const float* bias, float* y) {
  NETLENS_GRID_STRIDE(i, rows * columns) { y[i] += bias[i % columns]; }
}

// One thread per column; rows are summed in order, so the result is deterministic.
__global__ void sumRowsKernel(int64_t rows, int64_t columns, const float* dy, float* db, bool accumulate) {
  NETLENS_GRID_STRIDE(c, columns) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += dy[r * columns + c];
    db[c] = accumulate ? db[c] + static_cast<float>(sum) : static_cast<float>(sum);
  }
}

struct Operands {
  const float* values[8];
};

__global__ void addTensorsKernel(int64_t count, int inputs, Operands operands, float alpha, float* out) {
  NETLENS_GRID_STRIDE(i, count) {
    float sum = operands.values[0][i];
    if (inputs == 2) {
      sum += alpha * operands.values[1][i];
    } else {
      for (int k = 1; k < inputs; ++k) sum += operands.values[k][i];
    }
    out[i] = sum;
  }
}

__global__ void scaleCopyKernel(int64_t count, const float* src, float scale, float* dst, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) { dst[i] = accumulate ? dst[i] + scale * src[i] : scale * src[i]; }
}

// Pooling: one thread per output element, the window math in layout_math.h (both layouts). Backward
// scatters into dx with atomics because windows may overlap.
struct AtomicAdd {
  float* base;
  __device__ void operator()(int64_t offset, float value) const { atomicAdd(base + offset, value); }
};

__global__ void maxPoolForwardKernel(Pool g, const float* x, float* y, int32_t* indices) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { y[i] = maxPoolElement(g, x, i, indices + i); }
}

__global__ void maxPoolBackwardKernel(Pool g, const float* dy, const int32_t* indices, float* dx) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { atomicAdd(dx + maxPoolSource(g, i, indices[i]), dy[i]); }
}

__global__ void avgPoolForwardKernel(Pool g, bool countIncludePad, int divisorOverride, const float* x, float* y) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { y[i] = avgPoolElement(g, countIncludePad, divisorOverride, x, i); }
}

__global__ void avgPoolBackwardKernel(Pool g, bool countIncludePad, int divisorOverride, const float* dy, float* dx) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { avgPoolScatter(g, countIncludePad, divisorOverride, i, dy[i], AtomicAdd{dx}); }
}

__global__ void adaptiveAvgPoolForwardKernel(Pool g, const float* x, float* y) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { y[i] = adaptiveAvgPoolElement(g, x, i); }
}

__global__ void adaptiveAvgPoolBackwardKernel(Pool g, const float* dy, float* dx) {
  NETLENS_GRID_STRIDE(i, g.planes * g.outH * g.outW) { adaptiveAvgPoolScatter(g, i, dy[i], AtomicAdd{dx}); }
}

constexpr int kReduceThreads = 512;

// Block-wide sum of two doubles (every thread gets the totals).
__device__ void blockSum2(double& a, double& b) {
  __shared__ double sharedA[kReduceThreads / 32], sharedB[kReduceThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    a += __shfl_down_sync(0xffffffffu, a, offset);
    b += __shfl_down_sync(0xffffffffu, b, offset);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sharedA[warp] = a;
    sharedB[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < static_cast<int>(blockDim.x / 32) ? sharedA[lane] : 0.0;
    b = lane < static_cast<int>(blockDim.x / 32) ? sharedB[lane] : 0.0;
    for (int offset = 16; offset > 0; offset /= 2) {
      a += __shfl_down_sync(0xffffffffu, a, offset);
      b += __shfl_down_sync(0xffffffffu, b, offset);
    }
    if (lane == 0) {
      sharedA[0] = a;
      sharedB[0] = b;
    }
  }
  __syncthreads();
  a = sharedA[0];
  b = sharedB[0];
  __syncthreads();
}

// One block per channel: statistics (two passes, in double), running statistics, then normalization.
__global__ void batchNormForwardKernel(BatchNorm g, const float* x, const float* gamma, const float* beta, float* runningMean,
                                       float* runningVar, float* batchesTracked, float* mean, float* invStd, float* y) {
  const int64_t c = blockIdx.x;
  const int64_t count = g.batch * g.inner;
  const auto at = [&](int64_t k) { return batchNormOffset(g, c, k); };
  float m = 0.0f, s = 0.0f;
  if (g.training || !g.track) {
    double sum = 0.0, unused = 0.0;
    for (int64_t k = threadIdx.x; k < count; k += blockDim.x) sum += x[at(k)];
    blockSum2(sum, unused);
    const double batchMean = sum / static_cast<double>(count);
    double squares = 0.0;
    unused = 0.0;
    for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
      const double d = x[at(k)] - batchMean;
      squares += d * d;
    }
    blockSum2(squares, unused);
    const double variance = squares / static_cast<double>(count);
    m = static_cast<float>(batchMean);
    s = static_cast<float>(1.0 / sqrt(variance + static_cast<double>(g.eps)));
    if (threadIdx.x == 0 && g.training && g.track) {
      // num_batches_tracked is raised by a later launch, so every block sees this step's old count.
      const float factor = g.momentum < 0.0f ? 1.0f / (batchesTracked[0] + 1.0f) : g.momentum;
      const float unbiased = count > 1 ? static_cast<float>(squares / static_cast<double>(count - 1)) : 0.0f;
      runningMean[c] = runningStatistic(runningMean[c], m, factor);
      runningVar[c] = runningStatistic(runningVar[c], unbiased, factor);
    }
  } else {
    m = runningMean[c];
    s = 1.0f / sqrtf(runningVar[c] + g.eps);
  }
  if (threadIdx.x == 0) {
    mean[c] = m;
    invStd[c] = s;
  }
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t index = at(k);
    y[index] = batchNormOutput(x[index], m, s, gamma, beta, c);
  }
}

__global__ void batchNormBackwardKernel(BatchNorm g, const float* x, const float* gamma, const float* mean, const float* invStd,
                                        const float* dy, float* dx, bool accumulateDx, float* dgamma, float* dbeta,
                                        bool accumulateParams) {
  const int64_t c = blockIdx.x;
  const int64_t count = g.batch * g.inner;
  const auto at = [&](int64_t k) { return batchNormOffset(g, c, k); };
  const double m = mean[c], s = invStd[c];
  double sumDy = 0.0, sumDyXhat = 0.0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t index = at(k);
    sumDy += dy[index];
    sumDyXhat += dy[index] * ((x[index] - m) * s);
  }
  blockSum2(sumDy, sumDyXhat);
  if (threadIdx.x == 0) {
    if (dgamma) dgamma[c] = (accumulateParams ? dgamma[c] : 0.0f) + static_cast<float>(sumDyXhat);
    if (dbeta) dbeta[c] = (accumulateParams ? dbeta[c] : 0.0f) + static_cast<float>(sumDy);
  }
  if (dx == nullptr) return;
  const double gain = gamma ? gamma[c] : 1.0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t index = at(k);
    const float value = batchNormInputGradient(g.training || !g.track, x[index], dy[index], m, s, gain, sumDy, sumDyXhat, count);
    dx[index] = accumulateDx ? dx[index] + value : value;
  }
}

// Channels-last batch norm (two-stage reductions, layout_math.h's batchNormChunks): partial sums of a
// chunk of rows for 32 adjacent channels per block (a warp reads one row's 32 channels), then one
// thread per channel adds its chunks in order, then element-wise passes. Stages of the partial sums:
// 0 Σx, 1 Σ(x − mean)² around the double mean of stage 0, 2 Σdy and Σdy·x̂.
constexpr int kNhwcLanes = 8;

__global__ void batchNormNhwcPartialKernel(BatchNorm g, int stage, int64_t chunks, const float* x, const float* dy, const float* mean,
                                           const float* invStd, double* scratch) {
  __shared__ double sharedA[kNhwcLanes][32], sharedB[kNhwcLanes][32];
  const int64_t C = g.channels;
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  int64_t begin = 0, end = 0;
  batchNormChunkRows(g, chunks, chunk, &begin, &end);
  double a = 0.0, b = 0.0;
  if (c < C) {
    const double m = stage == 1 ? scratch[2 * chunks * C + c] : stage == 2 ? static_cast<double>(mean[c]) : 0.0;
    const double s = stage == 2 ? static_cast<double>(invStd[c]) : 0.0;
    for (int64_t r = begin + threadIdx.y; r < end; r += kNhwcLanes) {
      const int64_t at = batchNormOffset(g, c, r);
      if (stage == 0) {
        a += x[at];
      } else if (stage == 1) {
        const double d = x[at] - m;
        a += d * d;
      } else {
        a += dy[at];
        b += dy[at] * ((x[at] - m) * s);
      }
    }
  }
  sharedA[threadIdx.y][threadIdx.x] = a;
  sharedB[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  for (int lane = 1; lane < kNhwcLanes; ++lane) {
    a += sharedA[lane][threadIdx.x];
    b += sharedB[lane][threadIdx.x];
  }
  scratch[chunk * C + c] = a;
  scratch[(chunks + chunk) * C + c] = b;
}

// One thread per channel. Stage 0: the double mean into the totals. Stage 1: mean, 1/std and the
// running statistics. Stage 2: Σdy and Σdy·x̂ into the totals, and the parameter gradients.
// Stage 3 (eval with running statistics): mean and 1/std from them, no partial sums.
__global__ void batchNormNhwcFinishKernel(BatchNorm g, int stage, int64_t chunks, double* scratch, float* runningMean, float* runningVar,
                                          const float* batchesTracked, float* mean, float* invStd, float* dgamma, float* dbeta,
                                          bool accumulateParams) {
  const int64_t C = g.channels;
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  if (stage == 3) {
    mean[c] = runningMean[c];
    invStd[c] = 1.0f / sqrtf(runningVar[c] + g.eps);
    return;
  }
  double a = 0.0, b = 0.0;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    a += scratch[chunk * C + c];
    b += scratch[(chunks + chunk) * C + c];
  }
  double* totals = scratch + 2 * chunks * C;
  const int64_t count = g.batch * g.inner;
  if (stage == 0) {
    totals[c] = a / static_cast<double>(count);
  } else if (stage == 1) {
    const float m = static_cast<float>(totals[c]);
    const double variance = a / static_cast<double>(count);
    mean[c] = m;
    invStd[c] = static_cast<float>(1.0 / sqrt(variance + static_cast<double>(g.eps)));
    if (g.training && g.track) {
      // num_batches_tracked is raised by a later launch, as in the NCHW kernel.
      const float factor = g.momentum < 0.0f ? 1.0f / (batchesTracked[0] + 1.0f) : g.momentum;
      const float unbiased = count > 1 ? static_cast<float>(a / static_cast<double>(count - 1)) : 0.0f;
      runningMean[c] = runningStatistic(runningMean[c], m, factor);
      runningVar[c] = runningStatistic(runningVar[c], unbiased, factor);
    }
  } else {
    totals[c] = a;
    totals[C + c] = b;
    if (dgamma) dgamma[c] = (accumulateParams ? dgamma[c] : 0.0f) + static_cast<float>(b);
    if (dbeta) dbeta[c] = (accumulateParams ? dbeta[c] : 0.0f) + static_cast<float>(a);
  }
}

__global__ void batchNormNhwcOutputKernel(BatchNorm g, const float* x, const float* gamma, const float* beta, const float* mean,
                                          const float* invStd, float* y) {
  NETLENS_GRID_STRIDE(i, g.batch * g.inner * g.channels) {
    const int64_t c = channelOf(true, i, g.channels, g.inner);
    y[i] = batchNormOutput(x[i], mean[c], invStd[c], gamma, beta, c);
  }
}

__global__ void batchNormNhwcInputGradientKernel(BatchNorm g, const float* x, const float* gamma, const float* mean, const float* invStd,
                                                 const float* dy, const double* totals, float* dx, bool accumulate) {
  const int64_t count = g.batch * g.inner;
  NETLENS_GRID_STRIDE(i, count * g.channels) {
    const int64_t c = channelOf(true, i, g.channels, g.inner);
    const double gain = gamma ? gamma[c] : 1.0;
    const float value = batchNormInputGradient(g.training || !g.track, x[i], dy[i], mean[c], invStd[c], gain, totals[c],
                                               totals[g.channels + c], count);
    dx[i] = accumulate ? dx[i] + value : value;
  }
}

__global__ void dropoutForwardKernel(int64_t count, float p, uint64_t seed, const uint64_t* counter, const float* x, float* mask,
                                     float* y, int64_t channels, int64_t spatial) {
  const uint64_t step = *counter;
  NETLENS_GRID_STRIDE(i, count) {
    const float m = dropoutMask(seed, step, i, p, channels, spatial);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void multiplyMaskKernel(int64_t count, const float* dy, const float* mask, float* dx, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) { dx[i] = accumulate ? dx[i] + dy[i] * mask[i] : dy[i] * mask[i]; }
}

// One warp per row.
__global__ void softmaxCrossEntropyKernel(int64_t rows, int64_t classes, const float* logits, const float* labels,
                                          float smoothing, double* rowScratch, float* dlogits) {
  const int64_t row = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* in = logits + row * classes;
  const int64_t label = static_cast<int64_t>(labels[row]);
  float peak = -INFINITY;
  int64_t best = 0;
  for (int64_t c = lane; c < classes; c += 32) {
    if (in[c] > peak) {
      peak = in[c];
      best = c;
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float otherPeak = __shfl_down_sync(0xffffffffu, peak, offset);
    const int64_t otherBest = __shfl_down_sync(0xffffffffu, best, offset);
    if (otherPeak > peak || (otherPeak == peak && otherBest < best)) {
      peak = otherPeak;
      best = otherBest;
    }
  }
  peak = __shfl_sync(0xffffffffu, peak, 0);
  best = __shfl_sync(0xffffffffu, best, 0);
  double sumExp = 0.0, sumLogits = 0.0;
  for (int64_t c = lane; c < classes; c += 32) {
    sumExp += exp(static_cast<double>(in[c]) - peak);
    sumLogits += in[c];
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    sumExp += __shfl_down_sync(0xffffffffu, sumExp, offset);
    sumLogits += __shfl_down_sync(0xffffffffu, sumLogits, offset);
  }
  sumExp = __shfl_sync(0xffffffffu, sumExp, 0);
  sumLogits = __shfl_sync(0xffffffffu, sumLogits, 0);
  const double logSum = log(sumExp) + peak;
  const double smooth = smoothing;
  const bool valid = label >= 0 && label < classes;
  if (lane == 0) {
    const double sumNegLogP = static_cast<double>(classes) * logSum - sumLogits;
    rowScratch[row] = valid ? (1.0 - smooth) * (logSum - in[label]) + smooth / static_cast<double>(classes) * sumNegLogP : NAN;
    rowScratch[rows + row] = valid && best == label ? 1.0 : 0.0;
  }
  for (int64_t c = lane; c < classes; c += 32) {
    const double p = exp(static_cast<double>(in[c]) - logSum);
    const double target = (c == label ? 1.0 - smooth : 0.0) + smooth / static_cast<double>(classes);
    dlogits[row * classes + c] = static_cast<float>((p - target) / static_cast<double>(rows));
  }
}

// One block: the mean of rowScratch[0, rows) into *loss and the count of rowScratch[rows, 2·rows) into *correct.
__global__ void finishRowsKernel(int64_t rows, const double* rowScratch, float* loss, int32_t* correct) {
  double sum = 0.0, hits = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    sum += rowScratch[r];
    hits += rowScratch[rows + r];
  }
  blockSum2(sum, hits);
  if (threadIdx.x == 0) {
    *loss = static_cast<float>(sum / static_cast<double>(rows));
    if (correct) *correct = static_cast<int32_t>(hits);
  }
}

__global__ void squaredErrorKernel(int64_t count, const float* prediction, const float* target, double* partial, float* dprediction) {
  double sum = 0.0, unused = 0.0;
  NETLENS_GRID_STRIDE(i, count) {
    const double d = static_cast<double>(prediction[i]) - target[i];
    sum += d * d;
    dprediction[i] = static_cast<float>(2.0 * d / static_cast<double>(count));
  }
  blockSum2(sum, unused);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void finishPartialsKernel(int64_t partials, int64_t count, const double* partial, float* loss) {
  double sum = 0.0, unused = 0.0;
  for (int64_t k = threadIdx.x; k < partials; k += blockDim.x) sum += partial[k];
  blockSum2(sum, unused);
  if (threadIdx.x == 0) *loss = static_cast<float>(sum / static_cast<double>(count));
}

// One block per chunk; optimizerElement holds the formulas (the CPU Optimizer's, checked against it on
// the host by optimizer_math_test).
__global__ void optimizerKernel(OptimizerConfig config, const OptimizerChunk* chunks, const OptimizerStep* step, const float* loss) {
  if (!isfinite(*loss)) return;
  const OptimizerChunk chunk = chunks[blockIdx.x];
  const OptimizerStep s = *step;
  for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x) {
    chunk.value[i] = optimizerElement(config, s, chunk.value[i], chunk.gradient[i], chunk.first ? chunk.first + i : nullptr,
                                      chunk.second ? chunk.second + i : nullptr, chunk.third ? chunk.third + i : nullptr);
  }
}

// Four values a thread where every pointer is 16-byte aligned (the memory plan aligns every buffer to
// 256 bytes); the scalar kernels take the rest and any unaligned call.
__global__ void floatToBf16Kernel(int64_t count, const float* src, __nv_bfloat16* dst) {
  NETLENS_GRID_STRIDE(i, count) { dst[i] = __float2bfloat16_rn(src[i]); }
}

__global__ void floatToBf16Vector4Kernel(int64_t quads, const float4* src, __nv_bfloat162* dst) {
  NETLENS_GRID_STRIDE(i, quads) {
    const float4 v = src[i];
    dst[2 * i] = __floats2bfloat162_rn(v.x, v.y);
    dst[2 * i + 1] = __floats2bfloat162_rn(v.z, v.w);
  }
}

__global__ void bf16ToFloatKernel(int64_t count, const __nv_bfloat16* src, float* dst, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) {
    const float v = __bfloat162float(src[i]);
    dst[i] = accumulate ? dst[i] + v : v;
  }
}

__global__ void bf16ToFloatVector4Kernel(int64_t quads, const __nv_bfloat162* src, float4* dst, bool accumulate) {
  NETLENS_GRID_STRIDE(i, quads) {
    const float2 low = __bfloat1622float2(src[2 * i]);
    const float2 high = __bfloat1622float2(src[2 * i + 1]);
    float4 v = make_float4(low.x, low.y, high.x, high.y);
    if (accumulate) {
      const float4 old = dst[i];
      v.x += old.x;
      v.y += old.y;
      v.z += old.z;
      v.w += old.w;
    }
    dst[i] = v;
  }
}

__global__ void bf16ToFloatAddBiasKernel(int64_t count, const __nv_bfloat16* src, const float* bias, int64_t channels,
                                         int64_t inner, bool channelsLast, float* dst) {
  NETLENS_GRID_STRIDE(i, count) { dst[i] = __bfloat162float(src[i]) + bias[channelOf(channelsLast, i, channels, inner)]; }
}

bool aligned16(const void* a, const void* b) {
  return (reinterpret_cast<uintptr_t>(a) % 16 == 0) && (reinterpret_cast<uintptr_t>(b) % 16 == 0);
}

__global__ void incrementKernel(uint64_t* counter) { *counter += 1; }

__global__ void incrementFloatKernel(float* value) { *value += 1.0f; }

}  // namespace

cudaError_t activationForward(cudaStream_t stream, Activation kind, float parameter, int64_t count, const float* x, float* y) {
  activationForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(kind, parameter, count, x, y);
  return cudaGetLastError();
}

cudaError_t activationBackward(cudaStream_t stream, Activation kind, float parameter, int64_t count, const float* x,
                               const float* y, const float* dy, float* dx, bool accumulate) {
  activationBackwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(kind, parameter, count, x, y, dy, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t addBiasRows(cudaStream_t stream, int64_t rows, int64_t columns, const float* bias, float* y) {
  addBiasRowsKernel<<<blocksFor(rows * columns), kThreads, 0, stream>>>(rows, columns, bias, y);
  return cudaGetLastError();
}

cudaError_t sumRows(cudaStream_t stream, int64_t rows, int64_t columns, const float* dy, float* db, bool accumulate) {
  sumRowsKernel<<<blocksFor(columns), kThreads, 0, stream>>>(rows, columns, dy, db, accumulate);
  return cudaGetLastError();
}

cudaError_t addTensors(cudaStream_t stream, int64_t count, int inputs, const float* const* values, float alpha, float* out) {
  if (inputs < 1 || inputs > 8) return cudaErrorInvalidValue;
  Operands operands{};
  for (int k = 0; k < inputs; ++k) operands.values[k] = values[k];
  addTensorsKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, inputs, operands, alpha, out);
  return cudaGetLastError();
}

cudaError_t scaleCopy(cudaStream_t stream, int64_t count, const float* src, float scale, float* dst, bool accumulate) {
  scaleCopyKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, src, scale, dst, accumulate);
  return cudaGetLastError();
}

cudaError_t maxPoolForward(cudaStream_t stream, const Pool& g, const float* x, float* y, int32_t* indices) {
  maxPoolForwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, x, y, indices);
  return cudaGetLastError();
}

cudaError_t maxPoolBackward(cudaStream_t stream, const Pool& g, const float* dy, const int32_t* indices, float* dx) {
  maxPoolBackwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, dy, indices, dx);
  return cudaGetLastError();
}

cudaError_t avgPoolForward(cudaStream_t stream, const Pool& g, bool countIncludePad, int divisorOverride, const float* x, float* y) {
  avgPoolForwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, countIncludePad, divisorOverride, x, y);
  return cudaGetLastError();
}

cudaError_t avgPoolBackward(cudaStream_t stream, const Pool& g, bool countIncludePad, int divisorOverride, const float* dy, float* dx) {
  avgPoolBackwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, countIncludePad, divisorOverride, dy, dx);
  return cudaGetLastError();
}

cudaError_t adaptiveAvgPoolForward(cudaStream_t stream, const Pool& g, const float* x, float* y) {
  adaptiveAvgPoolForwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, x, y);
  return cudaGetLastError();
}

cudaError_t adaptiveAvgPoolBackward(cudaStream_t stream, const Pool& g, const float* dy, float* dx) {
  adaptiveAvgPoolBackwardKernel<<<blocksFor(g.planes * g.outH * g.outW), kThreads, 0, stream>>>(g, dy, dx);
  return cudaGetLastError();
}

cudaError_t batchNormForward(cudaStream_t stream, const BatchNorm& g, const float* x, const float* gamma, const float* beta,
                             float* runningMean, float* runningVar, float* batchesTracked, float* mean, float* invStd, float* y,
                             double* scratch) {
  if (g.channelsLast && scratch != nullptr) {
    const int64_t chunks = batchNormChunks(g);
    const dim3 partialGrid(static_cast<unsigned>((g.channels + 31) / 32), static_cast<unsigned>(chunks));
    const dim3 partialBlock(32, kNhwcLanes);
    const unsigned finishBlocks = static_cast<unsigned>((g.channels + kThreads - 1) / kThreads);
    if (g.training || !g.track) {
      for (int stage = 0; stage < 2; ++stage) {
        batchNormNhwcPartialKernel<<<partialGrid, partialBlock, 0, stream>>>(g, stage, chunks, x, nullptr, nullptr, nullptr, scratch);
        batchNormNhwcFinishKernel<<<finishBlocks, kThreads, 0, stream>>>(g, stage, chunks, scratch, runningMean, runningVar, batchesTracked,
                                                                          mean, invStd, nullptr, nullptr, false);
      }
    } else {
      batchNormNhwcFinishKernel<<<finishBlocks, kThreads, 0, stream>>>(g, 3, chunks, scratch, runningMean, runningVar, batchesTracked, mean,
                                                                        invStd, nullptr, nullptr, false);
    }
    batchNormNhwcOutputKernel<<<blocksFor(g.batch * g.inner * g.channels), kThreads, 0, stream>>>(g, x, gamma, beta, mean, invStd, y);
  } else {
    batchNormForwardKernel<<<static_cast<unsigned>(g.channels), kReduceThreads, 0, stream>>>(
        g, x, gamma, beta, runningMean, runningVar, batchesTracked, mean, invStd, y);
  }
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess || !(g.training && g.track)) return launched;
  incrementFloatKernel<<<1, 1, 0, stream>>>(batchesTracked);
  return cudaGetLastError();
}

cudaError_t batchNormBackward(cudaStream_t stream, const BatchNorm& g, const float* x, const float* gamma, const float* mean,
                              const float* invStd, const float* dy, float* dx, bool accumulateDx, float* dgamma, float* dbeta,
                              bool accumulateParams, double* scratch) {
  if (g.channelsLast && scratch != nullptr) {
    const int64_t chunks = batchNormChunks(g);
    batchNormNhwcPartialKernel<<<dim3(static_cast<unsigned>((g.channels + 31) / 32), static_cast<unsigned>(chunks)), dim3(32, kNhwcLanes), 0,
                                 stream>>>(g, 2, chunks, x, dy, mean, invStd, scratch);
    batchNormNhwcFinishKernel<<<static_cast<unsigned>((g.channels + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        g, 2, chunks, scratch, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma, dbeta, accumulateParams);
    if (dx != nullptr) {
      batchNormNhwcInputGradientKernel<<<blocksFor(g.batch * g.inner * g.channels), kThreads, 0, stream>>>(
          g, x, gamma, mean, invStd, dy, scratch + 2 * chunks * g.channels, dx, accumulateDx);
    }
    return cudaGetLastError();
  }
  batchNormBackwardKernel<<<static_cast<unsigned>(g.channels), kReduceThreads, 0, stream>>>(
      g, x, gamma, mean, invStd, dy, dx, accumulateDx, dgamma, dbeta, accumulateParams);
  return cudaGetLastError();
}

cudaError_t dropoutForward(cudaStream_t stream, int64_t count, float p, uint64_t seed, const uint64_t* counter, const float* x,
                           float* mask, float* y, int64_t channels, int64_t spatial) {
  if (channels > 0 && spatial < 1) return cudaErrorInvalidValue;
  dropoutForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, p, seed, counter, x, mask, y, channels, spatial);
  return cudaGetLastError();
}

cudaError_t multiplyMask(cudaStream_t stream, int64_t count, const float* dy, const float* mask, float* dx, bool accumulate) {
  multiplyMaskKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, dy, mask, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t softmaxCrossEntropy(cudaStream_t stream, int64_t rows, int64_t classes, const float* logits, const float* labels,
                                float smoothing, double* rowScratch, float* dlogits, float* loss, int32_t* correct) {
  const int64_t threads = rows * 32;
  softmaxCrossEntropyKernel<<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      rows, classes, logits, labels, smoothing, rowScratch, dlogits);
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return launched;
  finishRowsKernel<<<1, kReduceThreads, 0, stream>>>(rows, rowScratch, loss, correct);
  return cudaGetLastError();
}

cudaError_t meanSquaredError(cudaStream_t stream, int64_t count, const float* prediction, const float* target, double* partial,
                             float* dprediction, float* loss) {
  const int64_t wanted = (count + kReduceThreads - 1) / kReduceThreads;
  const unsigned blocks = static_cast<unsigned>(wanted < kLossPartials ? (wanted < 1 ? 1 : wanted) : kLossPartials);
  squaredErrorKernel<<<blocks, kReduceThreads, 0, stream>>>(count, prediction, target, partial, dprediction);
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return launched;
  finishPartialsKernel<<<1, kReduceThreads, 0, stream>>>(blocks, count, partial, loss);
  return cudaGetLastError();
}

cudaError_t optimizerUpdate(cudaStream_t stream, const OptimizerConfig& config, const OptimizerChunk* chunks, int chunkCount,
                            const OptimizerStep* step, const float* loss) {
  if (chunkCount == 0) return cudaSuccess;
  optimizerKernel<<<static_cast<unsigned>(chunkCount), kThreads, 0, stream>>>(config, chunks, step, loss);
  return cudaGetLastError();
}

cudaError_t floatToBf16(cudaStream_t stream, int64_t count, const float* src, uint16_t* dst) {
  auto* out = reinterpret_cast<__nv_bfloat16*>(dst);
  int64_t done = 0;
  if (aligned16(src, dst) && count >= 4) {
    const int64_t quads = count / 4;
    floatToBf16Vector4Kernel<<<blocksFor(quads), kThreads, 0, stream>>>(quads, reinterpret_cast<const float4*>(src),
                                                                       reinterpret_cast<__nv_bfloat162*>(out));
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
    done = quads * 4;
  }
  if (done == count) return cudaSuccess;
  floatToBf16Kernel<<<blocksFor(count - done), kThreads, 0, stream>>>(count - done, src + done, out + done);
  return cudaGetLastError();
}

cudaError_t bf16ToFloat(cudaStream_t stream, int64_t count, const uint16_t* src, float* dst, bool accumulate) {
  const auto* in = reinterpret_cast<const __nv_bfloat16*>(src);
  int64_t done = 0;
  if (aligned16(src, dst) && count >= 4) {
    const int64_t quads = count / 4;
    bf16ToFloatVector4Kernel<<<blocksFor(quads), kThreads, 0, stream>>>(quads, reinterpret_cast<const __nv_bfloat162*>(in),
                                                                       reinterpret_cast<float4*>(dst), accumulate);
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
    done = quads * 4;
  }
  if (done == count) return cudaSuccess;
  bf16ToFloatKernel<<<blocksFor(count - done), kThreads, 0, stream>>>(count - done, in + done, dst + done, accumulate);
  return cudaGetLastError();
}

cudaError_t bf16ToFloatAddBias(cudaStream_t stream, int64_t count, const uint16_t* src, const float* bias, int64_t channels,
                               int64_t inner, float* dst, bool channelsLast) {
  if (channels < 1 || inner < 1) return cudaErrorInvalidValue;
  bf16ToFloatAddBiasKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, reinterpret_cast<const __nv_bfloat16*>(src), bias, channels,
                                                                      inner, channelsLast, dst);
  return cudaGetLastError();
}

cudaError_t incrementCounter(cudaStream_t stream, uint64_t* counter) {
  incrementKernel<<<1, 1, 0, stream>>>(counter);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
