// The CUDA kernels' layout math (native/cuda/layout_math.h) run on the host against the CPU reference
// kernels, in NCHW and in channels-last NHWC: the layout changes and the filter permutation, pooling
// (max with padding/dilation/ceil windows, average with each divisor rule, adaptive) forward and
// backward, batch-norm statistics/outputs/gradients through batchNormOffset, the conv bias's channel
// and dropout masks that do not depend on the layout. Plain C++ (no nvcc, no GPU), so CI runs it.
//
// Tolerances: the pooling forward sums in the CPU's order and must be exact; scattered gradients and
// the double-precision batch-norm sums may round in another order, so 1e-6 of the tensor's scale.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "layout_math.h"
#include "netlens/tensor.h"
#include "math_test_support.h"

using namespace netlens;
using namespace netlens::test;
namespace k = netlens::cuda::kernels;

namespace {


struct Rng {
  uint64_t state;
  float uniform() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(state >> 40) / 16777216.0f * 2.0f - 1.0f;
  }
};

Tensor randomTensor(const Shape& shape, Rng& rng) {
  Tensor tensor(shape);
  for (float& value : tensor.data) value = rng.uniform();
  return tensor;
}

/** What the changeLayout kernel writes: destination i from source layoutSource(i). */
Tensor changeLayout(const Tensor& source, bool toNhwc) {
  Tensor result(source.shape);
  const int64_t channels = source.shape[1], spatial = source.shape[2] * source.shape[3];
  for (int64_t i = 0; i < source.numel(); ++i) result.data[i] = source.data[k::layoutSource(toNhwc, i, channels, spatial)];
  return result;
}

void layouts() {
  Rng rng{1};
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 7, 1, 9}, Shape{3, 1, 2, 2}, Shape{2, 16, 3, 3}}) {
    const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
    const Tensor x = randomTensor(shape, rng);
    const Tensor nhwc = changeLayout(x, true);
    bool placed = true;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t h = 0; h < H; ++h) {
          for (int64_t w = 0; w < W; ++w) {
            placed = placed && nhwc.data[((n * H + h) * W + w) * C + c] == x.data[((n * C + c) * H + h) * W + w];
            placed = placed && k::activationOffset(true, C, H * W, n, c, h * W + w) == ((n * H + h) * W + w) * C + c;
            placed = placed && k::activationOffset(false, C, H * W, n, c, h * W + w) == ((n * C + c) * H + h) * W + w;
          }
        }
      }
    }
    expect(placed, "layout: element (n, c, h, w) lands at ((n·H + h)·W + w)·C + c for " + formatShape(shape));
    expect(changeLayout(nhwc, false).data == x.data, "layout: NHWC and back is the identity for " + formatShape(shape));
    bool inverse = true;
    for (int64_t i = 0; i < x.numel(); ++i) {
      inverse = inverse && k::nhwcOffsetOfNchw(k::nchwOffsetOfNhwc(i, C, H * W), C, H * W) == i;
    }
    expect(inverse, "layout: the two offset maps are inverse permutations for " + formatShape(shape));
  }
  // A filter [K, C/g, R, S] as cuDNN's NHWC convolutions want it: [K, R, S, C/g].
  const int64_t K = 4, Cg = 3, R = 2, S = 5;
  Tensor filter({K, Cg, R, S});
  for (size_t i = 0; i < filter.data.size(); ++i) filter.data[i] = static_cast<float>(i);
  const Tensor krsc = changeLayout(filter, true);
  bool permuted = true;
  for (int64_t kk = 0; kk < K; ++kk) {
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t s = 0; s < S; ++s) permuted = permuted && krsc.data[((kk * R + r) * S + s) * Cg + c] == filter.data[((kk * Cg + c) * R + r) * S + s];
      }
    }
  }
  expect(permuted, "layout: a filter [K, C, R, S] becomes [K, R, S, C]");
}

struct HostAdd {
  float* base;
  void operator()(int64_t offset, float value) const { base[offset] += value; }
};

enum class PoolKind { Max, Avg, Adaptive };

struct PoolCase {
  std::string name;
  PoolKind kind;
  Shape input;
  int kernel, stride, pad, dilation;
  bool ceil, countIncludePad;
  int divisorOverride;
  int64_t adaptiveOut;
};

void pooling() {
  const std::vector<PoolCase> cases{
      {"max 3/2 pad 1", PoolKind::Max, {2, 5, 9, 9}, 3, 2, 1, 1, false, true, 0, 0},
      {"max 2 ceil", PoolKind::Max, {2, 3, 9, 7}, 2, 2, 0, 1, true, true, 0, 0},
      {"max 3 dilation 2 pad 2", PoolKind::Max, {1, 4, 11, 10}, 3, 1, 2, 2, false, true, 0, 0},
      {"avg 3/2 pad 1 count_include_pad", PoolKind::Avg, {2, 5, 9, 9}, 3, 2, 1, 1, false, true, 0, 0},
      {"avg 3/2 pad 1 exclude pad", PoolKind::Avg, {2, 5, 9, 9}, 3, 2, 1, 1, false, false, 0, 0},
      {"avg 2 ceil", PoolKind::Avg, {2, 3, 9, 7}, 2, 2, 0, 1, true, true, 0, 0},
      {"avg divisor_override", PoolKind::Avg, {1, 6, 8, 8}, 3, 2, 1, 1, false, true, 5, 0},
      {"adaptive 7 → 3", PoolKind::Adaptive, {2, 6, 7, 7}, 0, 0, 0, 0, false, true, 0, 3},
      {"adaptive 5 → 1", PoolKind::Adaptive, {2, 8, 5, 5}, 0, 0, 0, 0, false, true, 0, 1},
  };
  Rng rng{7};
  for (const PoolCase& t : cases) {
    const int64_t N = t.input[0], C = t.input[1], H = t.input[2], W = t.input[3];
    cpu::PoolGeometry g;
    g.planes = N * C;
    g.inH = H;
    g.inW = W;
    if (t.kind == PoolKind::Adaptive) {
      g.outH = g.outW = t.adaptiveOut;
    } else {
      g.kernelH = g.kernelW = t.kernel;
      g.strideH = g.strideW = t.stride;
      g.padH = g.padW = t.pad;
      g.dilationH = g.dilationW = t.dilation;
      g.outH = cpu::pooledExtent(H, t.kernel, t.pad, t.stride, t.dilation, t.ceil);
      g.outW = cpu::pooledExtent(W, t.kernel, t.pad, t.stride, t.dilation, t.ceil);
    }
    const Shape outShape{N, C, g.outH, g.outW};
    const Tensor x = randomTensor(t.input, rng);
    const Tensor dy = randomTensor(outShape, rng);
    Tensor yRef(outShape), dxRef(t.input);
    std::vector<int64_t> indicesRef(static_cast<size_t>(shapeNumel(outShape)));
    if (t.kind == PoolKind::Max) {
      cpu::maxPoolForward(g, x.ptr(), yRef.ptr(), indicesRef.data());
      cpu::maxPoolBackward(g, dy.ptr(), indicesRef.data(), dxRef.ptr());
    } else if (t.kind == PoolKind::Avg) {
      cpu::avgPoolForward(g, t.countIncludePad, t.divisorOverride, x.ptr(), yRef.ptr());
      cpu::avgPoolBackward(g, t.countIncludePad, t.divisorOverride, dy.ptr(), dxRef.ptr());
    } else {
      cpu::adaptiveAvgPoolForward(g, x.ptr(), yRef.ptr());
      cpu::adaptiveAvgPoolBackward(g, dy.ptr(), dxRef.ptr());
    }
    for (const bool channelsLast : {false, true}) {
      const std::string label = "pool " + t.name + (channelsLast ? " [nhwc]" : " [nchw]");
      k::Pool p{};
      p.planes = N * C;
      p.inH = H;
      p.inW = W;
      p.outH = g.outH;
      p.outW = g.outW;
      p.kernelH = p.kernelW = t.kernel;
      p.strideH = p.strideW = t.stride;
      p.padH = p.padW = t.pad;
      p.dilationH = p.dilationW = t.dilation;
      p.channels = C;
      p.channelsLast = channelsLast;
      // The kernels' data: x and dy in the layout, y and dx come back in it.
      const Tensor xIn = channelsLast ? changeLayout(x, true) : x;
      const Tensor dyIn = channelsLast ? changeLayout(dy, true) : dy;
      Tensor y(outShape), dx(t.input);
      std::vector<int32_t> indices(static_cast<size_t>(shapeNumel(outShape)));
      for (int64_t i = 0; i < y.numel(); ++i) {
        if (t.kind == PoolKind::Max) {
          y.data[i] = k::maxPoolElement(p, xIn.ptr(), i, &indices[i]);
          dx.data[k::maxPoolSource(p, i, indices[i])] += dyIn.data[i];
        } else if (t.kind == PoolKind::Avg) {
          y.data[i] = k::avgPoolElement(p, t.countIncludePad, t.divisorOverride, xIn.ptr(), i);
          k::avgPoolScatter(p, t.countIncludePad, t.divisorOverride, i, dyIn.data[i], HostAdd{dx.ptr()});
        } else {
          y.data[i] = k::adaptiveAvgPoolElement(p, xIn.ptr(), i);
          k::adaptiveAvgPoolScatter(p, i, dyIn.data[i], HostAdd{dx.ptr()});
        }
      }
      const Tensor yNchw = channelsLast ? changeLayout(y, false) : y;
      const Tensor dxNchw = channelsLast ? changeLayout(dx, false) : dx;
      expect(yNchw.data == yRef.data, label + ": forward equals the CPU kernel exactly");
      expectClose(dxNchw, dxRef, 1e-6, label + ": backward");
      if (t.kind == PoolKind::Max) {
        // Indices are plane positions in either layout; compare them in NCHW output order.
        bool same = true;
        for (int64_t i = 0; i < y.numel(); ++i) {
          const int64_t stored = channelsLast ? k::nhwcOffsetOfNchw(i, C, g.outH * g.outW) : i;
          same = same && indices[stored] == indicesRef[i];
        }
        expect(same, label + ": indices equal the CPU's (h·W + w within the plane)");
      }
    }
  }
}

void batchNorm() {
  Rng rng{3};
  const int64_t N = 3, C = 5, H = 4, W = 6, inner = H * W, count = N * inner;
  const Shape shape{N, C, H, W};
  const Tensor x = randomTensor(shape, rng), dy = randomTensor(shape, rng);
  const Tensor gamma = randomTensor({C}, rng), beta = randomTensor({C}, rng);
  const float eps = 1e-5f;
  Tensor yRef(shape), dxRef(shape), meanRef({C}), invStdRef({C}), unbiased({C}), dgammaRef({C}), dbetaRef({C});
  cpu::batchNormForwardTrain(N, C, inner, x.ptr(), gamma.ptr(), beta.ptr(), eps, yRef.ptr(), meanRef.ptr(), invStdRef.ptr(), unbiased.ptr());
  cpu::batchNormBackward(N, C, inner, true, x.ptr(), gamma.ptr(), meanRef.ptr(), invStdRef.ptr(), dy.ptr(), dxRef.ptr(), dgammaRef.ptr(),
                         dbetaRef.ptr());
  for (const bool channelsLast : {false, true}) {
    const std::string label = std::string("batch norm") + (channelsLast ? " [nhwc]" : " [nchw]");
    k::BatchNorm g{};
    g.batch = N;
    g.channels = C;
    g.inner = inner;
    g.eps = eps;
    g.momentum = 0.1f;
    g.training = true;
    g.track = true;
    g.channelsLast = channelsLast;
    const Tensor xIn = channelsLast ? changeLayout(x, true) : x;
    const Tensor dyIn = channelsLast ? changeLayout(dy, true) : dy;
    Tensor y(shape), dx(shape), mean({C}), invStd({C}), dgamma({C}), dbeta({C}), runningMean({C}), runningVar({C}, 1.0f);
    bool covered = true;
    std::vector<int> visits(static_cast<size_t>(x.numel()), 0);
    // The kernel's per-channel block, serially: the same offsets, sums and formulas.
    for (int64_t c = 0; c < C; ++c) {
      double sum = 0.0;
      for (int64_t q = 0; q < count; ++q) {
        sum += xIn.data[k::batchNormOffset(g, c, q)];
        visits[k::batchNormOffset(g, c, q)] += 1;
      }
      const double m = sum / static_cast<double>(count);
      double squares = 0.0;
      for (int64_t q = 0; q < count; ++q) {
        const double d = xIn.data[k::batchNormOffset(g, c, q)] - m;
        squares += d * d;
      }
      mean.data[c] = static_cast<float>(m);
      invStd.data[c] = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(count) + eps));
      runningMean.data[c] = k::runningStatistic(runningMean.data[c], mean.data[c], g.momentum);
      runningVar.data[c] = k::runningStatistic(runningVar.data[c], static_cast<float>(squares / static_cast<double>(count - 1)), g.momentum);
      for (int64_t q = 0; q < count; ++q) {
        const int64_t at = k::batchNormOffset(g, c, q);
        y.data[at] = k::batchNormOutput(xIn.data[at], mean.data[c], invStd.data[c], gamma.ptr(), beta.ptr(), c);
      }
      double sumDy = 0.0, sumDyXhat = 0.0;
      for (int64_t q = 0; q < count; ++q) {
        const int64_t at = k::batchNormOffset(g, c, q);
        sumDy += dyIn.data[at];
        sumDyXhat += dyIn.data[at] * ((xIn.data[at] - static_cast<double>(mean.data[c])) * invStd.data[c]);
      }
      dgamma.data[c] = static_cast<float>(sumDyXhat);
      dbeta.data[c] = static_cast<float>(sumDy);
      for (int64_t q = 0; q < count; ++q) {
        const int64_t at = k::batchNormOffset(g, c, q);
        dx.data[at] = k::batchNormInputGradient(true, xIn.data[at], dyIn.data[at], mean.data[c], invStd.data[c], gamma.data[c], sumDy,
                                                sumDyXhat, count);
      }
    }
    for (const int v : visits) covered = covered && v == 1;
    expect(covered, label + ": batchNormOffset visits every value of every channel once");
    expectClose(mean, meanRef, 1e-6, label + ": batch mean");
    expectClose(invStd, invStdRef, 1e-6, label + ": batch 1/std");
    expectClose(channelsLast ? changeLayout(y, false) : y, yRef, 1e-6, label + ": output");
    expectClose(channelsLast ? changeLayout(dx, false) : dx, dxRef, 1e-6, label + ": input gradient");
    expectClose(dgamma, dgammaRef, 1e-6, label + ": weight gradient");
    expectClose(dbeta, dbetaRef, 1e-6, label + ": bias gradient");
    Tensor expectedVar({C});
    for (int64_t c = 0; c < C; ++c) expectedVar.data[c] = 0.9f + 0.1f * unbiased.data[c];
    expectClose(runningVar, expectedVar, 1e-6, label + ": running variance (momentum 0.1, unbiased)");
  }
  // Eval with running statistics: the gradient goes through the constants only.
  Tensor dxEval(shape);
  cpu::batchNormBackward(N, C, inner, false, x.ptr(), gamma.ptr(), meanRef.ptr(), invStdRef.ptr(), dy.ptr(), dxEval.ptr(), nullptr, nullptr);
  k::BatchNorm g{};
  g.batch = N;
  g.channels = C;
  g.inner = inner;
  g.channelsLast = true;
  const Tensor dyIn = changeLayout(dy, true);
  Tensor dx(shape);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t q = 0; q < count; ++q) {
      const int64_t at = k::batchNormOffset(g, c, q);
      dx.data[at] = k::batchNormInputGradient(false, 0.0f, dyIn.data[at], meanRef.data[c], invStdRef.data[c], gamma.data[c], 0.0, 0.0, count);
    }
  }
  expectClose(changeLayout(dx, false), dxEval, 1e-6, "batch norm eval [nhwc]: input gradient through the running statistics");
}

// The channels-last kernels' two-stage reduction: chunk row ranges cover every row once, and partial
// sums per (chunk, lane) added lane by lane and then chunk by chunk give the CPU's statistics.
void batchNormChunked() {
  Rng rng{9};
  for (const Shape& shape : {Shape{2, 40, 5, 7}, Shape{1, 3, 2, 3}, Shape{16, 64, 14, 14}}) {
    const int64_t N = shape[0], C = shape[1], inner = shape[2] * shape[3], rows = N * inner;
    const Tensor x = randomTensor(shape, rng);
    Tensor meanRef({C}), invStdRef({C}), unbiased({C}), yRef(shape);
    cpu::batchNormForwardTrain(N, C, inner, x.ptr(), nullptr, nullptr, 1e-5f, yRef.ptr(), meanRef.ptr(), invStdRef.ptr(), unbiased.ptr());
    k::BatchNorm g{};
    g.batch = N;
    g.channels = C;
    g.inner = inner;
    g.eps = 1e-5f;
    g.channelsLast = true;
    const Tensor xIn = changeLayout(x, true);
    const int64_t chunks = k::batchNormChunks(g);
    std::vector<int> covered(static_cast<size_t>(rows), 0);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      int64_t begin = 0, end = 0;
      k::batchNormChunkRows(g, chunks, chunk, &begin, &end);
      for (int64_t r = begin; r < end; ++r) covered[static_cast<size_t>(r)] += 1;
    }
    bool once = true;
    for (const int count : covered) once = once && count == 1;
    expect(once && chunks >= 1, "batch norm chunks: " + std::to_string(chunks) + " chunks cover each of " + std::to_string(rows) + " rows once");
    expect(k::batchNormScratchDoubles(g) == 2 * chunks * C + 2 * C, "batch norm chunks: the scratch holds the partial sums and totals");
    const auto chunkedSum = [&](int64_t c, const auto& term) {
      double total = 0.0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        int64_t begin = 0, end = 0;
        k::batchNormChunkRows(g, chunks, chunk, &begin, &end);
        double lanes[8] = {};
        for (int lane = 0; lane < 8; ++lane) {
          for (int64_t r = begin + lane; r < end; r += 8) lanes[lane] += term(xIn.data[k::batchNormOffset(g, c, r)]);
        }
        double partial = 0.0;
        for (const double lane : lanes) partial += lane;
        total += partial;
      }
      return total;
    };
    Tensor mean({C}), invStd({C});
    for (int64_t c = 0; c < C; ++c) {
      const double m = chunkedSum(c, [](float v) { return static_cast<double>(v); }) / static_cast<double>(rows);
      const double squares = chunkedSum(c, [&](float v) { return (v - m) * (v - m); });
      mean.data[c] = static_cast<float>(m);
      invStd.data[c] = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(rows) + 1e-5));
    }
    expectClose(mean, meanRef, 1e-6, "batch norm chunks " + formatShape(shape) + ": mean");
    expectClose(invStd, invStdRef, 1e-6, "batch norm chunks " + formatShape(shape) + ": 1/std");
  }
}

void biasAndDropout() {
  Rng rng{5};
  const int64_t N = 2, C = 6, H = 3, W = 5;
  const Shape shape{N, C, H, W};
  const Tensor y = randomTensor(shape, rng), bias = randomTensor({C}, rng);
  Tensor expected = y;
  cpu::addChannelBias(N, C, H * W, bias.ptr(), expected.ptr());
  for (const bool channelsLast : {false, true}) {
    Tensor withBias = channelsLast ? changeLayout(y, true) : y;
    for (int64_t i = 0; i < withBias.numel(); ++i) withBias.data[i] += bias.data[k::channelOf(channelsLast, i, C, H * W)];
    expect((channelsLast ? changeLayout(withBias, false) : withBias).data == expected.data,
          std::string("conv bias: channelOf picks each value's channel") + (channelsLast ? " [nhwc]" : " [nchw]"));
  }
  // Dropout: the NHWC mask at offset i is the NCHW mask of the same element, so both layouts train alike.
  const float p = 0.3f;
  bool same = true;
  int64_t dropped = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float nhwcMask = k::dropoutMask(42, 3, i, p, C, H * W);
    same = same && nhwcMask == k::dropoutMask(42, 3, k::nchwOffsetOfNhwc(i, C, H * W), p, 0, 1);
    dropped += nhwcMask == 0.0f ? 1 : 0;
  }
  expect(same, "dropout: an NHWC element draws its NCHW element's mask");
  expect(dropped > 0 && dropped < y.numel(), "dropout: some values dropped, some kept");
  expect(k::dropoutMask(42, 3, 0, 1.0f, 0, 1) == 0.0f, "dropout: p = 1 drops everything");
}

}  // namespace

int main() {
  layouts();
  pooling();
  batchNorm();
  batchNormChunked();
  biasAndDropout();
  std::printf("worst relative error %.3g\n", worstRelativeError);
  return finishMath("layout_math", "layout_math_test");
}
