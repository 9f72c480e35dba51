// One direction of one LSTM or GRU layer over a time-major sequence, forward and backward through
// time, with PyTorch's gate order and equations (torch.nn.LSTM: i, f, g, o; torch.nn.GRU: r, z, n
// with n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))). The input projection of every step is one
// GEMM; the recurrence runs one GEMM per step.
#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace netlens::cpu {
namespace {

float sigmoidOf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

int64_t gateCount(RecurrentCell cell) { return cell == RecurrentCell::Lstm ? 4 : 3; }

// Adds bias[j] to every row of a [rows, cols] matrix.
void addRowBias(int64_t rows, int64_t cols, const float* bias, float* m) {
  if (bias == nullptr) return;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) m[r * cols + j] += bias[j];
  }
}

// The time index of processing step s.
int64_t timeAt(const RecurrentGeometry& g, int64_t s) { return g.reverse ? g.steps - 1 - s : s; }

}  // namespace

void recurrentForward(const RecurrentGeometry& g, const float* x, const float* wih, const float* whh, const float* bih,
                      const float* bhh, float* y, float* hLast, float* cLast, RecurrentSaved& saved) {
  const int64_t B = g.batch, H = g.hiddenSize, GH = gateCount(g.cell) * H, T = g.steps;
  saved.inputGates.resize(static_cast<size_t>(T * B * GH));
  saved.gates.resize(static_cast<size_t>(T * B * GH));
  saved.extra.resize(static_cast<size_t>(T * B * H));
  float* xg = saved.inputGates.data();
  gemm(false, true, T * B, GH, g.inputSize, x, g.inputSize, wih, g.inputSize, 0.0f, xg, GH, true);
  addRowBias(T * B, GH, bih, xg);
  std::vector<float> hg(static_cast<size_t>(B * GH));
  std::vector<float> zeros(static_cast<size_t>(B * H), 0.0f);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = timeAt(g, s);
    const float* hPrev = s == 0 ? zeros.data() : y + timeAt(g, s - 1) * B * H;
    gemm(false, true, B, GH, H, hPrev, H, whh, H, 0.0f, hg.data(), GH, true);
    addRowBias(B, GH, bhh, hg.data());
    const float* a = xg + t * B * GH;
    float* gates = saved.gates.data() + t * B * GH;
    float* extra = saved.extra.data() + t * B * H;  // LSTM: the cell state; GRU: W_hn·h + b_hn
    float* h = y + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const float* ab = a + b * GH;
      const float* hb = hg.data() + b * GH;
      float* gb = gates + b * GH;
      if (g.cell == RecurrentCell::Lstm) {
        const float* cPrev = s == 0 ? zeros.data() : saved.extra.data() + timeAt(g, s - 1) * B * H;
        for (int64_t j = 0; j < H; ++j) {
          const float i = sigmoidOf(ab[j] + hb[j]);
          const float f = sigmoidOf(ab[H + j] + hb[H + j]);
          const float c0 = std::tanh(ab[2 * H + j] + hb[2 * H + j]);
          const float o = sigmoidOf(ab[3 * H + j] + hb[3 * H + j]);
          const float c = f * cPrev[b * H + j] + i * c0;
          gb[j] = i;
          gb[H + j] = f;
          gb[2 * H + j] = c0;
          gb[3 * H + j] = o;
          extra[b * H + j] = c;
          h[b * H + j] = o * std::tanh(c);
        }
      } else {
        for (int64_t j = 0; j < H; ++j) {
          const float r = sigmoidOf(ab[j] + hb[j]);
          const float z = sigmoidOf(ab[H + j] + hb[H + j]);
          const float n = std::tanh(ab[2 * H + j] + r * hb[2 * H + j]);
          gb[j] = r;
          gb[H + j] = z;
          gb[2 * H + j] = n;
          extra[b * H + j] = hb[2 * H + j];
          h[b * H + j] = (1.0f - z) * n + z * hPrev[b * H + j];
        }
      }
    }
  }
  const int64_t last = timeAt(g, T - 1);
  std::copy(y + last * B * H, y + (last + 1) * B * H, hLast);
  if (cLast != nullptr && g.cell == RecurrentCell::Lstm) {
    std::copy(saved.extra.data() + last * B * H, saved.extra.data() + (last + 1) * B * H, cLast);
  }
}

void recurrentBackward(const RecurrentGeometry& g, const float* x, const float* wih, const float* whh, const float* y,
                       const RecurrentSaved& saved, const float* dy, const float* dhLast, const float* dcLast, float* dx,
                       float* dwih, float* dwhh, float* dbih, float* dbhh) {
  const int64_t B = g.batch, H = g.hiddenSize, GH = gateCount(g.cell) * H, T = g.steps;
  // Gradients of the gates' pre-activations: the input side (for W_ih, b_ih, x) for every step, and
  // the hidden side (for W_hh, b_hh, h) of the current step. They differ only in GRU's n gate.
  std::vector<float> dInput(static_cast<size_t>(T * B * GH));
  std::vector<float> dHidden(static_cast<size_t>(B * GH));
  std::vector<float> dh(static_cast<size_t>(B * H), 0.0f), dc(static_cast<size_t>(B * H), 0.0f);
  std::vector<float> carry(static_cast<size_t>(B * H));
  std::vector<float> zeros(static_cast<size_t>(B * H), 0.0f);
  if (dhLast) std::copy(dhLast, dhLast + B * H, dh.begin());
  if (dcLast && g.cell == RecurrentCell::Lstm) std::copy(dcLast, dcLast + B * H, dc.begin());
  if (dwhh) std::fill(dwhh, dwhh + GH * H, 0.0f);
  if (dbhh) std::fill(dbhh, dbhh + GH, 0.0f);
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = timeAt(g, s);
    const float* hPrev = s == 0 ? zeros.data() : y + timeAt(g, s - 1) * B * H;
    const float* gates = saved.gates.data() + t * B * GH;
    const float* extra = saved.extra.data() + t * B * H;
    const float* dyt = dy + t * B * H;
    float* di = dInput.data() + t * B * GH;
    for (int64_t b = 0; b < B; ++b) {
      const float* gb = gates + b * GH;
      float* dib = di + b * GH;
      float* dhb = dHidden.data() + b * GH;
      for (int64_t j = 0; j < H; ++j) {
        const int64_t at = b * H + j;
        const float grad = dyt[at] + dh[at];
        if (g.cell == RecurrentCell::Lstm) {
          const float i = gb[j], f = gb[H + j], c0 = gb[2 * H + j], o = gb[3 * H + j];
          const float c = extra[at];
          const float cPrev = s == 0 ? 0.0f : saved.extra[static_cast<size_t>(timeAt(g, s - 1) * B * H + at)];
          const float tc = std::tanh(c);
          const float dcell = dc[at] + grad * o * (1.0f - tc * tc);
          dib[j] = dcell * c0 * i * (1.0f - i);
          dib[H + j] = dcell * cPrev * f * (1.0f - f);
          dib[2 * H + j] = dcell * i * (1.0f - c0 * c0);
          dib[3 * H + j] = grad * tc * o * (1.0f - o);
          dhb[j] = dib[j];
          dhb[H + j] = dib[H + j];
          dhb[2 * H + j] = dib[2 * H + j];
          dhb[3 * H + j] = dib[3 * H + j];
          dc[at] = dcell * f;
          carry[at] = 0.0f;
        } else {
          const float r = gb[j], z = gb[H + j], n = gb[2 * H + j];
          const float dn = grad * (1.0f - z) * (1.0f - n * n);
          const float dz = grad * (hPrev[at] - n) * z * (1.0f - z);
          const float dr = dn * extra[at] * r * (1.0f - r);
          dib[j] = dr;
          dib[H + j] = dz;
          dib[2 * H + j] = dn;
          dhb[j] = dr;
          dhb[H + j] = dz;
          dhb[2 * H + j] = dn * r;
          carry[at] = grad * z;
        }
      }
    }
    if (dwhh) gemm(true, false, GH, H, B, dHidden.data(), GH, hPrev, H, 1.0f, dwhh, H, true);
    if (dbhh) {
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t j = 0; j < GH; ++j) dbhh[j] += dHidden[static_cast<size_t>(b * GH + j)];
      }
    }
    // dh for the previous step: through W_hh, plus GRU's direct z ⊙ h term.
    gemm(false, false, B, H, GH, dHidden.data(), GH, whh, H, 0.0f, dh.data(), H, true);
    for (int64_t at = 0; at < B * H; ++at) dh[at] += carry[at];
  }
  if (dwih) gemm(true, false, GH, g.inputSize, T * B, dInput.data(), GH, x, g.inputSize, 0.0f, dwih, g.inputSize, true);
  if (dbih) {
    std::fill(dbih, dbih + GH, 0.0f);
    for (int64_t r = 0; r < T * B; ++r) {
      for (int64_t j = 0; j < GH; ++j) dbih[j] += dInput[static_cast<size_t>(r * GH + j)];
    }
  }
  if (dx) gemm(false, false, T * B, g.inputSize, GH, dInput.data(), GH, wih, g.inputSize, 0.0f, dx, g.inputSize, true);
}

}  // namespace netlens::cpu
