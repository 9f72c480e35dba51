// The per-element math and index mappings of the CUDA executor's LSTM/GRU kernels
// (recurrent_kernels.cu): one time step's fused gate update forward, its gate gradients backward, the
// rows the one-GEMM weight gradients cover, and the batch-first ⇄ time-major index map. Every function
// is NETLENS_HD: the kernels are thin loops around them, and recurrent_math_test (plain C++, no nvcc,
// runs in CI) replays a whole layer with them plus a host GEMM against the CPU reference
// (native/cpu/recurrent.cpp, the CPU Executor).
//
// Gate order and equations are PyTorch's (LSTM: i, f, g, o; GRU: r, z, n with
// n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))), term for term as the CPU kernel computes them, so on
// the host they agree with it bit for bit given the same GEMM results.
#pragma once

#include <math.h>

#include <cstdint>

#include "host_device.h"

namespace netlens::cuda::recurrent {

enum class Cell { Lstm, Gru };

NETLENS_HD int64_t gateCount(Cell cell) { return cell == Cell::Lstm ? 4 : 3; }
NETLENS_HD float sigmoidOf(float x) { return 1.0f / (1.0f + expf(-x)); }

/** The time index of processing step s (a reverse direction walks the sequence backwards). */
NETLENS_HD int64_t timeAt(int64_t steps, bool reverse, int64_t s) { return reverse ? steps - 1 - s : s; }

/** One step forward for every (b, j) of a [batch, hidden] state. Pointers are that step's rows. */
struct ForwardStep {
  Cell cell = Cell::Lstm;
  int64_t batch = 0, hidden = 0;
  const float* inputGates = nullptr;   // [batch, G·hidden] of time t: x_t·W_ihᵀ (bias not added)
  const float* hiddenGates = nullptr;  // [batch, G·hidden]: h_prev·W_hhᵀ; null at the first step (zero state)
  const float* biasIh = nullptr;       // [G·hidden] or null (bias=false)
  const float* biasHh = nullptr;
  const float* hPrev = nullptr;        // GRU: the previous output rows (stride hStride); null at the first step
  const float* cPrev = nullptr;        // LSTM: the previous cell [batch, hidden]; null at the first step
  float* gates = nullptr;              // [batch, G·hidden] of time t: the activated gates (saved for backward)
  float* extra = nullptr;              // [batch, hidden] of time t: LSTM's cell c_t, GRU's W_hn·h + b_hn
  float* h = nullptr;                  // the output rows of time t, row b at h + b·hStride
  int64_t hStride = 0;                 // directions·hidden: a direction writes its half of the layer output
  float* hLast = nullptr;              // last step only: h_n [batch, hidden], else null
  float* cLast = nullptr;              // last step only (LSTM): c_n, else null
};

NETLENS_HD void forwardElement(const ForwardStep& s, int64_t b, int64_t j) {
  const int64_t H = s.hidden, GH = gateCount(s.cell) * H;
  // (x·W_ih + b_ih) + (h·W_hh + b_hh), each sum in the CPU's order.
  const auto input = [&](int64_t gate) {
    const int64_t k = b * GH + gate * H + j;
    return s.inputGates[k] + (s.biasIh != nullptr ? s.biasIh[gate * H + j] : 0.0f);
  };
  const auto hidden = [&](int64_t gate) {
    const float product = s.hiddenGates != nullptr ? s.hiddenGates[b * GH + gate * H + j] : 0.0f;
    return product + (s.biasHh != nullptr ? s.biasHh[gate * H + j] : 0.0f);
  };
  float* gb = s.gates + b * GH;
  const int64_t at = b * H + j;
  float h = 0.0f;
  if (s.cell == Cell::Lstm) {
    const float i = sigmoidOf(input(0) + hidden(0));
    const float f = sigmoidOf(input(1) + hidden(1));
    const float g = tanhf(input(2) + hidden(2));
    const float o = sigmoidOf(input(3) + hidden(3));
    const float cPrev = s.cPrev != nullptr ? s.cPrev[at] : 0.0f;
    const float c = f * cPrev + i * g;
    gb[j] = i;
    gb[H + j] = f;
    gb[2 * H + j] = g;
    gb[3 * H + j] = o;
    s.extra[at] = c;
    h = o * tanhf(c);
    if (s.cLast != nullptr) s.cLast[at] = c;
  } else {
    const float hn = hidden(2);
    const float r = sigmoidOf(input(0) + hidden(0));
    const float z = sigmoidOf(input(1) + hidden(1));
    const float n = tanhf(input(2) + r * hn);
    const float hPrev = s.hPrev != nullptr ? s.hPrev[b * s.hStride + j] : 0.0f;
    gb[j] = r;
    gb[H + j] = z;
    gb[2 * H + j] = n;
    s.extra[at] = hn;
    h = (1.0f - z) * n + z * hPrev;
  }
  s.h[b * s.hStride + j] = h;
  if (s.hLast != nullptr) s.hLast[at] = h;
}

/**
 * One step backward for every (b, j). The gradient reaching h_t is dy_t + dh; the element writes the
 * gate gradients of time t and replaces dh[b, j] by the part of the previous state's gradient that
 * does not go through W_hh (GRU: z ⊙ grad; LSTM: 0), so that one GEMM with β = 1 then adds
 * dHidden_t·W_hh and dh holds the previous step's incoming gradient.
 */
struct BackwardStep {
  Cell cell = Cell::Lstm;
  int64_t batch = 0, hidden = 0;
  const float* gates = nullptr;   // [batch, G·hidden] of time t
  const float* extra = nullptr;   // [batch, hidden] of time t
  const float* cPrev = nullptr;   // LSTM: extra of the previous step; null at the first step
  const float* hPrev = nullptr;   // GRU: the previous output rows (stride hStride); null at the first step
  int64_t hStride = 0;
  const float* dy = nullptr;      // the output gradient rows of time t (stride hStride)
  float* dh = nullptr;            // [batch, hidden], in/out as described above
  float* dc = nullptr;            // LSTM: [batch, hidden] in/out (the cell's gradient from later steps)
  float* dInput = nullptr;        // [batch, G·hidden] of time t: the pre-activations' gradient, input side
  float* dHidden = nullptr;       // GRU: the hidden side (differs in n: dn·r); null for LSTM, where it equals dInput
};

NETLENS_HD void backwardElement(const BackwardStep& s, int64_t b, int64_t j) {
  const int64_t H = s.hidden, GH = gateCount(s.cell) * H;
  const int64_t at = b * H + j;
  const float grad = s.dy[b * s.hStride + j] + s.dh[at];
  const float* gb = s.gates + b * GH;
  float* di = s.dInput + b * GH;
  if (s.cell == Cell::Lstm) {
    const float i = gb[j], f = gb[H + j], g = gb[2 * H + j], o = gb[3 * H + j];
    const float c = s.extra[at];
    const float cPrev = s.cPrev != nullptr ? s.cPrev[at] : 0.0f;
    const float tc = tanhf(c);
    const float dcell = s.dc[at] + grad * o * (1.0f - tc * tc);
    di[j] = dcell * g * i * (1.0f - i);
    di[H + j] = dcell * cPrev * f * (1.0f - f);
    di[2 * H + j] = dcell * i * (1.0f - g * g);
    di[3 * H + j] = grad * tc * o * (1.0f - o);
    s.dc[at] = dcell * f;
    s.dh[at] = 0.0f;
  } else {
    const float r = gb[j], z = gb[H + j], n = gb[2 * H + j];
    const float hPrev = s.hPrev != nullptr ? s.hPrev[b * s.hStride + j] : 0.0f;
    const float dn = grad * (1.0f - z) * (1.0f - n * n);
    const float dz = grad * (hPrev - n) * z * (1.0f - z);
    const float dr = dn * s.extra[at] * r * (1.0f - r);
    di[j] = dr;
    di[H + j] = dz;
    di[2 * H + j] = dn;
    float* dhid = s.dHidden + b * GH;
    dhid[j] = dr;
    dhid[H + j] = dz;
    dhid[2 * H + j] = dn * r;
    s.dh[at] = grad * z;
  }
}

/**
 * dW_hh = Σ_t dHidden_tᵀ·h_prev(t) as one GEMM over (steps − 1)·batch rows: h_prev(t) is the output
 * at t − 1 (forward direction) or t + 1 (reverse), and zero at the first step processed, which
 * therefore adds nothing. Rows are [time, batch] rows of the time-major buffers.
 */
struct HiddenWeightSpan {
  int64_t gradientRow = 0;  // first row of dHidden
  int64_t stateRow = 0;     // first row of the direction's outputs
  int64_t rows = 0;         // (steps − 1)·batch; 0 for one step (dW_hh = 0)
};
NETLENS_HD HiddenWeightSpan hiddenWeightSpan(int64_t steps, int64_t batch, bool reverse) {
  HiddenWeightSpan span;
  span.gradientRow = reverse ? 0 : batch;
  span.stateRow = reverse ? batch : 0;
  span.rows = (steps - 1) * batch;
  return span;
}

/** [outer, inner, features] → [inner, outer, features]: the source offset of destination element i. */
NETLENS_HD int64_t swapLeadingSource(int64_t i, int64_t outer, int64_t inner, int64_t features) {
  const int64_t f = i % features;
  const int64_t row = i / features;  // destination row (a, b): a < inner, b < outer
  const int64_t a = row / outer, b = row % outer;
  return (b * inner + a) * features + f;
}

/** The dropout stream of the mask between layer `layer` and the next, from the node's own stream. */
NETLENS_HD uint64_t layerDropoutStream(uint64_t nodeStream, int64_t layer) {
  return nodeStream ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(layer + 1));
}

}  // namespace netlens::cuda::recurrent
