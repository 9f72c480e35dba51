// Pooling with PyTorch's window rules (implicit -inf padding for max, the count_include_pad divisor
// for average, floor/ceil start and end for adaptive). Planes are independent, so they split across
// threads.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"

namespace netlens::cpu {

int64_t pooledExtent(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation, bool ceilMode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= in + pad) --out;
  return out;
}

void maxPoolForward(const PoolGeometry& g, const float* x, float* y, int64_t* indices) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * inPlane;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        int64_t hStart = oh * g.strideH - g.padH;
        const int64_t hEnd = std::min(hStart + (g.kernelH - 1) * g.dilationH + 1, g.inH);
        while (hStart < 0) hStart += g.dilationH;
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          int64_t wStart = ow * g.strideW - g.padW;
          const int64_t wEnd = std::min(wStart + (g.kernelW - 1) * g.dilationW + 1, g.inW);
          while (wStart < 0) wStart += g.dilationW;
          int64_t best = hStart * g.inW + wStart;
          float bestValue = -std::numeric_limits<float>::infinity();
          for (int64_t ih = hStart; ih < hEnd; ih += g.dilationH) {
            for (int64_t iw = wStart; iw < wEnd; iw += g.dilationW) {
              const float value = in[ih * g.inW + iw];
              if (value > bestValue || std::isnan(value)) {
                bestValue = value;
                best = ih * g.inW + iw;
              }
            }
          }
          y[p * outPlane + oh * g.outW + ow] = bestValue;
          indices[p * outPlane + oh * g.outW + ow] = best;
        }
      }
    }
  });
}

void maxPoolBackward(const PoolGeometry& g, const float* dy, const int64_t* indices, float* dx) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      float* grad = dx + p * inPlane;
      std::fill(grad, grad + inPlane, 0.0f);
      for (int64_t o = 0; o < outPlane; ++o) grad[indices[p * outPlane + o]] += dy[p * outPlane + o];
    }
  });
}

namespace {

struct AvgWindow {
  int64_t hStart, hEnd, wStart, wEnd;
  float divisor;
};

AvgWindow avgWindow(const PoolGeometry& g, bool countIncludePad, int64_t divisorOverride, int64_t oh, int64_t ow) {
  AvgWindow window{};
  window.hStart = oh * g.strideH - g.padH;
  window.wStart = ow * g.strideW - g.padW;
  window.hEnd = std::min(window.hStart + g.kernelH, g.inH + g.padH);
  window.wEnd = std::min(window.wStart + g.kernelW, g.inW + g.padW);
  const int64_t paddedSize = (window.hEnd - window.hStart) * (window.wEnd - window.wStart);
  window.hStart = std::max<int64_t>(window.hStart, 0);
  window.wStart = std::max<int64_t>(window.wStart, 0);
  window.hEnd = std::min(window.hEnd, g.inH);
  window.wEnd = std::min(window.wEnd, g.inW);
  const int64_t size = (window.hEnd - window.hStart) * (window.wEnd - window.wStart);
  if (divisorOverride > 0) {
    window.divisor = static_cast<float>(divisorOverride);
  } else {
    window.divisor = static_cast<float>(countIncludePad ? paddedSize : size);
  }
  return window;
}

}  // namespace

void avgPoolForward(const PoolGeometry& g, bool countIncludePad, int64_t divisorOverride, const float* x, float* y) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * inPlane;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const AvgWindow w = avgWindow(g, countIncludePad, divisorOverride, oh, ow);
          float sum = 0.0f;
          for (int64_t ih = w.hStart; ih < w.hEnd; ++ih) {
            for (int64_t iw = w.wStart; iw < w.wEnd; ++iw) sum += in[ih * g.inW + iw];
          }
          y[p * outPlane + oh * g.outW + ow] = (w.hStart < w.hEnd && w.wStart < w.wEnd) ? sum / w.divisor : 0.0f;
        }
      }
    }
  });
}

void avgPoolBackward(const PoolGeometry& g, bool countIncludePad, int64_t divisorOverride, const float* dy, float* dx) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      float* grad = dx + p * inPlane;
      std::fill(grad, grad + inPlane, 0.0f);
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const AvgWindow w = avgWindow(g, countIncludePad, divisorOverride, oh, ow);
          const float share = dy[p * outPlane + oh * g.outW + ow] / w.divisor;
          for (int64_t ih = w.hStart; ih < w.hEnd; ++ih) {
            for (int64_t iw = w.wStart; iw < w.wEnd; ++iw) grad[ih * g.inW + iw] += share;
          }
        }
      }
    }
  });
}

namespace {
int64_t adaptiveStart(int64_t index, int64_t out, int64_t in) { return (index * in) / out; }
int64_t adaptiveEnd(int64_t index, int64_t out, int64_t in) { return ((index + 1) * in + out - 1) / out; }
}  // namespace

void adaptiveAvgPoolForward(const PoolGeometry& g, const float* x, float* y) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * inPlane;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const int64_t h0 = adaptiveStart(oh, g.outH, g.inH), h1 = adaptiveEnd(oh, g.outH, g.inH);
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const int64_t w0 = adaptiveStart(ow, g.outW, g.inW), w1 = adaptiveEnd(ow, g.outW, g.inW);
          float sum = 0.0f;
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) sum += in[ih * g.inW + iw];
          }
          y[p * outPlane + oh * g.outW + ow] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

void adaptiveAvgPoolBackward(const PoolGeometry& g, const float* dy, float* dx) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      float* grad = dx + p * inPlane;
      std::fill(grad, grad + inPlane, 0.0f);
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const int64_t h0 = adaptiveStart(oh, g.outH, g.inH), h1 = adaptiveEnd(oh, g.outH, g.inH);
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const int64_t w0 = adaptiveStart(ow, g.outW, g.inW), w1 = adaptiveEnd(ow, g.outW, g.inW);
          const float share = dy[p * outPlane + oh * g.outW + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) grad[ih * g.inW + iw] += share;
          }
        }
      }
    }
  });
}

void adaptiveMaxPoolForward(const PoolGeometry& g, const float* x, float* y, int64_t* indices) {
  const int64_t inPlane = g.inH * g.inW;
  const int64_t outPlane = g.outH * g.outW;
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * inPlane;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const int64_t h0 = adaptiveStart(oh, g.outH, g.inH), h1 = adaptiveEnd(oh, g.outH, g.inH);
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const int64_t w0 = adaptiveStart(ow, g.outW, g.inW), w1 = adaptiveEnd(ow, g.outW, g.inW);
          int64_t best = h0 * g.inW + w0;
          float bestValue = -std::numeric_limits<float>::infinity();
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) {
              const float value = in[ih * g.inW + iw];
              if (value > bestValue || std::isnan(value)) {
                bestValue = value;
                best = ih * g.inW + iw;
              }
            }
          }
          y[p * outPlane + oh * g.outW + ow] = bestValue;
          indices[p * outPlane + oh * g.outW + ow] = best;
        }
      }
    }
  });
}

void maxUnpoolForward(int64_t planes, int64_t inPlane, int64_t outPlane, const float* x, const int64_t* indices,
                      float* y) {
  std::fill(y, y + planes * outPlane, 0.0f);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < inPlane; ++i) y[p * outPlane + indices[p * inPlane + i]] = x[p * inPlane + i];
  }
}

void maxUnpoolBackward(int64_t planes, int64_t inPlane, int64_t outPlane, const float* dy, const int64_t* indices,
                       float* dx) {
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < inPlane; ++i) dx[p * inPlane + i] = dy[p * outPlane + indices[p * inPlane + i]];
  }
}

}  // namespace netlens::cpu
