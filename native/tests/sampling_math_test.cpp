// The CUDA executor's sampling and indexing math (native/cuda/sampling_math.h), compiled for the
// host and run the way the kernels of cuda_kernels_sampling.cu run it (one output or input element at
// a time), against the CPU reference kernels (native/cpu) and ops (native/core/ops.cpp): interpolation
// taps and the gather-form backward, transposed-convolution extents, adaptive max-pooling windows,
// max_unpool2d placement, embedding rows, local response norm, and matmul broadcasting (operand
// matrices per batch, strided-batched runs, the readers a repeated operand's gradient sums).
// Plain C++ without CUDA, so it runs in CI where no GPU exists.
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "netlens/graph_spec.h"
#include "ops.h"
#include "sampling_math.h"
#include "math_test_support.h"

using namespace netlens;
using namespace netlens::test;
namespace sampling = netlens::cuda::sampling;

namespace {

Tensor randomTensor(const Shape& shape, Rng& rng) { return uniformTensor(shape, rng); }

/** The op of a one-node spec (its attrs as JSON), as the CPU executor builds it. */
std::unique_ptr<Op> makeOp(const std::string& op, const std::string& attrs, int inputs = 1) {
  std::string names = "\"x\"";
  if (inputs == 2) names += ",\"y\"";
  const GraphSpec spec = parseGraphSpec("{\"inputs\":[{\"name\":\"x\",\"shape\":[1]},{\"name\":\"y\",\"shape\":[1]}],\"nodes\":[{\"id\":\"n\",\"op\":\"" +
                                        op + "\",\"inputs\":[" + names + "],\"attrs\":" + attrs + "}],\"outputs\":[\"n\"]}");
  return createOp(spec.nodes[0]);
}

// ---- conv_transpose2d ------------------------------------------------------------------------------

void transposedConvExtents() {
  struct Case {
    int64_t in, kernel, stride, pad, dilation, outputPadding;
  };
  for (const Case c : {Case{5, 3, 2, 1, 1, 1}, Case{4, 4, 2, 1, 1, 0}, Case{7, 3, 1, 0, 2, 0}, Case{3, 2, 3, 0, 1, 2},
                       Case{6, 5, 2, 2, 1, 0}, Case{1, 1, 1, 0, 1, 0}}) {
    const std::string attrs = "{\"in_channels\":4,\"out_channels\":6,\"groups\":2,\"kernel_size\":" + std::to_string(c.kernel) +
                              ",\"stride\":" + std::to_string(c.stride) + ",\"padding\":" + std::to_string(c.pad) +
                              ",\"dilation\":" + std::to_string(c.dilation) + ",\"output_padding\":[" + std::to_string(c.outputPadding) +
                              ",0]}";
    const Shape out = makeOp("conv_transpose2d", attrs)->outputShape({{2, 4, c.in, c.in + 1}});
    const int64_t h = sampling::transposedConvExtent(c.in, c.kernel, c.stride, c.pad, c.dilation, c.outputPadding);
    const int64_t w = sampling::transposedConvExtent(c.in + 1, c.kernel, c.stride, c.pad, c.dilation, 0);
    expect(out[2] == h && out[3] == w, "conv_transpose2d extent " + attrs + ": " + formatShape(out) + " vs " + std::to_string(h) + "x" +
                                           std::to_string(w));
  }
}

// ---- interpolate -----------------------------------------------------------------------------------

struct ResizeCase {
  bool bilinear, alignCorners;
  int64_t inH, inW, outH, outW;
  double scaleH, scaleW;
};

std::string describe(const ResizeCase& c) {
  return std::string(c.bilinear ? "bilinear" : "nearest") + (c.alignCorners ? " align_corners" : "") + " " + std::to_string(c.inH) + "x" +
         std::to_string(c.inW) + "->" + std::to_string(c.outH) + "x" + std::to_string(c.outW) +
         (c.scaleH > 0.0 ? " scale " + std::to_string(c.scaleH) + "," + std::to_string(c.scaleW) : "");
}

void resizeCase(const ResizeCase& c, Rng& rng) {
  const std::string label = "interpolate " + describe(c);
  const int64_t planes = 3;
  cpu::ResizeGeometry g;
  g.bilinear = c.bilinear;
  g.alignCorners = c.alignCorners;
  g.planes = planes;
  g.inH = c.inH;
  g.inW = c.inW;
  g.outH = c.outH;
  g.outW = c.outW;
  g.scaleH = c.scaleH;
  g.scaleW = c.scaleW;
  const sampling::ResizeAxis rows = sampling::resizeAxis(c.inH, c.outH, c.bilinear, c.alignCorners, c.scaleH);
  const sampling::ResizeAxis cols = sampling::resizeAxis(c.inW, c.outW, c.bilinear, c.alignCorners, c.scaleW);
  const Tensor x = randomTensor({planes, c.inH, c.inW}, rng);
  Tensor expected({planes, c.outH, c.outW});
  cpu::resizeForward(g, x.ptr(), expected.ptr());
  // The forward kernel: one output element at a time, the same products as the CPU: bit for bit.
  Tensor actual({planes, c.outH, c.outW});
  for (int64_t i = 0; i < actual.numel(); ++i) actual.data[i] = sampling::resizedValue(rows, cols, x.ptr(), i);
  expectClose(actual, expected, 0.0, label + ": forward equals the CPU's");
  // The readers of each input index are exactly the outputs whose taps name it.
  for (const sampling::ResizeAxis* axis : {&rows, &cols}) {
    bool exact = true;
    for (int64_t i = 0; i < axis->in; ++i) {
      int64_t begin = 0, end = 0;
      sampling::resizeReaders(*axis, i, &begin, &end);
      for (int64_t o = 0; o < axis->out; ++o) {
        const sampling::ResizeTap tap = sampling::resizeTap(*axis, o);
        const bool reads = tap.low == i || tap.high == i;
        const bool inRange = o >= begin && o < end;
        exact = exact && (!reads || inRange) && (reads || !inRange || sampling::resizeShare(tap, i) == 0.0f);
      }
    }
    expect(exact, label + ": each input's readers are a range holding every output that reads it");
  }
  // The backward kernel: a gather per input element over its readers.
  const Tensor dy = randomTensor({planes, c.outH, c.outW}, rng);
  Tensor expectedGrad({planes, c.inH, c.inW});
  cpu::resizeBackward(g, dy.ptr(), expectedGrad.ptr());
  Tensor grad({planes, c.inH, c.inW});
  for (int64_t i = 0; i < grad.numel(); ++i) grad.data[i] = sampling::resizeGradient(rows, cols, dy.ptr(), i);
  expectClose(grad, expectedGrad, 1e-5, label + ": gathered backward matches the CPU's scatter");
}

void interpolation() {
  Rng rng(3);
  for (const bool bilinear : {false, true}) {
    for (const bool align : {false, true}) {
      if (align && !bilinear) continue;
      resizeCase({bilinear, align, 4, 5, 8, 10, 0.0, 0.0}, rng);    // 2× up
      resizeCase({bilinear, align, 7, 9, 3, 4, 0.0, 0.0}, rng);     // down, uneven
      resizeCase({bilinear, align, 5, 3, 13, 7, 0.0, 0.0}, rng);    // up, uneven
      resizeCase({bilinear, align, 1, 4, 3, 1, 0.0, 0.0}, rng);     // one-pixel extents
      resizeCase({bilinear, align, 6, 6, 6, 6, 0.0, 0.0}, rng);     // identity size
      if (!align) {
        resizeCase({bilinear, false, 5, 6, 12, 9, 2.5, 1.5}, rng);  // the user's scale_factor steps by 1/scale
        resizeCase({bilinear, false, 9, 7, 4, 2, 0.5, 0.3}, rng);
      }
    }
  }
}

// ---- adaptive max pooling and max_unpool2d ---------------------------------------------------------

void adaptiveMaxPooling() {
  Rng rng(5);
  for (const auto& [inH, inW, outH, outW] : std::vector<std::array<int64_t, 4>>{{7, 9, 3, 4}, {8, 8, 4, 4}, {5, 6, 5, 6}, {3, 5, 7, 2}}) {
    const std::string label = "adaptive_max_pool2d " + std::to_string(inH) + "x" + std::to_string(inW) + "->" + std::to_string(outH) + "x" +
                              std::to_string(outW);
    cpu::PoolGeometry g;
    g.planes = 2;
    g.inH = inH;
    g.inW = inW;
    g.outH = outH;
    g.outW = outW;
    Tensor x = randomTensor({2, inH, inW}, rng);
    x.data[3] = std::numeric_limits<float>::quiet_NaN();  // NaN wins its windows, as on the CPU
    Tensor expected({2, outH, outW});
    std::vector<int64_t> expectedIndices(static_cast<size_t>(2 * outH * outW));
    cpu::adaptiveMaxPoolForward(g, x.ptr(), expected.ptr(), expectedIndices.data());
    bool same = true;
    for (int64_t i = 0; i < 2 * outH * outW; ++i) {
      int64_t best = -1;
      const float bestValue = sampling::adaptiveMaximum(x.ptr(), inH, inW, outH, outW, i, &best);
      const float want = expected.data[i];
      same = same && best == expectedIndices[i] && (bestValue == want || (std::isnan(bestValue) && std::isnan(want)));
    }
    expect(same, label + ": windows, maxima and indices equal the CPU's");
  }
}

void unpooling() {
  Rng rng(6);
  // max_pool2d 2×2 on 6×8, unpooled back to 6×8 (and into a larger 7×9 plane, which reads the indices
  // as flat positions of that plane, as PyTorch does).
  cpu::PoolGeometry g;
  g.planes = 3;
  g.inH = 6;
  g.inW = 8;
  g.outH = 3;
  g.outW = 4;
  g.kernelH = g.kernelW = g.strideH = g.strideW = 2;
  const Tensor x = randomTensor({3, 6, 8}, rng);
  Tensor pooled({3, 3, 4});
  std::vector<int64_t> indices(static_cast<size_t>(pooled.numel()));
  cpu::maxPoolForward(g, x.ptr(), pooled.ptr(), indices.data());
  for (const int64_t outPlane : {int64_t{48}, int64_t{63}}) {
    const int64_t inPlane = 12;
    Tensor expected({3, outPlane});
    cpu::maxUnpoolForward(3, inPlane, outPlane, pooled.ptr(), indices.data(), expected.ptr());
    Tensor actual({3, outPlane});
    actual.fill(0.0f);
    for (int64_t i = 0; i < 3 * inPlane; ++i) {
      const int64_t target = sampling::unpoolTarget(i, inPlane, outPlane, indices[i]);
      if (target >= 0) actual.data[target] = pooled.data[i];
    }
    expectClose(actual, expected, 0.0, "max_unpool2d into " + std::to_string(outPlane) + " positions: placement equals the CPU's");
    const Tensor dy = randomTensor({3, outPlane}, rng);
    Tensor expectedGrad({3, inPlane});
    cpu::maxUnpoolBackward(3, inPlane, outPlane, dy.ptr(), indices.data(), expectedGrad.ptr());
    Tensor grad({3, inPlane});
    for (int64_t i = 0; i < 3 * inPlane; ++i) {
      const int64_t source = sampling::unpoolTarget(i, inPlane, outPlane, indices[i]);
      grad.data[i] = source >= 0 ? dy.data[source] : 0.0f;
    }
    expectClose(grad, expectedGrad, 0.0, "max_unpool2d into " + std::to_string(outPlane) + " positions: gradient gather equals the CPU's");
  }
  expect(sampling::unpoolTarget(5, 4, 10, 10) == -1 && sampling::unpoolTarget(5, 4, 10, -1) == -1 && sampling::unpoolTarget(5, 4, 10, 9) == 19,
         "max_unpool2d: an index outside the plane lands nowhere");
}

// ---- embedding -----------------------------------------------------------------------------------

void embedding() {
  const int64_t count = 7, dim = 5;
  struct Id {
    float id;
    int64_t row;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Id c : {Id{0.0f, 0}, Id{6.0f, 6}, Id{3.0f, 3}, Id{7.0f, -1}, Id{-1.0f, -1}, Id{2.5f, -1}, Id{nan, -1}, Id{1e30f, -1},
                     Id{-0.0f, 0}}) {
    expect(sampling::embeddingRow(c.id, count) == c.row, "embedding row of id " + std::to_string(c.id));
  }
  const float badIds[2] = {1.0f, 7.0f};
  const float row[5] = {1, 2, 3, 4, 5};
  const float table2[10] = {0, 0, 0, 0, 0, 1, 2, 3, 4, 5};
  expect(sampling::embeddingValue(badIds, table2, 2, 5, 3) == row[3] && std::isnan(sampling::embeddingValue(badIds, table2, 2, 5, 7)),
         "embedding: a token outside the table reads NaN");
  // The backward as the kernel runs it (per column, tokens in order) against the CPU op, padding_idx skipped.
  for (const int64_t padding : {int64_t{-1}, int64_t{2}}) {
    const std::string attrs = "{\"num_embeddings\":7,\"embedding_dim\":5" + (padding >= 0 ? ",\"padding_idx\":" + std::to_string(padding) : "") + "}";
    std::unique_ptr<Op> op = makeOp("embedding", attrs);
    Tensor ids({2, 6}, {0, 2, 5, 2, 6, 1, 2, 2, 3, 0, 6, 5});
    Rng rng(8);
    Tensor table = randomTensor({count, dim}, rng);
    Tensor out({2, 6, dim});
    OpContext context;
    op->forward({&ids}, {&table}, out, context);
    const Tensor dy = randomTensor({2, 6, dim}, rng);
    Tensor expected({count, dim});
    op->backward({&ids}, {&table}, out, dy, {nullptr}, {&expected}, context);
    Tensor grad({count, dim});
    grad.fill(0.0f);
    Tensor gathered({2, 6, dim});
    for (int64_t i = 0; i < gathered.numel(); ++i) gathered.data[i] = sampling::embeddingValue(ids.ptr(), table.ptr(), count, dim, i);
    for (int64_t j = 0; j < dim; ++j) sampling::embeddingColumnGradient(ids.ptr(), dy.ptr(), ids.numel(), count, dim, padding, j, grad.ptr());
    expectClose(gathered, out, 0.0, "embedding " + attrs + ": gather equals the CPU's");
    expectClose(grad, expected, 0.0, "embedding " + attrs + ": per-column scatter equals the CPU's, in its order");
  }
}

// ---- local response norm -------------------------------------------------------------------------

void localResponseNorm() {
  Rng rng(9);
  for (const int64_t size : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}, int64_t{8}}) {
    const int64_t batch = 2, channels = 6, inner = 7;
    const float alpha = 2e-2f, beta = 0.75f, k = 1.5f;
    const Tensor x = randomTensor({batch, channels, inner}, rng);
    Tensor expected({batch, channels, inner}), expectedScale({batch, channels, inner});
    cpu::lrnForward(batch, channels, inner, size, alpha, beta, k, x.ptr(), expected.ptr(), expectedScale.ptr());
    Tensor y({batch, channels, inner}), scale({batch, channels, inner});
    for (int64_t i = 0; i < x.numel(); ++i) y.data[i] = sampling::lrnValue(x.ptr(), channels, inner, size, alpha, beta, k, i, scale.ptr() + i);
    const std::string label = "local_response_norm size " + std::to_string(size);
    expectClose(scale, expectedScale, 1e-6, label + ": scale");
    expectClose(y, expected, 1e-6, label + ": forward");
    const Tensor dy = randomTensor({batch, channels, inner}, rng);
    Tensor expectedGrad({batch, channels, inner});
    cpu::lrnBackward(batch, channels, inner, size, alpha, beta, x.ptr(), expectedScale.ptr(), dy.ptr(), expectedGrad.ptr());
    Tensor grad({batch, channels, inner});
    for (int64_t i = 0; i < x.numel(); ++i) {
      grad.data[i] = sampling::lrnGradient(x.ptr(), scale.ptr(), dy.ptr(), channels, inner, size, alpha, beta, i);
    }
    expectClose(grad, expectedGrad, 1e-5, label + ": backward");
  }
}

// ---- matmul broadcasting -------------------------------------------------------------------------

// Row-major C = A·B for one batch, accumulated in double.
void multiply(int64_t m, int64_t k, int64_t n, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t l = 0; l < k; ++l) sum += static_cast<double>(a[i * k + l]) * b[l * n + j];
      c[i * n + j] = static_cast<float>(sum);
    }
  }
}

// cuBLAS's column-major strided-batched GEMM (C_i = op(A_i)·op(B_i), β = 0) as the planned call would
// run it, reading only inside the given buffers (false when a call would read or write outside).
bool referenceGemm(const sampling::StridedGemm& call, const Tensor& a, const Tensor& b, Tensor& c) {
  if (call.lda < (call.transA ? call.k : call.m) || call.ldb < (call.transB ? call.n : call.k) || call.ldc < call.m) return false;
  for (int64_t i = 0; i < call.count; ++i) {
    for (int64_t j = 0; j < call.n; ++j) {
      for (int64_t r = 0; r < call.m; ++r) {
        double sum = 0.0;
        for (int64_t l = 0; l < call.k; ++l) {
          const int64_t at = call.aOffset + i * call.strideA + (call.transA ? l + r * call.lda : r + l * call.lda);
          const int64_t bt = call.bOffset + i * call.strideB + (call.transB ? j + l * call.ldb : l + j * call.ldb);
          if (at < 0 || at >= a.numel() || bt < 0 || bt >= b.numel()) return false;
          sum += static_cast<double>(a.data[at]) * b.data[bt];
        }
        const int64_t ct = call.cOffset + i * call.strideC + r + j * call.ldc;
        if (ct < 0 || ct >= c.numel()) return false;
        c.data[ct] = static_cast<float>(sum);
      }
    }
  }
  return true;
}

void matmulCase(const Shape& aShape, const Shape& bShape, Rng& rng) {
  const std::string label = "matmul " + formatShape(aShape) + " @ " + formatShape(bShape);
  std::unique_ptr<Op> op = makeOp("matmul", "{}", 2);
  const Shape outShape = op->outputShape({aShape, bShape});
  const sampling::MatmulBatches g = sampling::matmulBatches(aShape.data(), static_cast<int>(aShape.size()), bShape.data(),
                                                            static_cast<int>(bShape.size()));
  expect(g.valid, label + ": planned");
  if (!g.valid) return;
  expect(g.batches * g.m * g.n == shapeNumel(outShape) && g.aMatrices * g.m * g.k == shapeNumel(aShape) &&
             g.bMatrices * g.k * g.n == shapeNumel(bShape),
         label + ": batch and matrix counts");
  const Tensor a = randomTensor(aShape, rng), b = randomTensor(bShape, rng);
  OpContext context;
  Tensor expected(outShape);
  op->forward({&a, &b}, {}, expected, context);
  // Forward from the per-batch operand matrices.
  Tensor out(outShape);
  const int64_t mk = g.m * g.k, kn = g.k * g.n, mn = g.m * g.n;
  for (int64_t batch = 0; batch < g.batches; ++batch) {
    int64_t am = 0, bm = 0;
    sampling::matmulOperands(g, batch, &am, &bm);
    multiply(g.m, g.k, g.n, a.ptr() + am * mk, b.ptr() + bm * kn, out.ptr() + batch * mn);
  }
  expectClose(out, expected, 1e-5, label + ": forward from the per-batch operands");
  // Runs: within each, both operands advance by a fixed step.
  const sampling::MatmulRuns runs = sampling::matmulRuns(g);
  bool regular = g.batches % runs.length == 0;
  for (int64_t first = 0; first < g.batches && regular; first += runs.length) {
    int64_t a0 = 0, b0 = 0;
    sampling::matmulOperands(g, first, &a0, &b0);
    for (int64_t i = 0; i < runs.length; ++i) {
      int64_t ai = 0, bi = 0;
      sampling::matmulOperands(g, first + i, &ai, &bi);
      regular = regular && ai == a0 + i * runs.aStep && bi == b0 + i * runs.bStep;
    }
  }
  expect(regular, label + ": strided runs of " + std::to_string(runs.length) + " (steps " + std::to_string(runs.aStep) + ", " +
                      std::to_string(runs.bStep) + ") match the per-batch operands");
  // Readers of each operand matrix: exactly the batches that read it, in increasing order.
  for (int which = 0; which < 2; ++which) {
    const int64_t matrices = which == 0 ? g.aMatrices : g.bMatrices;
    const int64_t readers = g.batches / matrices;
    bool exact = g.batches % matrices == 0;
    for (int64_t matrix = 0; matrix < matrices; ++matrix) {
      int64_t previous = -1;
      int64_t found = 0;
      for (int64_t s = 0; s < readers; ++s) {
        const int64_t batch = sampling::matmulReader(g, which, matrix, s);
        int64_t am = 0, bm = 0;
        sampling::matmulOperands(g, batch, &am, &bm);
        exact = exact && batch > previous && batch < g.batches && (which == 0 ? am : bm) == matrix;
        previous = batch;
        ++found;
      }
      int64_t expectedReaders = 0;
      for (int64_t batch = 0; batch < g.batches; ++batch) {
        int64_t am = 0, bm = 0;
        sampling::matmulOperands(g, batch, &am, &bm);
        expectedReaders += (which == 0 ? am : bm) == matrix ? 1 : 0;
      }
      exact = exact && found == expectedReaders;
    }
    expect(exact, label + ": readers of " + (which == 0 ? "A" : "B") + "'s matrices");
  }
  // Gradients: per-batch products reduced over each matrix's readers, against the CPU op.
  const Tensor dy = randomTensor(outShape, rng);
  Tensor expectedA(aShape), expectedB(bShape);
  op->backward({&a, &b}, {}, expected, dy, {&expectedA, &expectedB}, {}, context);
  std::vector<float> partialA(static_cast<size_t>(g.batches * mk)), partialB(static_cast<size_t>(g.batches * kn));
  for (int64_t batch = 0; batch < g.batches; ++batch) {
    int64_t am = 0, bm = 0;
    sampling::matmulOperands(g, batch, &am, &bm);
    const float* dyBatch = dy.ptr() + batch * mn;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t l = 0; l < g.k; ++l) {
        double sum = 0.0;
        for (int64_t j = 0; j < g.n; ++j) sum += static_cast<double>(dyBatch[i * g.n + j]) * b.data[bm * kn + l * g.n + j];
        partialA[batch * mk + i * g.k + l] = static_cast<float>(sum);
      }
    }
    for (int64_t l = 0; l < g.k; ++l) {
      for (int64_t j = 0; j < g.n; ++j) {
        double sum = 0.0;
        for (int64_t i = 0; i < g.m; ++i) sum += static_cast<double>(a.data[am * mk + i * g.k + l]) * dyBatch[i * g.n + j];
        partialB[batch * kn + l * g.n + j] = static_cast<float>(sum);
      }
    }
  }
  Tensor gradA(aShape), gradB(bShape);
  for (int64_t i = 0; i < gradA.numel(); ++i) {
    float sum = 0.0f;
    for (int64_t s = 0; s < g.batches / g.aMatrices; ++s) sum += partialA[sampling::matmulReader(g, 0, i / mk, s) * mk + i % mk];
    gradA.data[i] = sum;
  }
  for (int64_t i = 0; i < gradB.numel(); ++i) {
    float sum = 0.0f;
    for (int64_t s = 0; s < g.batches / g.bMatrices; ++s) sum += partialB[sampling::matmulReader(g, 1, i / kn, s) * kn + i % kn];
    gradB.data[i] = sum;
  }
  expectClose(gradA, expectedA, 1e-5, label + ": gradient of A");
  expectClose(gradB, expectedB, 1e-5, label + ": gradient of B");
  // The cuBLAS calls the executor makes (sampling::matmulGemm), run by a reference column-major GEMM:
  // the forward, and each gradient into per-batch scratch reduced over its readers (or, for an
  // operand every batch reads once, straight into its gradient, which then equals that scratch).
  const auto buffer = [&](sampling::MatmulBuffer which) -> const Tensor& {
    return which == sampling::MatmulBuffer::First ? a : which == sampling::MatmulBuffer::Second ? b : dy;
  };
  Tensor planned(outShape), scratchA({g.batches, g.m, g.k}), scratchB({g.batches, g.k, g.n});
  bool inside = true;
  for (int64_t first = 0; first < g.batches; first += runs.length) {
    const sampling::StridedGemm forward = sampling::matmulGemm(g, runs, sampling::MatmulProduct::Forward, first);
    const sampling::StridedGemm first_ = sampling::matmulGemm(g, runs, sampling::MatmulProduct::FirstGradient, first);
    const sampling::StridedGemm second = sampling::matmulGemm(g, runs, sampling::MatmulProduct::SecondGradient, first);
    inside = inside && referenceGemm(forward, buffer(forward.aBuffer), buffer(forward.bBuffer), planned);
    inside = inside && referenceGemm(first_, buffer(first_.aBuffer), buffer(first_.bBuffer), scratchA);
    inside = inside && referenceGemm(second, buffer(second.aBuffer), buffer(second.bBuffer), scratchB);
  }
  expect(inside, label + ": planned GEMM calls stay inside their buffers with valid leading dimensions");
  expectClose(planned, expected, 1e-5, label + ": planned GEMM calls, forward");
  for (int which = 0; which < 2; ++which) {
    const Tensor& scratch = which == 0 ? scratchA : scratchB;
    const Tensor& want = which == 0 ? expectedA : expectedB;
    Tensor reduced(want.shape);
    for (int64_t i = 0; i < reduced.numel(); ++i) reduced.data[i] = sampling::matmulReducedGradient(g, which, scratch.ptr(), i);
    expectClose(reduced, want, 1e-5, label + ": planned GEMM calls, gradient of " + (which == 0 ? "A" : "B"));
  }
}

void matmulBroadcasting() {
  Rng rng(12);
  matmulCase({3, 4}, {4, 5}, rng);
  matmulCase({2, 3, 3, 4}, {2, 3, 4, 5}, rng);  // attention-like: one run
  matmulCase({3, 4}, {6, 4, 5}, rng);           // A repeated for every batch
  matmulCase({6, 3, 4}, {4, 5}, rng);           // B repeated
  matmulCase({2, 3, 3, 4}, {3, 4, 5}, rng);     // B repeated along the outer dim only: runs of 3
  matmulCase({2, 1, 3, 4}, {1, 3, 4, 2}, rng);  // both repeated along different dims: runs of 3
  matmulCase({2, 3, 1, 3, 4}, {3, 2, 4, 5}, rng);
  matmulCase({1, 3, 4}, {2, 1, 4, 5}, rng);
  matmulCase({4, 1, 2, 3}, {1, 5, 3, 2}, rng);
  int64_t tooMany[11] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2};
  int64_t plain[2] = {2, 2};
  expect(!sampling::matmulBatches(tooMany, 11, plain, 2).valid, "matmul: more than 8 batch dimensions are refused");
  int64_t mismatch[2] = {3, 2};
  expect(!sampling::matmulBatches(plain, 2, mismatch, 2).valid, "matmul: mismatched inner extents are refused");
}

}  // namespace

int main() {
  try {
    transposedConvExtents();
    interpolation();
    adaptiveMaxPooling();
    unpooling();
    embedding();
    localResponseNorm();
    matmulBroadcasting();
  } catch (const std::exception& error) {
    check(false, std::string("threw ") + error.what());
  }
  return finishMath("sampling_math", "sampling_math_test");
}
