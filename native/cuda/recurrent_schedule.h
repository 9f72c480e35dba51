// The order of GEMMs and step kernels of an LSTM/GRU node (every layer and direction, batch_first,
// dropout between layers) on buffers the caller plans, written once over an `Ops` parameter so that
// the CUDA executor (cuBLAS and the kernels of recurrent_kernels.cu, all enqueued on one stream, so
// the whole schedule is captured in the step's CUDA graph) and recurrent_math_test (cpu::gemm and
// loops over recurrent_math.h on the host, compared with the CPU Executor) run the same code.
//
// Ops must provide, on row-major float buffers:
//   gemm(transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc)   C = op(A)·op(B) + beta·C
//   forwardStep(const ForwardStep&), backwardStep(const BackwardStep&)   every (b, j) of one step
//   sumRows(rows, cols, src, dst, accumulate)                      dst[j] (+)= Σ_r src[r, j]
//   copy(count, src, dst)  zero(count, dst)
//   swapLeadingAxes(outer, inner, features, src, dst, accumulate)  [outer, inner, f] → [inner, outer, f]
//   dropout(layer, count, x, mask, y)                              y = x ⊙ mask, a fresh mask per call
//   multiplyMask(count, dy, mask, dx)                              dx = dy ⊙ mask (in place allowed)
#pragma once

#include <cstdint>
#include <vector>

#include "recurrent_math.h"

namespace netlens::cuda::recurrent {

struct Geometry {
  Cell cell = Cell::Lstm;
  int64_t steps = 1, batch = 1, inputSize = 1, hidden = 1, layers = 1, directions = 1;
  bool batchFirst = false;
  int64_t gates() const { return gateCount(cell) * hidden; }
  int64_t layerInput(int64_t layer) const { return layer == 0 ? inputSize : directions * hidden; }
  /** Elements of one layer's time-major output [steps, batch, directions·hidden]. */
  int64_t layerOutput() const { return steps * batch * directions * hidden; }
};

/** One (layer, direction)'s parameters in PyTorch's layout; biases null when bias=false. */
struct Weights {
  const float *ih = nullptr, *hh = nullptr, *bih = nullptr, *bhh = nullptr;
};
/** Their gradients (null: not wanted) and whether each adds to what an earlier node wrote. */
struct WeightGradients {
  float *ih = nullptr, *hh = nullptr, *bih = nullptr, *bhh = nullptr;
  bool accumulateIh = false, accumulateHh = false, accumulateBih = false, accumulateBhh = false;
};

/**
 * The buffers of one node. Per layer l: outputs[l] [steps, batch, D·H] time-major (the last one may
 * be the node's value itself when not batch_first), and for l < layers − 1 with dropout, dropped[l]
 * and masks[l] of that size. Per (layer, direction) k = l·D + d: gates[k] [steps, batch, G·H] and
 * extra[k] [steps, batch, H]. Scratch shared by all layers (the schedule runs them in turn).
 */
struct Buffers {
  const float* x = nullptr;  // the node's input ([batch, steps, I] when batch_first)
  float* y = nullptr;        // the node's value ([batch, steps, D·H] when batch_first)
  float* xTime = nullptr;    // batch_first: the time-major input copy [steps, batch, I]
  std::vector<float*> outputs, dropped, masks, gates, extra;
  float* hN = nullptr;        // [layers·D, batch, H]
  float* cN = nullptr;        // LSTM
  float* dhN = nullptr;       // their gradients, added to by recurrent_state nodes' backward
  float* dcN = nullptr;
  float* inputGates = nullptr;   // [steps, batch, G·H]
  float* hiddenGates = nullptr;  // [batch, G·H]
  // backward
  float* dInput = nullptr;     // [steps, batch, G·H]
  float* dHidden = nullptr;    // GRU: [steps, batch, G·H]
  float* dh = nullptr;         // [batch, H]
  float* dc = nullptr;         // LSTM: [batch, H]
  float* dLayer[2] = {nullptr, nullptr};  // [steps, batch, D·H] each: a layer's output and input gradients in turn
  float* dxTime = nullptr;     // batch_first: the time-major input gradient
};

/**
 * Where a node's buffers live, as handles of type P (device offsets in the executor's memory plan,
 * host pointers in recurrent_math_test), `none` where a buffer is not needed: the time-major copies
 * unless batch_first, the last layer's output when it is the node's value (not batch_first), GRU's
 * dHidden, and dLayer[0] / dLayer[1] unless batch_first or several layers need them.
 */
template <typename P>
struct BufferPlan {
  P xTime{}, dxTime{};
  std::vector<P> outputs, dropped, masks, gates, extra;
  P hN{}, cN{}, dhN{}, dcN{}, inputGates{}, hiddenGates{}, dInput{}, dHidden{}, dh{}, dc{};
  P dLayer[2]{};
};

/** Sizes a node's buffers: `make(count)` reserves `count` floats. The executor and the host test both plan through it. */
template <typename P, typename Make>
BufferPlan<P> planBuffers(const Geometry& g, bool dropout, P none, Make make) {
  const int64_t T = g.steps, B = g.batch, H = g.hidden, GH = g.gates(), D = g.directions;
  BufferPlan<P> o;
  o.xTime = g.batchFirst ? make(T * B * g.inputSize) : none;
  o.dxTime = g.batchFirst ? make(T * B * g.inputSize) : none;
  for (int64_t layer = 0; layer < g.layers; ++layer) {
    o.outputs.push_back(layer == g.layers - 1 && !g.batchFirst ? none : make(g.layerOutput()));
    if (layer + 1 < g.layers && dropout) {
      o.dropped.push_back(make(g.layerOutput()));
      o.masks.push_back(make(g.layerOutput()));
    }
    for (int64_t direction = 0; direction < D; ++direction) {
      o.gates.push_back(make(T * B * GH));
      o.extra.push_back(make(T * B * H));
    }
  }
  const int64_t state = g.layers * D * B * H;
  o.hN = make(state);
  o.cN = make(state);
  o.dhN = make(state);
  o.dcN = make(state);
  o.inputGates = make(T * B * GH);
  o.hiddenGates = make(B * GH);
  o.dInput = make(T * B * GH);
  o.dHidden = g.cell == Cell::Gru ? make(T * B * GH) : none;
  o.dh = make(B * H);
  o.dc = make(B * H);
  // A layer's output gradient and its input's, in turn (the value's own gradient serves the last
  // layer when it is time-major already).
  o.dLayer[0] = g.batchFirst || g.layers > 1 ? make(g.layerOutput()) : none;
  o.dLayer[1] = g.layers > 1 ? make(g.layerOutput()) : none;
  return o;
}

/** The schedule's Buffers for a plan: `at(handle)` gives the floats a handle stands for; `none` gives null (the value y for the last layer's output). */
template <typename P, typename At>
Buffers buffersOf(const BufferPlan<P>& o, P none, const float* x, float* y, At at) {
  const auto pointer = [&](P handle) { return handle == none ? nullptr : at(handle); };
  const auto pointers = [&](const std::vector<P>& handles) {
    std::vector<float*> list;
    for (const P handle : handles) list.push_back(pointer(handle));
    return list;
  };
  Buffers b;
  b.x = x;
  b.y = y;
  b.xTime = pointer(o.xTime);
  b.dxTime = pointer(o.dxTime);
  for (const P handle : o.outputs) b.outputs.push_back(handle == none ? y : at(handle));
  b.dropped = pointers(o.dropped);
  b.masks = pointers(o.masks);
  b.gates = pointers(o.gates);
  b.extra = pointers(o.extra);
  b.hN = pointer(o.hN);
  b.cN = pointer(o.cN);
  b.dhN = pointer(o.dhN);
  b.dcN = pointer(o.dcN);
  b.inputGates = pointer(o.inputGates);
  b.hiddenGates = pointer(o.hiddenGates);
  b.dInput = pointer(o.dInput);
  b.dHidden = pointer(o.dHidden);
  b.dh = pointer(o.dh);
  b.dc = pointer(o.dc);
  b.dLayer[0] = pointer(o.dLayer[0]);
  b.dLayer[1] = pointer(o.dLayer[1]);
  return b;
}

/** The forward of every layer and direction; `dropout`: masks between layers are drawn (training, p > 0). */
template <typename Ops>
void scheduleForward(Ops& ops, const Geometry& g, const std::vector<Weights>& weights, const Buffers& buf, bool dropout) {
  const int64_t T = g.steps, B = g.batch, H = g.hidden, GH = g.gates(), D = g.directions, DH = D * H;
  const int64_t state = g.layers * D * B * H;
  // recurrent_state nodes add their gradients here during backward.
  ops.zero(state, buf.dhN);
  if (g.cell == Cell::Lstm) ops.zero(state, buf.dcN);
  const float* in = buf.x;
  if (g.batchFirst) {
    ops.swapLeadingAxes(B, T, g.inputSize, buf.x, buf.xTime, false);
    in = buf.xTime;
  }
  for (int64_t layer = 0; layer < g.layers; ++layer) {
    const int64_t inSize = g.layerInput(layer);
    float* out = buf.outputs[static_cast<size_t>(layer)];
    for (int64_t d = 0; d < D; ++d) {
      const size_t k = static_cast<size_t>(layer * D + d);
      const Weights& w = weights[k];
      const bool reverse = d == 1;
      // Every step's input projection at once: [T·B, I] · W_ihᵀ.
      ops.gemm(false, true, T * B, GH, inSize, in, inSize, w.ih, inSize, 0.0f, buf.inputGates, GH);
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = timeAt(T, reverse, s);
        const int64_t previous = s > 0 ? timeAt(T, reverse, s - 1) : 0;
        const float* hPrev = s > 0 ? out + previous * B * DH + d * H : nullptr;
        if (hPrev != nullptr) ops.gemm(false, true, B, GH, H, hPrev, DH, w.hh, H, 0.0f, buf.hiddenGates, GH);
        ForwardStep step;
        step.cell = g.cell;
        step.batch = B;
        step.hidden = H;
        step.inputGates = buf.inputGates + t * B * GH;
        step.hiddenGates = hPrev != nullptr ? buf.hiddenGates : nullptr;
        step.biasIh = w.bih;
        step.biasHh = w.bhh;
        step.hPrev = hPrev;
        step.cPrev = s > 0 ? buf.extra[k] + previous * B * H : nullptr;
        step.gates = buf.gates[k] + t * B * GH;
        step.extra = buf.extra[k] + t * B * H;
        step.h = out + t * B * DH + d * H;
        step.hStride = DH;
        step.hLast = s == T - 1 ? buf.hN + static_cast<int64_t>(k) * B * H : nullptr;
        step.cLast = s == T - 1 && g.cell == Cell::Lstm ? buf.cN + static_cast<int64_t>(k) * B * H : nullptr;
        ops.forwardStep(step);
      }
    }
    if (layer + 1 < g.layers) {
      if (dropout) {
        ops.dropout(layer, g.layerOutput(), out, buf.masks[static_cast<size_t>(layer)], buf.dropped[static_cast<size_t>(layer)]);
        in = buf.dropped[static_cast<size_t>(layer)];
      } else {
        in = out;
      }
    }
  }
  if (g.batchFirst) ops.swapLeadingAxes(T, B, DH, buf.outputs[static_cast<size_t>(g.layers - 1)], buf.y, false);
}

/**
 * Backward through time, layers in reverse. dy: the node value's gradient (batch-major when
 * batch_first); dx: the input's gradient or null, added to when accumulateDx. `dropout` as the
 * forward ran. dW_ih, dW_hh and the biases' gradients are one GEMM / row sum over all steps each.
 */
template <typename Ops>
void scheduleBackward(Ops& ops, const Geometry& g, const std::vector<Weights>& weights, const std::vector<WeightGradients>& grads,
                      const Buffers& buf, bool dropout, const float* dy, float* dx, bool accumulateDx) {
  const int64_t T = g.steps, B = g.batch, H = g.hidden, GH = g.gates(), D = g.directions, DH = D * H;
  const bool lstm = g.cell == Cell::Lstm;
  const float* dOut = dy;
  if (g.batchFirst) {
    ops.swapLeadingAxes(B, T, DH, dy, buf.dLayer[0], false);
    dOut = buf.dLayer[0];
  }
  float* const dHiddenAll = lstm ? buf.dInput : buf.dHidden;
  for (int64_t layer = g.layers - 1; layer >= 0; --layer) {
    const int64_t inSize = g.layerInput(layer);
    const float* in = layer == 0 ? (g.batchFirst ? buf.xTime : buf.x)
                                 : (dropout ? buf.dropped[static_cast<size_t>(layer - 1)] : buf.outputs[static_cast<size_t>(layer - 1)]);
    const float* out = buf.outputs[static_cast<size_t>(layer)];
    // Where this layer's input gradient goes: the other dLayer buffer, or (layer 0) dx.
    float* dIn = nullptr;
    bool accumulateIn = false;
    if (layer > 0) {
      dIn = dOut == buf.dLayer[0] ? buf.dLayer[1] : buf.dLayer[0];
    } else if (dx != nullptr) {
      dIn = g.batchFirst ? buf.dxTime : dx;
      accumulateIn = !g.batchFirst && accumulateDx;
    }
    for (int64_t d = 0; d < D; ++d) {
      const size_t k = static_cast<size_t>(layer * D + d);
      const Weights& w = weights[k];
      const WeightGradients& gw = grads[k];
      const bool reverse = d == 1;
      ops.copy(B * H, buf.dhN + static_cast<int64_t>(k) * B * H, buf.dh);
      if (lstm) ops.copy(B * H, buf.dcN + static_cast<int64_t>(k) * B * H, buf.dc);
      for (int64_t s = T - 1; s >= 0; --s) {
        const int64_t t = timeAt(T, reverse, s);
        const int64_t previous = s > 0 ? timeAt(T, reverse, s - 1) : 0;
        BackwardStep step;
        step.cell = g.cell;
        step.batch = B;
        step.hidden = H;
        step.gates = buf.gates[k] + t * B * GH;
        step.extra = buf.extra[k] + t * B * H;
        step.cPrev = s > 0 ? buf.extra[k] + previous * B * H : nullptr;
        step.hPrev = s > 0 ? out + previous * B * DH + d * H : nullptr;
        step.hStride = DH;
        step.dy = dOut + t * B * DH + d * H;
        step.dh = buf.dh;
        step.dc = lstm ? buf.dc : nullptr;
        step.dInput = buf.dInput + t * B * GH;
        step.dHidden = lstm ? nullptr : buf.dHidden + t * B * GH;
        ops.backwardStep(step);
        // The previous step's incoming gradient: dHidden_t · W_hh added to what the step left in dh.
        if (s > 0) ops.gemm(false, false, B, H, GH, dHiddenAll + t * B * GH, GH, w.hh, H, 1.0f, buf.dh, H);
      }
      if (gw.ih != nullptr) ops.gemm(true, false, GH, inSize, T * B, buf.dInput, GH, in, inSize, gw.accumulateIh ? 1.0f : 0.0f, gw.ih, inSize);
      if (gw.hh != nullptr) {
        const HiddenWeightSpan span = hiddenWeightSpan(T, B, reverse);
        if (span.rows > 0) {
          ops.gemm(true, false, GH, H, span.rows, dHiddenAll + span.gradientRow * GH, GH, out + span.stateRow * DH + d * H, DH,
                   gw.accumulateHh ? 1.0f : 0.0f, gw.hh, H);
        } else if (!gw.accumulateHh) {
          ops.zero(GH * H, gw.hh);
        }
      }
      if (gw.bih != nullptr) ops.sumRows(T * B, GH, buf.dInput, gw.bih, gw.accumulateBih);
      if (gw.bhh != nullptr) ops.sumRows(T * B, GH, dHiddenAll, gw.bhh, gw.accumulateBhh);
      // The directions' input gradients add up (the second onto the first).
      if (dIn != nullptr) {
        ops.gemm(false, false, T * B, inSize, GH, buf.dInput, GH, w.ih, inSize, d > 0 || accumulateIn ? 1.0f : 0.0f, dIn, inSize);
      }
    }
    if (layer > 0) {
      if (dropout) ops.multiplyMask(g.layerOutput(), dIn, buf.masks[static_cast<size_t>(layer - 1)], dIn);
      dOut = dIn;
    } else if (dIn != nullptr && g.batchFirst) {
      ops.swapLeadingAxes(T, B, g.inputSize, buf.dxTime, dx, accumulateDx);
    }
  }
}

}  // namespace netlens::cuda::recurrent
