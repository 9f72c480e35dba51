// The CUDA executor's kernels for sampling and indexing ops: interpolate (nearest, bilinear),
// embedding, adaptive max pooling, max_unpool2d, local response norm, and the batch reduction of a
// broadcast matmul operand's gradient. NCHW fp32; each launcher enqueues on `stream` and returns the
// launch status. The index math and formulas live in sampling_math.h (tested on the CPU); the CPU
// kernels in native/cpu are the reference (cuda_parity_test).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "sampling_math.h"

namespace netlens::cuda::kernels {

/** planes × [rows.in, cols.in] → planes × [rows.out, cols.out]; every output element written. */
cudaError_t resizeForward(cudaStream_t stream, int64_t planes, const sampling::ResizeAxis& rows, const sampling::ResizeAxis& cols,
                          const float* x, float* y);
/** dx (+)= the exact gradient, gathered per input element over the outputs that read it (no atomics). */
cudaError_t resizeBackward(cudaStream_t stream, int64_t planes, const sampling::ResizeAxis& rows, const sampling::ResizeAxis& cols,
                           const float* dy, float* dx, bool accumulate);

/** y[i, :] = table[ids[i], :] for `tokens` ids; an id that is not a row of the table gives a NaN row. */
cudaError_t embeddingForward(cudaStream_t stream, int64_t tokens, int64_t count, int64_t dim, const float* ids, const float* table,
                             float* y);
/**
 * dtable[ids[i], :] += dy[i, :] for every token whose row is not `padding` (−1: none). One thread per
 * column walks the tokens in order, so the sums are deterministic (and in the CPU's order). dtable must
 * hold its starting value (zero it first unless accumulating).
 */
cudaError_t embeddingBackward(cudaStream_t stream, int64_t tokens, int64_t count, int64_t dim, int64_t padding, const float* ids,
                              const float* dy, float* dtable);

/** Adaptive max pooling; indices hold each maximum's flat position within its plane (int32). */
cudaError_t adaptiveMaxPoolForward(cudaStream_t stream, int64_t planes, int64_t inH, int64_t inW, int64_t outH, int64_t outW,
                                   const float* x, float* y, int32_t* indices);
/** dx[p, indices[p, i]] += dy[p, i] (atomic: windows may overlap); dx holds its starting value. */
cudaError_t scatterAddByIndex(cudaStream_t stream, int64_t planes, int64_t fromPlane, int64_t toPlane, const float* dy,
                              const int32_t* indices, float* dx);
/**
 * max_unpool2d: y is zeroed, then y[p, indices[p, i]] = x[p, i]; an index outside the output plane is
 * skipped (the executor refuses geometries that can produce one).
 */
cudaError_t maxUnpoolForward(cudaStream_t stream, int64_t planes, int64_t inPlane, int64_t outPlane, const float* x,
                             const int32_t* indices, float* y);
/** dx[p, i] (+)= dy[p, indices[p, i]]. */
cudaError_t maxUnpoolBackward(cudaStream_t stream, int64_t planes, int64_t inPlane, int64_t outPlane, const float* dy,
                              const int32_t* indices, float* dx, bool accumulate);

/** Local response norm across channels of [batch, channels, inner]; `scale` keeps s per element. */
cudaError_t lrnForward(cudaStream_t stream, int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta,
                       float k, const float* x, float* y, float* scale);
cudaError_t lrnBackward(cudaStream_t stream, int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta,
                        const float* x, const float* scale, const float* dy, float* dx, bool accumulate);

/**
 * The gradient of a broadcast matmul operand from per-batch products: grad[j] (+)= Σ_s
 * partial[reader(j, s)] over the batches that read matrix j, in batch order. `which` 0: A (matrices of
 * m·k), 1: B (k·n).
 */
cudaError_t matmulReduceOperand(cudaStream_t stream, const sampling::MatmulBatches& g, int which, const float* partial, float* grad,
                                bool accumulate);

}  // namespace netlens::cuda::kernels
