// The CUDA executor's element-wise and data-movement kernels: every activation of the CPU engine,
// PReLU, add/sub/mul/div with broadcasting, reductions (mean, sum, broadcast gradients, PReLU's
// weight gradient), strided copies (permute, broadcast gathers) and band copies (cat, narrow,
// select). NCHW fp32. The per-element math and the index maps are in pointwise_math.h, shared with
// a CPU test; these launchers only enqueue loops around it. Every `accumulate` adds into the
// destination instead of overwriting it (a value read by several nodes).
#pragma once

#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

#include "pointwise_math.h"

namespace netlens::cuda::kernels {

/** What the executor plans for one element-wise, shape or normalization node: its kernels' arguments. */
struct ElementwisePlan {
  // activations (pointwise_math.h's a, b)
  math::Pointwise pointwise = math::Pointwise::Relu;
  float a = 0.0f, b = 0.0f;
  // add/sub/mul/div: a tensor and a number (`scalarFirst`: the number is operand a, as in 1 - x), or two tensors
  math::Binary binary = math::Binary::Add;
  float alpha = 1.0f;
  bool scalarOperand = false, scalarFirst = false;
  float scalar = 0.0f;
  // binary forward; permute forward/backward; mean/sum backward (a broadcast gather)
  math::StridedMap forwardMap, backwardMap;
  // binary gradients (one per operand); mean/sum forward and PReLU's weight gradient use [0]
  math::ReduceMap reduceMaps[2];
  float scale = 1.0f;
  // softmax / log_softmax
  math::AxisSplit axis;
  bool logSoftmax = false;
  // layer norm: rows of `cols` normalized values
  int64_t rows = 1, cols = 1;
  float eps = 1e-5f;
  // cat (one band per input), narrow and select (one)
  std::vector<math::Band> bands;
  // PReLU over [batch, channels, inner]
  int64_t channels = 1, inner = 1, weights = 1;
};

/** y = f(x) for `count` values (a, b as math::pointwiseValue reads them). */
cudaError_t pointwiseForward(cudaStream_t stream, math::Pointwise kind, float a, float b, int64_t count, const float* x, float* y);
/** dx (+)= f'(x)·dy. */
cudaError_t pointwiseBackward(cudaStream_t stream, math::Pointwise kind, float a, float b, int64_t count, const float* x,
                              const float* dy, float* dx, bool accumulate);

/**
 * y[i] = op(a[first(i)], b[second(i)]) over map's index space (`count` values); a null operand reads
 * `scalar` instead (a tensor combined with a number).
 */
cudaError_t binaryForward(cudaStream_t stream, math::Binary op, float alpha, const math::StridedMap& map, int64_t count,
                          const float* a, const float* b, float scalar, float* y);

/**
 * target[j] (+)= scale · Σ_r reduceTerm(source[first], companion[second], self[j]) over map.count
 * positions, for map.targets targets. A null companion reads `scalar`; self may be null when the
 * term does not read it. Deterministic: each target is summed by one block (or one thread) in a fixed order.
 */
cudaError_t reduce(cudaStream_t stream, const math::ReduceMap& map, math::ReduceTerm term, math::Binary op, float alpha,
                   const float* source, const float* companion, float scalar, const float* self, float scale, float* target,
                   bool accumulate);

/** y[i] (+)= scale · x[first(i)] over map's index space (`count` values): permutations and broadcast gathers. */
cudaError_t gather(cudaStream_t stream, const math::StridedMap& map, int64_t count, const float* x, float scale, float* y,
                   bool accumulate);

/** The band of every row moved from source to target (see math::Band). */
cudaError_t bandCopy(cudaStream_t stream, const math::Band& band, const float* source, float* target, bool accumulate);

/** PReLU over [batch, channels, inner] (`weights` 1 or channels). */
cudaError_t preluForward(cudaStream_t stream, int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x,
                         const float* w, float* y);
cudaError_t preluBackward(cudaStream_t stream, int64_t count, int64_t channels, int64_t inner, int64_t weights, const float* x,
                          const float* w, const float* dy, float* dx, bool accumulate);

}  // namespace netlens::cuda::kernels
