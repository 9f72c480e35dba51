// Element-wise and data-movement kernels; see cuda_kernels_pointwise.h. Loops around the math of
// pointwise_math.h; reductions sum in double (the CPU reference sums in double or serially in float,
// so either way the GPU's different order stays far inside the parity tolerance).
#include "cuda_kernels_pointwise.h"

#include <cstdint>

#include "cuda_launch.cuh"

namespace netlens::cuda::kernels {
namespace {

using math::Band;
using math::Binary;
using math::Pointwise;
using math::ReduceMap;
using math::ReduceTerm;
using math::StridedMap;

// A reduction with at least this many positions per target gets a block per target; fewer, a thread.
constexpr int64_t kBlockReduceMinimum = 64;

__device__ void store(float* target, int64_t at, float value, bool accumulate) { target[at] = accumulate ? target[at] + value : value; }

__global__ void pointwiseForwardKernel(Pointwise kind, float a, float b, int64_t count, const float* x, float* y) {
  NETLENS_GRID_STRIDE(i, count) { y[i] = math::pointwiseValue(kind, a, b, x[i]); }
}

__global__ void pointwiseBackwardKernel(Pointwise kind, float a, float b, int64_t count, const float* x, const float* dy, float* dx,
                                        bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) { store(dx, i, dy[i] * math::pointwiseDerivative(kind, a, b, x[i]), accumulate); }
}

__global__ void binaryForwardKernel(Binary op, float alpha, StridedMap map, int64_t count, const float* a, const float* b, float scalar,
                                    float* y) {
  NETLENS_GRID_STRIDE(i, count) {
    int64_t first = 0, second = 0;
    math::mapOffsets(map, i, &first, &second);
    y[i] = math::binaryValue(op, alpha, a ? a[first] : scalar, b ? b[second] : scalar);
  }
}

__device__ double termAt(const ReduceMap& map, ReduceTerm term, Binary op, float alpha, const float* source, const float* companion,
                         float scalar, float self, int64_t target, int64_t position) {
  int64_t first = 0, second = 0;
  math::reduceOffsets(map, target, position, &first, &second);
  return math::reduceTerm(term, op, alpha, source[first], companion ? companion[second] : scalar, self);
}

// One thread per target (few positions each).
__global__ void reduceThreadKernel(ReduceMap map, ReduceTerm term, Binary op, float alpha, const float* source, const float* companion,
                                   float scalar, const float* self, float scale, float* target, bool accumulate) {
  NETLENS_GRID_STRIDE(j, map.targets) {
    const float own = self ? self[j] : 0.0f;
    double sum = 0.0;
    for (int64_t r = 0; r < map.count; ++r) sum += termAt(map, term, op, alpha, source, companion, scalar, own, j, r);
    store(target, j, static_cast<float>(sum * scale), accumulate);
  }
}

// One block per target (many positions each): strided partial sums, then a shared-memory tree.
__global__ void reduceBlockKernel(ReduceMap map, ReduceTerm term, Binary op, float alpha, const float* source, const float* companion,
                                  float scalar, const float* self, float scale, float* target, bool accumulate) {
  __shared__ double partial[kThreads];
  for (int64_t j = blockIdx.x; j < map.targets; j += gridDim.x) {
    const float own = self ? self[j] : 0.0f;
    double sum = 0.0;
    for (int64_t r = threadIdx.x; r < map.count; r += blockDim.x) sum += termAt(map, term, op, alpha, source, companion, scalar, own, j, r);
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) store(target, j, static_cast<float>(partial[0] * scale), accumulate);
    __syncthreads();  // partial is reused by the next target
  }
}

__global__ void gatherKernel(StridedMap map, int64_t count, const float* x, float scale, float* y, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) {
    int64_t first = 0, second = 0;
    math::mapOffsets(map, i, &first, &second);
    store(y, i, scale * x[first], accumulate);
  }
}

__global__ void bandCopyKernel(Band band, const float* source, float* target, bool accumulate) {
  NETLENS_GRID_STRIDE(i, band.outer * band.piece) {
    int64_t from = 0, to = 0;
    math::bandOffsets(band, i, &from, &to);
    store(target, to, source[from], accumulate);
  }
}

__global__ void preluForwardKernel(int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x, const float* w,
                                   float* y) {
  NETLENS_GRID_STRIDE(i, count) { y[i] = math::preluValue(x[i], w[math::preluWeightIndex(i, channels, inner, weights)]); }
}

__global__ void preluBackwardKernel(int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x, const float* w,
                                    const float* dy, float* dx, bool accumulate) {
  NETLENS_GRID_STRIDE(i, count) {
    store(dx, i, math::preluInputGradient(x[i], w[math::preluWeightIndex(i, channels, inner, weights)], dy[i]), accumulate);
  }
}

}  // namespace

cudaError_t pointwiseForward(cudaStream_t stream, Pointwise kind, float a, float b, int64_t count, const float* x, float* y) {
  pointwiseForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(kind, a, b, count, x, y);
  return cudaGetLastError();
}

cudaError_t pointwiseBackward(cudaStream_t stream, Pointwise kind, float a, float b, int64_t count, const float* x, const float* dy,
                              float* dx, bool accumulate) {
  pointwiseBackwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(kind, a, b, count, x, dy, dx, accumulate);
  return cudaGetLastError();
}

cudaError_t binaryForward(cudaStream_t stream, Binary op, float alpha, const StridedMap& map, int64_t count, const float* a, const float* b,
                          float scalar, float* y) {
  binaryForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(op, alpha, map, count, a, b, scalar, y);
  return cudaGetLastError();
}

cudaError_t reduce(cudaStream_t stream, const ReduceMap& map, ReduceTerm term, Binary op, float alpha, const float* source,
                   const float* companion, float scalar, const float* self, float scale, float* target, bool accumulate) {
  if (map.count >= kBlockReduceMinimum) {
    const int64_t blocks = map.targets < 65535 * 8 ? map.targets : 65535 * 8;
    reduceBlockKernel<<<static_cast<unsigned>(blocks < 1 ? 1 : blocks), kThreads, 0, stream>>>(map, term, op, alpha, source, companion,
                                                                                                scalar, self, scale, target, accumulate);
  } else {
    reduceThreadKernel<<<blocksFor(map.targets), kThreads, 0, stream>>>(map, term, op, alpha, source, companion, scalar, self, scale,
                                                                         target, accumulate);
  }
  return cudaGetLastError();
}

cudaError_t gather(cudaStream_t stream, const StridedMap& map, int64_t count, const float* x, float scale, float* y, bool accumulate) {
  gatherKernel<<<blocksFor(count), kThreads, 0, stream>>>(map, count, x, scale, y, accumulate);
  return cudaGetLastError();
}

cudaError_t bandCopy(cudaStream_t stream, const Band& band, const float* source, float* target, bool accumulate) {
  bandCopyKernel<<<blocksFor(band.outer * band.piece), kThreads, 0, stream>>>(band, source, target, accumulate);
  return cudaGetLastError();
}

cudaError_t preluForward(cudaStream_t stream, int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x,
                         const float* w, float* y) {
  preluForwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, channels, inner, weights, x, w, y);
  return cudaGetLastError();
}

cudaError_t preluBackward(cudaStream_t stream, int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x,
                          const float* w, const float* dy, float* dx, bool accumulate) {
  preluBackwardKernel<<<blocksFor(count), kThreads, 0, stream>>>(count, channels, inner, weights, x, w, dy, dx, accumulate);
  return cudaGetLastError();
}

}  // namespace netlens::cuda::kernels
