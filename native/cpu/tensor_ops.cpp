// Softmax, PReLU, broadcasting element-wise arithmetic, permutation, local response
// normalization and nearest/bilinear resizing: the ops whose work is data movement or a short reduction per element. The
// gradient formulas are the ones PyTorch's autograd uses, so results match it to rounding.
#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace netlens::cpu {

// ---- softmax -------------------------------------------------------------------------------------

void softmaxForward(bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y) {
  parallelFor(outer * inner, 64, [&](int64_t begin, int64_t end, int) {
    for (int64_t line = begin; line < end; ++line) {
      const int64_t base = (line / inner) * extent * inner + line % inner;
      float peak = x[base];
      for (int64_t i = 1; i < extent; ++i) peak = std::max(peak, x[base + i * inner]);
      double sum = 0.0;
      for (int64_t i = 0; i < extent; ++i) sum += std::exp(static_cast<double>(x[base + i * inner] - peak));
      if (logSoftmax) {
        const float logSum = static_cast<float>(std::log(sum));
        for (int64_t i = 0; i < extent; ++i) y[base + i * inner] = x[base + i * inner] - peak - logSum;
      } else {
        const double inverse = 1.0 / sum;
        for (int64_t i = 0; i < extent; ++i) {
          y[base + i * inner] = static_cast<float>(std::exp(static_cast<double>(x[base + i * inner] - peak)) * inverse);
        }
      }
    }
  });
}

void softmaxBackward(bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* y, const float* dy,
                     float* dx) {
  parallelFor(outer * inner, 64, [&](int64_t begin, int64_t end, int) {
    for (int64_t line = begin; line < end; ++line) {
      const int64_t base = (line / inner) * extent * inner + line % inner;
      double dot = 0.0;
      for (int64_t i = 0; i < extent; ++i) {
        const int64_t at = base + i * inner;
        dot += logSoftmax ? static_cast<double>(dy[at]) : static_cast<double>(dy[at]) * y[at];
      }
      const float total = static_cast<float>(dot);
      for (int64_t i = 0; i < extent; ++i) {
        const int64_t at = base + i * inner;
        dx[at] = logSoftmax ? dy[at] - std::exp(y[at]) * total : y[at] * (dy[at] - total);
      }
    }
  });
}

// ---- PReLU ---------------------------------------------------------------------------------------

void preluForward(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* w, int64_t weights,
                  float* y) {
  parallelFor(batch * channels, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const float slope = w[weights == 1 ? 0 : plane % channels];
      const float* in = x + plane * inner;
      float* out = y + plane * inner;
      for (int64_t i = 0; i < inner; ++i) out[i] = in[i] > 0.0f ? in[i] : slope * in[i];
    }
  });
}

void preluBackward(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* w, int64_t weights,
                   const float* dy, float* dx, float* dw) {
  if (dx) {
    parallelFor(batch * channels, 4, [&](int64_t begin, int64_t end, int) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const float slope = w[weights == 1 ? 0 : plane % channels];
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t at = plane * inner + i;
          dx[at] = x[at] > 0.0f ? dy[at] : slope * dy[at];
        }
      }
    });
  }
  if (dw) {
    std::vector<double> sums(static_cast<size_t>(weights), 0.0);
    for (int64_t plane = 0; plane < batch * channels; ++plane) {
      double sum = 0.0;
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = plane * inner + i;
        if (x[at] <= 0.0f) sum += static_cast<double>(x[at]) * dy[at];
      }
      sums[static_cast<size_t>(weights == 1 ? 0 : plane % channels)] += sum;
    }
    for (int64_t c = 0; c < weights; ++c) dw[c] = static_cast<float>(sums[static_cast<size_t>(c)]);
  }
}

// ---- broadcasting element-wise arithmetic --------------------------------------------------------

Broadcast Broadcast::coalesced() const {
  Broadcast merged;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // a unit dimension moves neither operand
    if (!merged.shape.empty()) {
      const size_t last = merged.shape.size() - 1;
      // Dimension `last` steps over dimension d exactly when its stride is d's stride times d's extent.
      if (merged.aStrides[last] == aStrides[d] * shape[d] && merged.bStrides[last] == bStrides[d] * shape[d]) {
        merged.shape[last] *= shape[d];
        merged.aStrides[last] = aStrides[d];
        merged.bStrides[last] = bStrides[d];
        continue;
      }
    }
    merged.shape.push_back(shape[d]);
    merged.aStrides.push_back(aStrides[d]);
    merged.bStrides.push_back(bStrides[d]);
  }
  if (merged.shape.empty()) {
    merged.shape = {1};
    merged.aStrides = {0};
    merged.bStrides = {0};
  }
  return merged;
}

namespace {

float apply(Binary op, float alpha, float a, float b) {
  switch (op) {
    case Binary::Add: return a + alpha * b;
    case Binary::Sub: return a - alpha * b;
    case Binary::Mul: return a * b;
    case Binary::Div: return a / b;
  }
  return a;
}

// Calls body(row, aOffset, bOffset) for every row of the last dimension, rows in [begin, end).
template <typename Body>
void forEachRow(const Broadcast& s, int64_t begin, int64_t end, Body&& body) {
  const size_t rank = s.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t aOffset = 0, bOffset = 0;
  int64_t rest = begin;
  for (size_t d = rank - 1; d-- > 0;) {
    index[d] = rest % s.shape[d];
    rest /= s.shape[d];
    aOffset += index[d] * s.aStrides[d];
    bOffset += index[d] * s.bStrides[d];
  }
  for (int64_t row = begin; row < end; ++row) {
    body(row, aOffset, bOffset);
    for (size_t d = rank - 1; d-- > 0;) {
      ++index[d];
      aOffset += s.aStrides[d];
      bOffset += s.bStrides[d];
      if (index[d] < s.shape[d]) break;
      aOffset -= s.aStrides[d] * index[d];
      bOffset -= s.bStrides[d] * index[d];
      index[d] = 0;
    }
  }
}

}  // namespace

void binaryForward(Binary op, const Broadcast& shape, float alpha, const float* a, const float* b, float* y) {
  const Broadcast s = shape.coalesced();
  const int64_t width = s.shape.back();
  const int64_t aStep = s.aStrides.back(), bStep = s.bStrides.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < s.shape.size(); ++d) rows *= s.shape[d];
  parallelFor(rows, std::max<int64_t>(1, 8192 / width), [&](int64_t begin, int64_t end, int) {
    forEachRow(s, begin, end, [&](int64_t row, int64_t aOffset, int64_t bOffset) {
      float* out = y + row * width;
      for (int64_t i = 0; i < width; ++i) out[i] = apply(op, alpha, a[aOffset + i * aStep], b[bOffset + i * bStep]);
    });
  });
}

void binaryBackward(Binary op, const Broadcast& shape, float alpha, const float* a, const float* b, const float* dy,
                    float* da, int64_t aCount, float* db, int64_t bCount) {
  const Broadcast s = shape.coalesced();
  const int64_t width = s.shape.back();
  const int64_t aStep = s.aStrides.back(), bStep = s.bStrides.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < s.shape.size(); ++d) rows *= s.shape[d];
  // A broadcast operand sums contributions from many outputs: accumulate into zeroed buffers, on
  // one thread (the rows that share an element can fall to different threads).
  if (da) std::fill(da, da + aCount, 0.0f);
  if (db) std::fill(db, db + bCount, 0.0f);
  forEachRow(s, 0, rows, [&](int64_t row, int64_t aOffset, int64_t bOffset) {
    const float* grad = dy + row * width;
    for (int64_t i = 0; i < width; ++i) {
      const int64_t ai = aOffset + i * aStep, bi = bOffset + i * bStep;
      switch (op) {
        case Binary::Add:
        case Binary::Sub:
          if (da) da[ai] += grad[i];
          if (db) db[bi] += (op == Binary::Add ? alpha : -alpha) * grad[i];
          break;
        case Binary::Mul:
          if (da) da[ai] += grad[i] * b[bi];
          if (db) db[bi] += grad[i] * a[ai];
          break;
        case Binary::Div:
          if (da) da[ai] += grad[i] / b[bi];
          if (db) db[bi] += -grad[i] * a[ai] / (b[bi] * b[bi]);
          break;
      }
    }
  });
}

// ---- permutation ---------------------------------------------------------------------------------

void permute(const std::vector<int64_t>& xShape, const std::vector<int64_t>& dims, const float* x, float* y) {
  const size_t rank = xShape.size();
  std::vector<int64_t> xStrides(rank, 1);
  for (size_t d = rank; d-- > 1;) xStrides[d - 1] = xStrides[d] * xShape[d];
  // Walk y in order; its dimension d steps x by the stride of x's dimension dims[d].
  Broadcast walk;
  for (size_t d = 0; d < rank; ++d) {
    walk.shape.push_back(xShape[static_cast<size_t>(dims[d])]);
    walk.aStrides.push_back(xStrides[static_cast<size_t>(dims[d])]);
    walk.bStrides.push_back(0);
  }
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  const int64_t width = walk.shape.back();
  const int64_t step = walk.aStrides.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d) rows *= walk.shape[d];
  parallelFor(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width)), [&](int64_t begin, int64_t end, int) {
    forEachRow(walk, begin, end, [&](int64_t row, int64_t offset, int64_t) {
      float* out = y + row * width;
      for (int64_t i = 0; i < width; ++i) out[i] = x[offset + i * step];
    });
  });
}

// ---- local response normalization ----------------------------------------------------------------

void lrnForward(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, float k,
                const float* x, float* y, float* scale) {
  const int64_t before = size / 2, after = (size - 1) / 2;
  const float perSize = alpha / static_cast<float>(size);
  parallelFor(batch, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      const float* in = x + n * channels * inner;
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t first = std::max<int64_t>(0, c - before), last = std::min(channels - 1, c + after);
        float* s = scale + (n * channels + c) * inner;
        std::fill(s, s + inner, 0.0f);
        for (int64_t j = first; j <= last; ++j) {
          const float* row = in + j * inner;
          for (int64_t i = 0; i < inner; ++i) s[i] += row[i] * row[i];
        }
        float* out = y + (n * channels + c) * inner;
        const float* row = in + c * inner;
        for (int64_t i = 0; i < inner; ++i) {
          s[i] = k + perSize * s[i];
          out[i] = row[i] * std::pow(s[i], -beta);
        }
      }
    }
  });
}

void lrnBackward(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, const float* x,
                 const float* scale, const float* dy, float* dx) {
  // y_j = x_j·s_j^−β with s_j = k + α/size·Σ_{i∈window(j)} x_i², so
  // dx_i = dy_i·s_i^−β − 2β·α/size·x_i·Σ_{j: i∈window(j)} dy_j·x_j·s_j^(−β−1).
  const int64_t before = size / 2, after = (size - 1) / 2;
  const float perSize = alpha / static_cast<float>(size);
  parallelFor(batch, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<float> term(static_cast<size_t>(channels * inner));
    for (int64_t n = begin; n < end; ++n) {
      const int64_t base = n * channels * inner;
      for (int64_t at = 0; at < channels * inner; ++at) {
        term[at] = dy[base + at] * x[base + at] * std::pow(scale[base + at], -beta - 1.0f);
      }
      for (int64_t c = 0; c < channels; ++c) {
        // Channel c lies in the windows of channels c − after … c + before.
        const int64_t first = std::max<int64_t>(0, c - after), last = std::min(channels - 1, c + before);
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t at = base + c * inner + i;
          float sum = 0.0f;
          for (int64_t j = first; j <= last; ++j) sum += term[j * inner + i];
          dx[at] = dy[at] * std::pow(scale[at], -beta) - 2.0f * beta * perSize * x[at] * sum;
        }
      }
    }
  });
}

// ---- resizing (F.interpolate, nn.Upsample) -------------------------------------------------------

namespace {

// PyTorch's area_pixel_compute_scale: how far one output step moves in the input.
double sourceStep(int64_t in, int64_t out, bool alignCorners, double scale) {
  if (alignCorners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  return scale > 0.0 ? 1.0 / scale : static_cast<double>(in) / static_cast<double>(out);
}

// For each output index along one axis: the two source indices and the second one's weight.
struct Taps {
  std::vector<int64_t> low, high;
  std::vector<float> weight;
};
Taps tapsFor(const ResizeGeometry& g, int64_t in, int64_t out, double scale) {
  Taps taps;
  const double step = sourceStep(in, out, g.alignCorners, scale);
  for (int64_t o = 0; o < out; ++o) {
    if (!g.bilinear) {
      // Legacy "nearest": floor(o · step), clamped to the input.
      const int64_t source = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * static_cast<float>(step))), in - 1);
      taps.low.push_back(source);
      taps.high.push_back(source);
      taps.weight.push_back(0.0f);
      continue;
    }
    float source = g.alignCorners ? static_cast<float>(step * static_cast<double>(o))
                                  : static_cast<float>(step * (static_cast<double>(o) + 0.5) - 0.5);
    if (source < 0.0f) source = 0.0f;
    const int64_t low = std::min(static_cast<int64_t>(source), in - 1);
    taps.low.push_back(low);
    taps.high.push_back(std::min(low + 1, in - 1));
    taps.weight.push_back(source - static_cast<float>(low));
  }
  return taps;
}

}  // namespace

void resizeForward(const ResizeGeometry& g, const float* x, float* y) {
  const Taps rows = tapsFor(g, g.inH, g.outH, g.scaleH);
  const Taps cols = tapsFor(g, g.inW, g.outW, g.scaleW);
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * g.inH * g.inW;
      float* out = y + p * g.outH * g.outW;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const float* r0 = in + rows.low[oh] * g.inW;
        const float* r1 = in + rows.high[oh] * g.inW;
        const float wh = rows.weight[oh];
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const int64_t c0 = cols.low[ow], c1 = cols.high[ow];
          const float ww = cols.weight[ow];
          out[oh * g.outW + ow] = (1.0f - wh) * ((1.0f - ww) * r0[c0] + ww * r0[c1]) + wh * ((1.0f - ww) * r1[c0] + ww * r1[c1]);
        }
      }
    }
  });
}

void resizeBackward(const ResizeGeometry& g, const float* dy, float* dx) {
  const Taps rows = tapsFor(g, g.inH, g.outH, g.scaleH);
  const Taps cols = tapsFor(g, g.inW, g.outW, g.scaleW);
  parallelFor(g.planes, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      float* grad = dx + p * g.inH * g.inW;
      std::fill(grad, grad + g.inH * g.inW, 0.0f);
      const float* from = dy + p * g.outH * g.outW;
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const float wh = rows.weight[oh];
        float* r0 = grad + rows.low[oh] * g.inW;
        float* r1 = grad + rows.high[oh] * g.inW;
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          const int64_t c0 = cols.low[ow], c1 = cols.high[ow];
          const float ww = cols.weight[ow];
          const float d = from[oh * g.outW + ow];
          r0[c0] += (1.0f - wh) * (1.0f - ww) * d;
          r0[c1] += (1.0f - wh) * ww * d;
          r1[c0] += wh * (1.0f - ww) * d;
          r1[c1] += wh * ww * d;
        }
      }
    }
  });
}

}  // namespace netlens::cpu
