// Index math and per-element formulas of the CUDA pooling, batch-norm, bias, dropout and layout
// (NCHW ⇄ NHWC) kernels, shared by those kernels and a plain C++ test (native/tests/layout_math_test.cpp)
// that runs them on the host against the CPU reference kernels, in both layouts. The kernels are thin
// grid-stride loops and block reductions around these functions.
//
// Layouts: an activation [N, C, H, W] is stored NCHW (PyTorch's contiguous order) or, with
// CudaOptions::channelsLast, NHWC (channels innermost, what cuDNN's tensor-core convolutions read).
// A "plane" is one (n, c) pair, numbered n·C + c in either layout.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace netlens::cuda::kernels {

// ---- layouts ------------------------------------------------------------------------------------

/** Offset of (n, c, s) with s = h·W + w the spatial position among `spatial` = H·W ones. */
NETLENS_HD int64_t activationOffset(bool channelsLast, int64_t channels, int64_t spatial, int64_t n, int64_t c, int64_t s) {
  return channelsLast ? (n * spatial + s) * channels + c : (n * channels + c) * spatial + s;
}

/** The NCHW offset of the element an NHWC buffer holds at offset i. */
NETLENS_HD int64_t nchwOffsetOfNhwc(int64_t i, int64_t channels, int64_t spatial) {
  const int64_t c = i % channels;
  const int64_t rest = i / channels;
  return activationOffset(false, channels, spatial, rest / spatial, c, rest % spatial);
}

/** The NHWC offset of the element an NCHW buffer holds at offset i. */
NETLENS_HD int64_t nhwcOffsetOfNchw(int64_t i, int64_t channels, int64_t spatial) {
  const int64_t s = i % spatial;
  const int64_t rest = i / spatial;
  return activationOffset(true, channels, spatial, rest / channels, rest % channels, s);
}

/**
 * Where element i of a layout change's destination comes from in its source: to NHWC, destination i
 * is NHWC and the source NCHW; to NCHW the other way round. Writes stay contiguous, reads gather.
 * The same mapping permutes a filter [K, C, R, S] to the [K, R, S, C] that cuDNN's NHWC convolutions want.
 */
NETLENS_HD int64_t layoutSource(bool toNhwc, int64_t i, int64_t channels, int64_t spatial) {
  return toNhwc ? nchwOffsetOfNhwc(i, channels, spatial) : nhwcOffsetOfNchw(i, channels, spatial);
}

/** The channel of element i of an [N, C, inner] activation (conv bias, batch norm). */
NETLENS_HD int64_t channelOf(bool channelsLast, int64_t i, int64_t channels, int64_t inner) {
  return channelsLast ? i % channels : (i / inner) % channels;
}

// ---- pooling ------------------------------------------------------------------------------------

struct Pool {
  int64_t planes, inH, inW, outH, outW;
  int kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW;
  int64_t channels;   // C (planes = N·C); read only when channelsLast
  bool channelsLast;  // input and output NHWC
};

/** The plane and output position of output element i (i follows the layout of the output buffer). */
NETLENS_HD void poolOutputPosition(const Pool& g, int64_t i, int64_t* plane, int64_t* oh, int64_t* ow) {
  const int64_t outPlane = g.outH * g.outW;
  if (g.channelsLast) {
    const int64_t c = i % g.channels;
    const int64_t rest = i / g.channels;  // n·outPlane + s
    const int64_t s = rest % outPlane;
    *plane = (rest / outPlane) * g.channels + c;
    *oh = s / g.outW;
    *ow = s % g.outW;
  } else {
    *plane = i / outPlane;
    *oh = (i % outPlane) / g.outW;
    *ow = i % g.outW;
  }
}

/** Offset of input element (plane, ih, iw). */
NETLENS_HD int64_t poolInputOffset(const Pool& g, int64_t plane, int64_t ih, int64_t iw) {
  const int64_t channels = g.channelsLast ? g.channels : 1;
  return activationOffset(g.channelsLast, channels, g.inH * g.inW, plane / channels, plane % channels, ih * g.inW + iw);
}

/** Max pooling's output i; *index receives the maximum's position ih·inW + iw within its plane (PyTorch's). */
NETLENS_HD float maxPoolElement(const Pool& g, const float* x, int64_t i, int32_t* index) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  int64_t hStart = oh * g.strideH - g.padH;
  int64_t hEnd = hStart + static_cast<int64_t>(g.kernelH - 1) * g.dilationH + 1;
  if (hEnd > g.inH) hEnd = g.inH;
  while (hStart < 0) hStart += g.dilationH;
  int64_t wStart = ow * g.strideW - g.padW;
  int64_t wEnd = wStart + static_cast<int64_t>(g.kernelW - 1) * g.dilationW + 1;
  if (wEnd > g.inW) wEnd = g.inW;
  while (wStart < 0) wStart += g.dilationW;
  int64_t best = hStart * g.inW + wStart;
  float bestValue = -INFINITY;
  for (int64_t ih = hStart; ih < hEnd; ih += g.dilationH) {
    for (int64_t iw = wStart; iw < wEnd; iw += g.dilationW) {
      const float value = x[poolInputOffset(g, plane, ih, iw)];
      if (value > bestValue || value != value) {  // a NaN wins, as in PyTorch
        bestValue = value;
        best = ih * g.inW + iw;
      }
    }
  }
  *index = static_cast<int32_t>(best);
  return bestValue;
}

/** Where max pooling's backward adds output i's gradient: the input offset of its recorded maximum. */
NETLENS_HD int64_t maxPoolSource(const Pool& g, int64_t i, int32_t index) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  return poolInputOffset(g, plane, index / g.inW, index % g.inW);
}

struct PoolWindow {
  int64_t hStart, hEnd, wStart, wEnd;
  float divisor;
};

/** Average pooling's window at (oh, ow), clipped to the input, and its divisor (PyTorch's rules). */
NETLENS_HD PoolWindow avgPoolWindow(const Pool& g, bool countIncludePad, int divisorOverride, int64_t oh, int64_t ow) {
  PoolWindow w{};
  w.hStart = oh * g.strideH - g.padH;
  w.wStart = ow * g.strideW - g.padW;
  w.hEnd = w.hStart + g.kernelH < g.inH + g.padH ? w.hStart + g.kernelH : g.inH + g.padH;
  w.wEnd = w.wStart + g.kernelW < g.inW + g.padW ? w.wStart + g.kernelW : g.inW + g.padW;
  const int64_t paddedSize = (w.hEnd - w.hStart) * (w.wEnd - w.wStart);
  if (w.hStart < 0) w.hStart = 0;
  if (w.wStart < 0) w.wStart = 0;
  if (w.hEnd > g.inH) w.hEnd = g.inH;
  if (w.wEnd > g.inW) w.wEnd = g.inW;
  const int64_t size = (w.hEnd - w.hStart) * (w.wEnd - w.wStart);
  w.divisor = divisorOverride > 0 ? static_cast<float>(divisorOverride) : static_cast<float>(countIncludePad ? paddedSize : size);
  return w;
}

NETLENS_HD float avgPoolElement(const Pool& g, bool countIncludePad, int divisorOverride, const float* x, int64_t i) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  const PoolWindow w = avgPoolWindow(g, countIncludePad, divisorOverride, oh, ow);
  float sum = 0.0f;
  for (int64_t ih = w.hStart; ih < w.hEnd; ++ih) {
    for (int64_t iw = w.wStart; iw < w.wEnd; ++iw) sum += x[poolInputOffset(g, plane, ih, iw)];
  }
  return (w.hStart < w.hEnd && w.wStart < w.wEnd) ? sum / w.divisor : 0.0f;
}

/** Average pooling's backward for output i: add(offset, share) for every input its window covers. */
template <typename Add>
NETLENS_HD void avgPoolScatter(const Pool& g, bool countIncludePad, int divisorOverride, int64_t i, float dy, const Add& add) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  const PoolWindow w = avgPoolWindow(g, countIncludePad, divisorOverride, oh, ow);
  const float share = dy / w.divisor;
  for (int64_t ih = w.hStart; ih < w.hEnd; ++ih) {
    for (int64_t iw = w.wStart; iw < w.wEnd; ++iw) add(poolInputOffset(g, plane, ih, iw), share);
  }
}

/** Adaptive pooling's window [start, end) along one axis for output index `index` of `out` over `in`. */
NETLENS_HD int64_t adaptiveStart(int64_t index, int64_t out, int64_t in) { return (index * in) / out; }
NETLENS_HD int64_t adaptiveEnd(int64_t index, int64_t out, int64_t in) { return ((index + 1) * in + out - 1) / out; }

NETLENS_HD float adaptiveAvgPoolElement(const Pool& g, const float* x, int64_t i) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  const int64_t h0 = adaptiveStart(oh, g.outH, g.inH), h1 = adaptiveEnd(oh, g.outH, g.inH);
  const int64_t w0 = adaptiveStart(ow, g.outW, g.inW), w1 = adaptiveEnd(ow, g.outW, g.inW);
  float sum = 0.0f;
  for (int64_t ih = h0; ih < h1; ++ih) {
    for (int64_t iw = w0; iw < w1; ++iw) sum += x[poolInputOffset(g, plane, ih, iw)];
  }
  return sum / static_cast<float>((h1 - h0) * (w1 - w0));
}

template <typename Add>
NETLENS_HD void adaptiveAvgPoolScatter(const Pool& g, int64_t i, float dy, const Add& add) {
  int64_t plane = 0, oh = 0, ow = 0;
  poolOutputPosition(g, i, &plane, &oh, &ow);
  const int64_t h0 = adaptiveStart(oh, g.outH, g.inH), h1 = adaptiveEnd(oh, g.outH, g.inH);
  const int64_t w0 = adaptiveStart(ow, g.outW, g.inW), w1 = adaptiveEnd(ow, g.outW, g.inW);
  const float share = dy / static_cast<float>((h1 - h0) * (w1 - w0));
  for (int64_t ih = h0; ih < h1; ++ih) {
    for (int64_t iw = w0; iw < w1; ++iw) add(poolInputOffset(g, plane, ih, iw), share);
  }
}

// ---- batch norm ---------------------------------------------------------------------------------

struct BatchNorm {
  int64_t batch, channels, inner;
  float eps;
  float momentum;     // running-statistics factor; < 0: cumulative average (momentum=None)
  bool training;      // batch statistics (and running-statistics update when tracked)
  bool track;         // running_mean / running_var / num_batches_tracked exist
  bool channelsLast;  // x, y, dy, dx are NHWC (inner = H·W)
};

/** Offset of the k-th value (k < batch·inner, sample-major) of channel c. */
NETLENS_HD int64_t batchNormOffset(const BatchNorm& g, int64_t c, int64_t k) {
  return activationOffset(g.channelsLast, g.channels, g.inner, k / g.inner, c, k % g.inner);
}

/**
 * Channels-last batch norm reduces in two stages, so that a warp reads 32 adjacent channels of a row
 * (coalesced) and the whole GPU works: blocks of 32 channels × a chunk of rows write per-chunk partial
 * sums, then one thread per channel adds its chunks in order (deterministic). The chunk count aims at
 * ~528 blocks (4 per SM of an H100) with at least 64 rows a chunk.
 */
NETLENS_HD int64_t batchNormChunks(const BatchNorm& g) {
  const int64_t rows = g.batch * g.inner, tiles = (g.channels + 31) / 32;
  int64_t chunks = (528 + tiles - 1) / tiles;
  const int64_t most = (rows + 63) / 64;
  if (chunks > most) chunks = most;
  return chunks < 1 ? 1 : chunks;
}

/** The rows [*begin, *end) of chunk `chunk` (the last chunks may be empty). */
NETLENS_HD void batchNormChunkRows(const BatchNorm& g, int64_t chunks, int64_t chunk, int64_t* begin, int64_t* end) {
  const int64_t rows = g.batch * g.inner;
  const int64_t per = (rows + chunks - 1) / chunks;
  *begin = chunk * per < rows ? chunk * per : rows;
  *end = *begin + per < rows ? *begin + per : rows;
}

/** Doubles of scratch the channels-last kernels use: two partial sums a chunk and channel, two totals a channel. */
NETLENS_HD int64_t batchNormScratchDoubles(const BatchNorm& g) { return 2 * batchNormChunks(g) * g.channels + 2 * g.channels; }

/** y from x with the statistics used (mean m, 1/√(var + eps) s) and the optional affine parameters. */
NETLENS_HD float batchNormOutput(float x, float m, float s, const float* gamma, const float* beta, int64_t c) {
  if (gamma) return (x - m) * s * gamma[c] + (beta ? beta[c] : 0.0f);
  return x * s + ((beta ? beta[c] : 0.0f) - m * s);
}

/** A running statistic after one training batch (factor: momentum, or 1/(batches + 1) for momentum=None). */
NETLENS_HD float runningStatistic(float running, float batchValue, float factor) { return (1.0f - factor) * running + factor * batchValue; }

/**
 * dx of one value from the channel's Σdy and Σdy·x̂ (over `count` values): through the batch
 * statistics in training (or untracked eval), through the constant running statistics otherwise.
 */
NETLENS_HD float batchNormInputGradient(bool batchStats, float x, float dy, double m, double s, double gain, double sumDy,
                                        double sumDyXhat, int64_t count) {
  if (!batchStats) return dy * static_cast<float>(gain * s);
  const double meanDy = sumDy / static_cast<double>(count);
  const double meanDyXhat = sumDyXhat / static_cast<double>(count);
  const double xhat = (x - m) * s;
  return static_cast<float>(gain * s * (dy - meanDy - xhat * meanDyXhat));
}

// ---- dropout ------------------------------------------------------------------------------------

/**
 * A uniform number in [0, 1) for (seed, step, element): a splitmix64 finalizer, so streams need no
 * generator state. `element` is the value's NCHW offset in either layout, so a channels-last run
 * draws exactly the masks the NCHW run draws.
 */
NETLENS_HD float hashUniform(uint64_t seed, uint64_t counter, uint64_t element) {
  uint64_t z = seed ^ (counter * 0x9E3779B97F4A7C15ull) ^ (element * 0xD1B54A32D192ED03ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

/** Dropout's mask value (0 or 1/(1−p)) for the element stored at offset i; channels > 0: NHWC of that many channels. */
NETLENS_HD float dropoutMask(uint64_t seed, uint64_t step, int64_t i, float p, int64_t channels, int64_t spatial) {
  const float kept = p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
  const int64_t element = channels > 0 ? nchwOffsetOfNhwc(i, channels, spatial) : i;
  return hashUniform(seed, step, static_cast<uint64_t>(element)) >= p ? kept : 0.0f;
}

}  // namespace netlens::cuda::kernels
