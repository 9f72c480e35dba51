// Convolution as im2col + GEMM, one sample per task: samples are independent in the forward and
// input-gradient passes, and the weight gradient is summed from per-thread partial sums.
// Where oneDNN is installed its direct convolutions run instead (conv_onednn.cpp); these loops are
// the fallback and the reference its results are tested against.
#include <algorithm>
#include <vector>

#include "conv_onednn.h"
#include "kernels.h"

namespace netlens::cpu {
namespace {

int64_t columnRows(const ConvGeometry& g) { return (g.inChannels / g.groups) * g.kernelH * g.kernelW; }

bool isPointwise(const ConvGeometry& g) {
  return g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0 &&
         g.inH == g.outH && g.inW == g.outW;
}

// Output columns [first, last) whose input column ow·stride − pad + offset lies inside [0, inW).
void validColumns(const ConvGeometry& g, int64_t offset, int64_t& first, int64_t& last) {
  const int64_t shift = offset - g.padW;  // iw = ow·strideW + shift
  first = shift >= 0 ? 0 : (-shift + g.strideW - 1) / g.strideW;
  last = g.inW - shift <= 0 ? 0 : (g.inW - shift + g.strideW - 1) / g.strideW;
  last = std::min(last, g.outW);
  first = std::min(first, last);
}

// col[(c·kH + ki)·kW + kj, oh·outW + ow] = x[c, ih, iw] (zero outside the input) for one group.
// The in-range span of each row is found once, so the inner loop is a plain (often contiguous) copy.
void im2col(const ConvGeometry& g, const float* x, float* col) {
  const int64_t channels = g.inChannels / g.groups;
  const int64_t outPlane = g.outH * g.outW;
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * g.inH * g.inW;
    for (int64_t ki = 0; ki < g.kernelH; ++ki) {
      for (int64_t kj = 0; kj < g.kernelW; ++kj) {
        float* row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * outPlane;
        int64_t first = 0, last = 0;
        validColumns(g, kj * g.dilationW, first, last);
        const int64_t shift = kj * g.dilationW - g.padW;
        for (int64_t oh = 0; oh < g.outH; ++oh) {
          const int64_t ih = oh * g.strideH - g.padH + ki * g.dilationH;
          float* out = row + oh * g.outW;
          if (ih < 0 || ih >= g.inH) {
            std::fill(out, out + g.outW, 0.0f);
            continue;
          }
          const float* in = plane + ih * g.inW + shift;
          std::fill(out, out + first, 0.0f);
          if (g.strideW == 1) {
            std::copy(in + first, in + last, out + first);
          } else {
            for (int64_t ow = first; ow < last; ++ow) out[ow] = in[ow * g.strideW];
          }
          std::fill(out + last, out + g.outW, 0.0f);
        }
      }
    }
  }
}

// The adjoint of im2col: x[c, ih, iw] += col[...] (x must be zeroed by the caller).
void col2im(const ConvGeometry& g, const float* col, float* x) {
  const int64_t channels = g.inChannels / g.groups;
  const int64_t outPlane = g.outH * g.outW;
  for (int64_t c = 0; c < channels; ++c) {
    float* plane = x + c * g.inH * g.inW;
    for (int64_t ki = 0; ki < g.kernelH; ++ki) {
      for (int64_t kj = 0; kj < g.kernelW; ++kj) {
        const float* row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * outPlane;
        int64_t first = 0, last = 0;
        validColumns(g, kj * g.dilationW, first, last);
        const int64_t shift = kj * g.dilationW - g.padW;
        for (int64_t oh = 0; oh < g.outH; ++oh) {
          const int64_t ih = oh * g.strideH - g.padH + ki * g.dilationH;
          if (ih < 0 || ih >= g.inH) continue;
          float* in = plane + ih * g.inW + shift;
          const float* out = row + oh * g.outW;
          for (int64_t ow = first; ow < last; ++ow) in[ow * g.strideW] += out[ow];
        }
      }
    }
  }
}

// With one sample the GEMMs themselves are split across threads instead of the samples.
bool splitSamples(const ConvGeometry& g) { return g.batch > 1; }

bool hasWork(const ConvGeometry& g) {
  return g.batch > 0 && g.inChannels > 0 && g.outChannels > 0 && g.outH > 0 && g.outW > 0 && g.inH > 0 && g.inW > 0;
}

}  // namespace

void convForward(const ConvGeometry& g, const float* x, const float* w, float* y) {
  if (hasWork(g) && onednn::convolution(onednn::ConvPass::Forward, g, x, w, y)) return;
  const int64_t rows = columnRows(g);
  const int64_t outPlane = g.outH * g.outW;
  const int64_t groupIn = g.inChannels / g.groups;
  const int64_t groupOut = g.outChannels / g.groups;
  const bool pointwise = isPointwise(g);
  const bool perSample = splitSamples(g);
  parallelFor(g.batch, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<float> col(pointwise ? 0 : static_cast<size_t>(rows * outPlane));
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        const float* input = x + (n * g.inChannels + group * groupIn) * g.inH * g.inW;
        const float* columns = input;
        if (!pointwise) {
          im2col(g, input, col.data());
          columns = col.data();
        }
        gemm(false, false, groupOut, outPlane, rows, w + group * groupOut * rows, rows, columns, outPlane, 0.0f,
             y + (n * g.outChannels + group * groupOut) * outPlane, outPlane, !perSample);
      }
    }
  });
}

void convBackwardData(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  if (hasWork(g) && onednn::convolution(onednn::ConvPass::BackwardData, g, dy, w, dx)) return;
  const int64_t rows = columnRows(g);
  const int64_t outPlane = g.outH * g.outW;
  const int64_t groupIn = g.inChannels / g.groups;
  const int64_t groupOut = g.outChannels / g.groups;
  const bool pointwise = isPointwise(g);
  const bool perSample = splitSamples(g);
  parallelFor(g.batch, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<float> col(pointwise ? 0 : static_cast<size_t>(rows * outPlane));
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        float* input = dx + (n * g.inChannels + group * groupIn) * g.inH * g.inW;
        const float* gradOut = dy + (n * g.outChannels + group * groupOut) * outPlane;
        if (pointwise) {
          gemm(true, false, rows, outPlane, groupOut, w + group * groupOut * rows, rows, gradOut, outPlane, 0.0f,
               input, outPlane, !perSample);
          continue;
        }
        gemm(true, false, rows, outPlane, groupOut, w + group * groupOut * rows, rows, gradOut, outPlane, 0.0f,
             col.data(), outPlane, !perSample);
        std::fill(input, input + groupIn * g.inH * g.inW, 0.0f);
        col2im(g, col.data(), input);
      }
    }
  });
}

// Computed transposed, dwᵀ[rows, outChannels] += col · dyᵀ, because the GEMM packs its transposed
// operand and dy (outChannels × pixels) is smaller than col (rows × pixels).
void convBackwardWeight(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  if (hasWork(g) && onednn::convolution(onednn::ConvPass::BackwardWeight, g, x, dy, dw)) return;
  const int64_t rows = columnRows(g);
  const int64_t outPlane = g.outH * g.outW;
  const int64_t groupIn = g.inChannels / g.groups;
  const int64_t groupOut = g.outChannels / g.groups;
  const int64_t weightSize = g.outChannels * rows;
  const bool pointwise = isPointwise(g);
  const bool perSample = splitSamples(g);
  const int threads = threadCount();
  std::vector<std::vector<float>> partial(static_cast<size_t>(threads));  // per group: [rows, groupOut]
  parallelFor(g.batch, 1, [&](int64_t begin, int64_t end, int chunk) {
    std::vector<float>& sum = partial[static_cast<size_t>(chunk)];
    sum.assign(static_cast<size_t>(weightSize), 0.0f);
    std::vector<float> col(pointwise ? 0 : static_cast<size_t>(rows * outPlane));
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        const float* input = x + (n * g.inChannels + group * groupIn) * g.inH * g.inW;
        const float* columns = input;
        if (!pointwise) {
          im2col(g, input, col.data());
          columns = col.data();
        }
        gemm(false, true, rows, groupOut, outPlane, columns, outPlane, dy + (n * g.outChannels + group * groupOut) * outPlane,
             outPlane, 1.0f, sum.data() + group * groupOut * rows, groupOut, !perSample);
      }
    }
  });
  std::fill(dw, dw + weightSize, 0.0f);
  for (const std::vector<float>& sum : partial) {
    if (sum.empty()) continue;
    for (int64_t group = 0; group < g.groups; ++group) {
      const float* transposed = sum.data() + group * groupOut * rows;
      float* weight = dw + group * groupOut * rows;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < groupOut; ++o) weight[o * rows + r] += transposed[r * groupOut + o];
      }
    }
  }
}

void addChannelBias(int64_t batch, int64_t channels, int64_t inner, const float* bias, float* y) {
  parallelFor(batch * channels, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, inner)), [&](int64_t begin, int64_t end, int) {
    for (int64_t plane = begin; plane < end; ++plane) {
      float* out = y + plane * inner;
      const float value = bias[plane % channels];
      for (int64_t i = 0; i < inner; ++i) out[i] += value;
    }
  });
}

// Eight running sums side by side: the compiler keeps them in one vector register, where a single
// float accumulator would serialize every addition (ISO C++ forbids reassociating it for us).
void channelSum(int64_t batch, int64_t channels, int64_t inner, const float* dy, float* dbias) {
  parallelFor(channels, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      double sum = 0.0;
      for (int64_t n = 0; n < batch; ++n) {
        const float* grad = dy + (n * channels + c) * inner;
        float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8) {
          for (int lane = 0; lane < 8; ++lane) lanes[lane] += grad[i + lane];
        }
        float partial = 0.0f;
        for (; i < inner; ++i) partial += grad[i];
        for (float lane : lanes) partial += lane;
        sum += partial;
      }
      dbias[c] = static_cast<float>(sum);
    }
  });
}

}  // namespace netlens::cpu
