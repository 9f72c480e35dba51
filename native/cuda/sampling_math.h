// Index math and per-element formulas of the CUDA executor's sampling and indexing ops
// (conv_transpose2d sizes, interpolate, embedding, matmul broadcasting, adaptive max pooling,
// max_unpool2d, local response norm). Compiled into the kernels of cuda_kernels_sampling.cu and, with
// a plain C++ compiler, into native/tests/sampling_math_test.cpp, which checks every function here
// against the CPU reference kernels (native/cpu) and ops (native/core/ops.cpp) where no GPU exists.
// The rules follow the CPU reference exactly, including its float/double choices, so a kernel built
// on them differs from the CPU only in summation order.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace netlens::cuda::sampling {

// ---- conv_transpose2d --------------------------------------------------------------------------

/** PyTorch's ConvTranspose2d output extent along one axis. */
NETLENS_HD int64_t transposedConvExtent(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                        int64_t outputPadding) {
  return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + outputPadding + 1;
}

// ---- interpolate (nearest, bilinear) -------------------------------------------------------------

/** One axis of a resize: its extents and PyTorch's source step (area_pixel_compute_scale). */
struct ResizeAxis {
  int64_t in = 1, out = 1;
  double step = 1.0;
  bool bilinear = false, alignCorners = false;
};

/** `scale` > 0 is the user's scale_factor (PyTorch then steps by 1/scale), else in/out is used. */
NETLENS_HD ResizeAxis resizeAxis(int64_t in, int64_t out, bool bilinear, bool alignCorners, double scale) {
  ResizeAxis axis;
  axis.in = in;
  axis.out = out;
  axis.bilinear = bilinear;
  axis.alignCorners = alignCorners;
  if (alignCorners) {
    axis.step = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  } else {
    axis.step = scale > 0.0 ? 1.0 / scale : static_cast<double>(in) / static_cast<double>(out);
  }
  return axis;
}

/** Output index o reads input indices low and high, high with `weight` (low with 1 − weight). */
struct ResizeTap {
  int64_t low = 0, high = 0;
  float weight = 0.0f;
};

/** a·b rounded once, never fused into a following add (the CPU reference computes it that way). */
NETLENS_HD double productRounded(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
NETLENS_HD float productRounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

NETLENS_HD ResizeTap resizeTap(const ResizeAxis& axis, int64_t o) {
  ResizeTap tap;
  if (!axis.bilinear) {
    // Legacy "nearest": floor(o·step) in float (non-negative, so truncation), clamped to the input.
    int64_t source = static_cast<int64_t>(productRounded(static_cast<float>(o), static_cast<float>(axis.step)));
    if (source > axis.in - 1) source = axis.in - 1;
    tap.low = source;
    tap.high = source;
    return tap;
  }
  float source = axis.alignCorners ? static_cast<float>(productRounded(axis.step, static_cast<double>(o)))
                                   : static_cast<float>(productRounded(axis.step, static_cast<double>(o) + 0.5) - 0.5);
  if (source < 0.0f) source = 0.0f;
  int64_t low = static_cast<int64_t>(source);
  if (low > axis.in - 1) low = axis.in - 1;
  tap.low = low;
  tap.high = low + 1 < axis.in - 1 ? low + 1 : axis.in - 1;
  tap.weight = source - static_cast<float>(low);
  return tap;
}

/** How much of output o's value input index i receives along this axis (0 when o does not read i). */
NETLENS_HD float resizeShare(const ResizeTap& tap, int64_t i) {
  return (tap.low == i ? 1.0f - tap.weight : 0.0f) + (tap.high == i ? tap.weight : 0.0f);
}

/** The first output index whose low tap is at least `target` (axis.out when none): low taps never decrease. */
NETLENS_HD int64_t firstOutputFrom(const ResizeAxis& axis, int64_t target) {
  int64_t begin = 0, end = axis.out;
  while (begin < end) {
    const int64_t middle = begin + (end - begin) / 2;
    if (resizeTap(axis, middle).low < target) {
      begin = middle + 1;
    } else {
      end = middle;
    }
  }
  return begin;
}

/**
 * The outputs that read input index i: [*begin, *end). An output reading i has low tap i − 1 (then its
 * high tap is i) or i, and low taps never decrease, so they are contiguous. The backward gathers over
 * them instead of scattering, so it needs no atomics and is deterministic.
 */
NETLENS_HD void resizeReaders(const ResizeAxis& axis, int64_t i, int64_t* begin, int64_t* end) {
  *begin = firstOutputFrom(axis, i - 1);
  *end = firstOutputFrom(axis, i + 1);
}

/** The CPU reference's blend of the four taps (same grouping of the products). */
NETLENS_HD float bilinearBlend(float v00, float v01, float v10, float v11, float wh, float ww) {
  return (1.0f - wh) * ((1.0f - ww) * v00 + ww * v01) + wh * ((1.0f - ww) * v10 + ww * v11);
}

/** Output element i of planes × [rows.out, cols.out] resized from x (planes × [rows.in, cols.in]). */
NETLENS_HD float resizedValue(const ResizeAxis& rows, const ResizeAxis& cols, const float* x, int64_t i) {
  const int64_t outPlane = rows.out * cols.out;
  const ResizeTap r = resizeTap(rows, (i % outPlane) / cols.out);
  const ResizeTap c = resizeTap(cols, i % cols.out);
  const float* in = x + (i / outPlane) * rows.in * cols.in;
  const float* r0 = in + r.low * cols.in;
  const float* r1 = in + r.high * cols.in;
  return bilinearBlend(r0[c.low], r0[c.high], r1[c.low], r1[c.high], r.weight, c.weight);
}

/** The gradient of input element i (planes × [rows.in, cols.in]): the outputs that read it, gathered. */
NETLENS_HD float resizeGradient(const ResizeAxis& rows, const ResizeAxis& cols, const float* dy, int64_t i) {
  const int64_t inPlane = rows.in * cols.in;
  const int64_t ih = (i % inPlane) / cols.in, iw = i % cols.in;
  int64_t oh0 = 0, oh1 = 0, ow0 = 0, ow1 = 0;
  resizeReaders(rows, ih, &oh0, &oh1);
  resizeReaders(cols, iw, &ow0, &ow1);
  const float* from = dy + (i / inPlane) * rows.out * cols.out;
  float sum = 0.0f;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const float rowShare = resizeShare(resizeTap(rows, oh), ih);
    if (rowShare == 0.0f) continue;
    for (int64_t ow = ow0; ow < ow1; ++ow) sum += rowShare * resizeShare(resizeTap(cols, ow), iw) * from[oh * cols.out + ow];
  }
  return sum;
}

// ---- adaptive pooling windows --------------------------------------------------------------------

NETLENS_HD int64_t adaptiveStart(int64_t index, int64_t out, int64_t in) { return (index * in) / out; }
NETLENS_HD int64_t adaptiveEnd(int64_t index, int64_t out, int64_t in) { return ((index + 1) * in + out - 1) / out; }

/** Max-pool's comparison: a NaN wins (and stays), as in the CPU reference and PyTorch. */
NETLENS_HD bool replacesMaximum(float value, float best) { return value > best || value != value; }

/** Output element i of adaptive max pooling planes × [inH, inW] → × [outH, outW]; *index gets its flat position in the plane. */
NETLENS_HD float adaptiveMaximum(const float* x, int64_t inH, int64_t inW, int64_t outH, int64_t outW, int64_t i, int64_t* index) {
  const int64_t outPlane = outH * outW;
  const int64_t oh = (i % outPlane) / outW, ow = i % outW;
  const int64_t h0 = adaptiveStart(oh, outH, inH), h1 = adaptiveEnd(oh, outH, inH);
  const int64_t w0 = adaptiveStart(ow, outW, inW), w1 = adaptiveEnd(ow, outW, inW);
  const float* in = x + (i / outPlane) * inH * inW;
  int64_t best = h0 * inW + w0;
  float bestValue = -INFINITY;
  for (int64_t ih = h0; ih < h1; ++ih) {
    for (int64_t iw = w0; iw < w1; ++iw) {
      const float value = in[ih * inW + iw];
      if (replacesMaximum(value, bestValue)) {
        bestValue = value;
        best = ih * inW + iw;
      }
    }
  }
  *index = best;
  return bestValue;
}

/**
 * max_unpool2d: where value i of planes × inPlane lands in planes × outPlane, given its pooling index
 * (a flat position within its plane), or −1 for an index outside the output plane.
 */
NETLENS_HD int64_t unpoolTarget(int64_t i, int64_t inPlane, int64_t outPlane, int64_t index) {
  return index >= 0 && index < outPlane ? (i / inPlane) * outPlane + index : -1;
}

// ---- embedding -----------------------------------------------------------------------------------

/** The table row of a token id stored as a float, or −1 when it is not an integer in [0, count). */
NETLENS_HD int64_t embeddingRow(float id, int64_t count) {
  if (!(id >= 0.0f) || !(id < static_cast<float>(count))) return -1;
  const int64_t row = static_cast<int64_t>(id);
  return static_cast<float>(row) == id && row < count ? row : -1;
}

NETLENS_HD float quietNaN() {
#if defined(__CUDA_ARCH__)
  return __int_as_float(0x7fc00000);
#else
  return NAN;
#endif
}

/** Element i of the gathered rows (tokens × dim); a token that is not a row of the table reads NaN. */
NETLENS_HD float embeddingValue(const float* ids, const float* table, int64_t count, int64_t dim, int64_t i) {
  const int64_t row = embeddingRow(ids[i / dim], count);
  return row < 0 ? quietNaN() : table[row * dim + i % dim];
}

/** Column j of the table's gradient: every token's gradient added to its row, tokens in order, the padding row skipped. */
NETLENS_HD void embeddingColumnGradient(const float* ids, const float* dy, int64_t tokens, int64_t count, int64_t dim, int64_t padding,
                                        int64_t j, float* dtable) {
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t row = embeddingRow(ids[t], count);
    if (row < 0 || row == padding) continue;
    dtable[row * dim + j] += dy[t * dim + j];
  }
}

// ---- local response norm -------------------------------------------------------------------------

/** Channels summed for channel c's scale: PyTorch's window, size/2 before and (size − 1)/2 after. */
NETLENS_HD void lrnWindow(int64_t c, int64_t channels, int64_t size, int64_t* first, int64_t* last) {
  const int64_t before = size / 2, after = (size - 1) / 2;
  *first = c - before < 0 ? 0 : c - before;
  *last = c + after > channels - 1 ? channels - 1 : c + after;
}
/** Channels whose windows contain channel c (c − after … c + before). */
NETLENS_HD void lrnReaders(int64_t c, int64_t channels, int64_t size, int64_t* first, int64_t* last) {
  const int64_t before = size / 2, after = (size - 1) / 2;
  *first = c - after < 0 ? 0 : c - after;
  *last = c + before > channels - 1 ? channels - 1 : c + before;
}
/** s = k + α/size·Σx², from the window's sum of squares. */
NETLENS_HD float lrnScale(float sumOfSquares, int64_t size, float alpha, float k) {
  return k + alpha / static_cast<float>(size) * sumOfSquares;
}
NETLENS_HD float lrnOutput(float x, float scale, float beta) { return x * powf(scale, -beta); }
/** Reader j's term of the backward sum: dy_j·x_j·s_j^(−β−1). */
NETLENS_HD float lrnTerm(float dy, float x, float scale, float beta) { return dy * x * powf(scale, -beta - 1.0f); }
/** dx_i = dy_i·s_i^−β − 2β·α/size·x_i·Σ terms of its readers. */
NETLENS_HD float lrnInputGradient(float dy, float x, float scale, float termSum, int64_t size, float alpha, float beta) {
  return dy * powf(scale, -beta) - 2.0f * beta * (alpha / static_cast<float>(size)) * x * termSum;
}

/** Element i of [batch, channels, inner]: y_i, with its scale s_i written to *scale. */
NETLENS_HD float lrnValue(const float* x, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, float k, int64_t i,
                          float* scale) {
  const int64_t c = (i / inner) % channels;
  const float* column = x + (i - c * inner);  // channel 0 of element i's column
  int64_t first = 0, last = 0;
  lrnWindow(c, channels, size, &first, &last);
  float sum = 0.0f;
  for (int64_t j = first; j <= last; ++j) sum += column[j * inner] * column[j * inner];
  *scale = lrnScale(sum, size, alpha, k);
  return lrnOutput(x[i], *scale, beta);
}

/** The gradient of element i, from the forward's scales. */
NETLENS_HD float lrnGradient(const float* x, const float* scale, const float* dy, int64_t channels, int64_t inner, int64_t size,
                             float alpha, float beta, int64_t i) {
  const int64_t c = (i / inner) % channels;
  const int64_t base = i - c * inner;
  int64_t first = 0, last = 0;
  lrnReaders(c, channels, size, &first, &last);
  float sum = 0.0f;
  for (int64_t j = first; j <= last; ++j) {
    const int64_t at = base + j * inner;
    sum += lrnTerm(dy[at], x[at], scale[at], beta);
  }
  return lrnInputGradient(dy[i], x[i], scale[i], sum, size, alpha, beta);
}

// ---- matmul broadcasting -------------------------------------------------------------------------

constexpr int kMaxBatchRank = 8;

/**
 * torch.matmul of A [..., m, k] and B [..., k, n] (both of rank ≥ 2): the broadcast batch dimensions
 * (right-aligned, an extent of 1 repeats), and per operand its stride in matrices along each of
 * them (0 where it repeats). Output batch b (row-major over `extent`) reads A's matrix
 * aMatrix(b) and B's bMatrix(b), the CPU MatmulOp's aOffset/bOffset divided by m·k and k·n.
 */
struct MatmulBatches {
  int rank = 0;
  int64_t extent[kMaxBatchRank] = {};
  int64_t aStride[kMaxBatchRank] = {};
  int64_t bStride[kMaxBatchRank] = {};
  int64_t m = 1, k = 1, n = 1;
  int64_t batches = 1;
  int64_t aMatrices = 1, bMatrices = 1;  // how many matrices each operand holds
  bool valid = false;                    // false: ranks below 2, k mismatch, unbroadcastable or too many dims
};

/** Plans a matmul from the operands' shapes (extents as arrays). Host and device. */
NETLENS_HD MatmulBatches matmulBatches(const int64_t* a, int aRank, const int64_t* b, int bRank) {
  MatmulBatches g;
  if (aRank < 2 || bRank < 2) return g;
  g.m = a[aRank - 2];
  g.k = a[aRank - 1];
  g.n = b[bRank - 1];
  if (b[bRank - 2] != g.k) return g;
  const int aBatch = aRank - 2, bBatch = bRank - 2;
  g.rank = aBatch > bBatch ? aBatch : bBatch;
  if (g.rank > kMaxBatchRank) return g;
  int64_t aStep = 1, bStep = 1;
  for (int back = 0; back < g.rank; ++back) {
    const int d = g.rank - 1 - back;
    const int64_t ae = back < aBatch ? a[aBatch - 1 - back] : 1;
    const int64_t be = back < bBatch ? b[bBatch - 1 - back] : 1;
    if (ae != be && ae != 1 && be != 1) return g;
    g.extent[d] = ae > be ? ae : be;
    g.aStride[d] = ae == 1 ? 0 : aStep;
    g.bStride[d] = be == 1 ? 0 : bStep;
    aStep *= ae;
    bStep *= be;
  }
  g.aMatrices = aStep;
  g.bMatrices = bStep;
  g.batches = 1;
  for (int d = 0; d < g.rank; ++d) g.batches *= g.extent[d];
  g.valid = true;
  return g;
}

/** The operand matrices output batch `batch` reads. */
NETLENS_HD void matmulOperands(const MatmulBatches& g, int64_t batch, int64_t* aMatrix, int64_t* bMatrix) {
  int64_t a = 0, b = 0;
  for (int d = g.rank - 1; d >= 0; --d) {
    const int64_t coordinate = batch % g.extent[d];
    batch /= g.extent[d];
    a += coordinate * g.aStride[d];
    b += coordinate * g.bStride[d];
  }
  *aMatrix = a;
  *bMatrix = b;
}

/**
 * Output batches in runs of `length` over which both operands advance by a fixed number of matrices
 * (aStep, bStep; 0 for a repeated operand): one strided-batched GEMM per run. A run spans the longest
 * suffix of batch dimensions whose strides are each operand's step times the batches to their
 * right; the last dimension always qualifies, so a run holds at least its extent.
 */
struct MatmulRuns {
  int64_t length = 1, aStep = 0, bStep = 0;
};
NETLENS_HD MatmulRuns matmulRuns(const MatmulBatches& g) {
  MatmulRuns runs;
  bool aKnown = false, bKnown = false;
  for (int d = g.rank - 1; d >= 0; --d) {
    if (g.extent[d] == 1) continue;
    const int64_t right = runs.length;  // batches to the right of d within the run
    const bool aFits = aKnown ? g.aStride[d] == runs.aStep * right : g.aStride[d] % right == 0;
    const bool bFits = bKnown ? g.bStride[d] == runs.bStep * right : g.bStride[d] % right == 0;
    if (!aFits || !bFits) break;
    if (!aKnown) runs.aStep = g.aStride[d] / right;
    if (!bKnown) runs.bStep = g.bStride[d] / right;
    aKnown = bKnown = true;
    runs.length *= g.extent[d];
  }
  return runs;
}

/**
 * The gradient of a repeated operand: its matrix `matrix` receives the sum of the per-batch
 * products of every output batch that read it; there are batches / matrices of them. `which` 0 is A,
 * 1 is B. Returns the output batch of the s-th reader, in increasing batch order (the CPU's order).
 */
NETLENS_HD int64_t matmulReader(const MatmulBatches& g, int which, int64_t matrix, int64_t s) {
  const int64_t* stride = which == 0 ? g.aStride : g.bStride;
  int64_t batch = 0, scale = 1;
  for (int d = g.rank - 1; d >= 0; --d) {
    int64_t coordinate = 0;
    if (stride[d] != 0) {
      // The operand's own dimension: the coordinate comes from the matrix index.
      coordinate = (matrix / stride[d]) % g.extent[d];
    } else {
      coordinate = s % g.extent[d];
      s /= g.extent[d];
    }
    batch += coordinate * scale;
    scale *= g.extent[d];
  }
  return batch;
}

/**
 * Element i of a broadcast operand's gradient (`which` 0: A, 1: B) from the per-batch products in
 * `partial` (batches × the operand's matrix size): the sum over the batches that read its matrix.
 */
NETLENS_HD float matmulReducedGradient(const MatmulBatches& g, int which, const float* partial, int64_t i) {
  const int64_t matrices = which == 0 ? g.aMatrices : g.bMatrices;
  const int64_t elements = which == 0 ? g.m * g.k : g.k * g.n;
  const int64_t matrix = i / elements, e = i % elements;
  float sum = 0.0f;
  for (int64_t s = 0; s < g.batches / matrices; ++s) sum += partial[matmulReader(g, which, matrix, s) * elements + e];
  return sum;
}

/** The three products of a matmul node: its forward and the gradients of its two operands. */
enum class MatmulProduct { Forward, FirstGradient, SecondGradient };

/** Where a GEMM operand's matrices come from. */
enum class MatmulBuffer { First, Second, Output };

/**
 * One cublasGemmStridedBatchedEx call in cuBLAS's column-major terms: C_i = op(A_i)·op(B_i) for i <
 * count, A_i at aOffset + i·strideA elements of its buffer, and so on; m × n result, k deep. Row-major
 * operands are read as their column-major transposes: the forward C[m, n] = A·B is Cᵀ = Bᵀ·Aᵀ (the
 * second operand first, neither transposed); the first operand's gradient dY·Bᵀ is B·dYᵀ with B
 * transposed; the second's Aᵀ·dY is dYᵀ·A with A transposed. The result is always the batch's own
 * matrix (the gradient of a broadcast operand goes to per-batch scratch, reduced afterwards).
 */
struct StridedGemm {
  bool transA = false, transB = false;
  int64_t m = 1, n = 1, k = 1;
  MatmulBuffer aBuffer = MatmulBuffer::First, bBuffer = MatmulBuffer::First;
  int64_t aOffset = 0, lda = 1, strideA = 0;
  int64_t bOffset = 0, ldb = 1, strideB = 0;
  int64_t cOffset = 0, ldc = 1, strideC = 0;
  int64_t count = 1;
};

/** The call for the run of batches starting at `first` (a multiple of runs.length). */
NETLENS_HD StridedGemm matmulGemm(const MatmulBatches& g, const MatmulRuns& runs, MatmulProduct product, int64_t first) {
  int64_t aMatrix = 0, bMatrix = 0;
  matmulOperands(g, first, &aMatrix, &bMatrix);
  const int64_t mk = g.m * g.k, kn = g.k * g.n, mn = g.m * g.n;
  StridedGemm call;
  call.count = runs.length;
  // Per operand: its buffer, first matrix, stride between batches (in elements) and leading dimension.
  const int64_t firstA = aMatrix * mk, strideA = runs.aStep * mk;
  const int64_t firstB = bMatrix * kn, strideB = runs.bStep * kn;
  const int64_t firstDy = first * mn;
  if (product == MatmulProduct::Forward) {
    call.m = g.n;
    call.n = g.m;
    call.k = g.k;
    call.aBuffer = MatmulBuffer::Second;
    call.aOffset = firstB;
    call.strideA = strideB;
    call.lda = g.n;
    call.bBuffer = MatmulBuffer::First;
    call.bOffset = firstA;
    call.strideB = strideA;
    call.ldb = g.k;
    call.cOffset = first * mn;
    call.strideC = mn;
    call.ldc = g.n;
  } else if (product == MatmulProduct::FirstGradient) {
    call.transA = true;
    call.m = g.k;
    call.n = g.m;
    call.k = g.n;
    call.aBuffer = MatmulBuffer::Second;
    call.aOffset = firstB;
    call.strideA = strideB;
    call.lda = g.n;
    call.bBuffer = MatmulBuffer::Output;
    call.bOffset = firstDy;
    call.strideB = mn;
    call.ldb = g.n;
    call.cOffset = first * mk;
    call.strideC = mk;
    call.ldc = g.k;
  } else {
    call.transB = true;
    call.m = g.n;
    call.n = g.k;
    call.k = g.m;
    call.aBuffer = MatmulBuffer::Output;
    call.aOffset = firstDy;
    call.strideA = mn;
    call.lda = g.n;
    call.bBuffer = MatmulBuffer::First;
    call.bOffset = firstA;
    call.strideB = strideA;
    call.ldb = g.k;
    call.cOffset = first * kn;
    call.strideC = kn;
    call.ldc = g.n;
  }
  return call;
}

}  // namespace netlens::cuda::sampling
