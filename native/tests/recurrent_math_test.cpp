// The CUDA executor's LSTM/GRU path without a GPU: recurrent_schedule.h (the exact GEMM / step
// sequence the executor enqueues) run on the host with cpu::gemm for cuBLAS and loops over
// recurrent_math.h's element functions for the kernels, against the CPU Executor's lstm / gru /
// recurrent_state nodes (native/core/ops.cpp over native/cpu/recurrent.cpp): the output, h_n, c_n,
// the input gradient and every weight and bias gradient, for one and two layers, bidirectional,
// batch_first, bias=false, a single step, and dropout between layers (against the CPU kernels composed
// with the same mask). Plain C++ without CUDA, so it runs in CI where no GPU exists.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels.h"
#include "netlens/executor.h"
#include "netlens/graph_spec.h"
#include "recurrent_math.h"
#include "recurrent_schedule.h"
#include "math_test_support.h"

using namespace netlens;
using namespace netlens::test;
namespace recurrent = netlens::cuda::recurrent;

namespace {

Tensor randomTensor(const Shape& shape, Rng& rng) { return uniformTensor(shape, rng); }

// The kernels and cuBLAS of the executor, on the host: the element functions one (b, j) at a time.
struct HostOps {
  std::vector<std::vector<float>> masks;  // dropout: the mask of each layer, given by the test
  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
            float beta, float* C, int64_t ldc) {
    cpu::gemm(transA, transB, M, N, K, A, lda, B, ldb, beta, C, ldc, false);
  }
  void forwardStep(const recurrent::ForwardStep& step) {
    for (int64_t b = 0; b < step.batch; ++b) {
      for (int64_t j = 0; j < step.hidden; ++j) recurrent::forwardElement(step, b, j);
    }
  }
  void backwardStep(const recurrent::BackwardStep& step) {
    for (int64_t b = 0; b < step.batch; ++b) {
      for (int64_t j = 0; j < step.hidden; ++j) recurrent::backwardElement(step, b, j);
    }
  }
  void sumRows(int64_t rows, int64_t cols, const float* src, float* dst, bool accumulate) {
    for (int64_t j = 0; j < cols; ++j) {
      double sum = 0.0;  // as the sumRows kernel adds
      for (int64_t r = 0; r < rows; ++r) sum += src[r * cols + j];
      dst[j] = accumulate ? dst[j] + static_cast<float>(sum) : static_cast<float>(sum);
    }
  }
  void copy(int64_t count, const float* src, float* dst) { std::copy(src, src + count, dst); }
  void zero(int64_t count, float* dst) { std::fill(dst, dst + count, 0.0f); }
  void swapLeadingAxes(int64_t outer, int64_t inner, int64_t features, const float* src, float* dst, bool accumulate) {
    for (int64_t i = 0; i < outer * inner * features; ++i) {
      const float value = src[recurrent::swapLeadingSource(i, outer, inner, features)];
      dst[i] = accumulate ? dst[i] + value : value;
    }
  }
  void dropout(int64_t layer, int64_t count, const float* x, float* mask, float* y) {
    const std::vector<float>& given = masks.at(static_cast<size_t>(layer));
    for (int64_t i = 0; i < count; ++i) {
      mask[i] = given[static_cast<size_t>(i)];
      y[i] = x[i] * mask[i];
    }
  }
  void multiplyMask(int64_t count, const float* dy, const float* mask, float* dx) {
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * mask[i];
  }
};

// Host storage for a schedule's buffers, planned by recurrent::planBuffers exactly as the executor plans
// its device buffers (including the ones it leaves out), so the test runs the executor's sizes.
struct HostPlan {
  recurrent::Geometry g;
  std::vector<std::vector<float>> storage;
  recurrent::Buffers buf;
  float* make(int64_t count) {
    storage.emplace_back(static_cast<size_t>(count), 0.0f);
    return storage.back().data();
  }
  explicit HostPlan(const recurrent::Geometry& geometry, bool dropout) : g(geometry) {
    float* const y = make(g.layerOutput());
    const auto plan = recurrent::planBuffers<float*>(g, dropout, nullptr, [&](int64_t count) { return make(count); });
    buf = recurrent::buffersOf(plan, static_cast<float*>(nullptr), nullptr, y, [](float* pointer) { return pointer; });
  }
};

struct Config {
  std::string name;
  recurrent::Cell cell;
  int64_t steps, batch, inputSize, hidden, layers;
  bool bidirectional, batchFirst, bias;
};

std::string suffix(int64_t layer, int64_t direction) { return "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : ""); }

// One configuration: the schedule on the host against the CPU Executor, forward and backward.
void againstExecutor(const Config& c) {
  const bool lstm = c.cell == recurrent::Cell::Lstm;
  const int64_t D = c.bidirectional ? 2 : 1;
  const Shape xShape = c.batchFirst ? Shape{c.batch, c.steps, c.inputSize} : Shape{c.steps, c.batch, c.inputSize};
  const std::string attrs = "{\"input_size\":" + std::to_string(c.inputSize) + ",\"hidden_size\":" + std::to_string(c.hidden) +
                            ",\"num_layers\":" + std::to_string(c.layers) + ",\"bidirectional\":" + (c.bidirectional ? "true" : "false") +
                            ",\"batch_first\":" + (c.batchFirst ? "true" : "false") + ",\"bias\":" + (c.bias ? "true" : "false") +
                            // dropout is inactive in eval mode; the dropout case below covers training.
                            ",\"dropout\":0.25}";
  const std::string spec = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + std::to_string(xShape[0]) + "," + std::to_string(xShape[1]) + "," +
                           std::to_string(xShape[2]) + "]}],\"nodes\":[{\"id\":\"r\",\"op\":\"" + (lstm ? "lstm" : "gru") +
                           "\",\"inputs\":[\"x\"],\"attrs\":" + attrs +
                           "},{\"id\":\"h\",\"op\":\"recurrent_state\",\"inputs\":[\"r\"],\"attrs\":{\"state\":\"h\"}}," +
                           "{\"id\":\"c\",\"op\":\"recurrent_state\",\"inputs\":[\"r\"],\"attrs\":{\"state\":\"c\"}}],\"outputs\":[\"r\",\"h\",\"c\"]}";
  Executor cpu(parseGraphSpec(spec), 3);
  cpu.setTraining(false);
  Rng rng(17);
  const Tensor x = randomTensor(xShape, rng);
  cpu.forward({{"x", x}});
  const Shape stateShape{c.layers * D, c.batch, c.hidden};
  const Tensor dy = randomTensor(cpu.value("r").shape, rng);
  const Tensor dhN = randomTensor(stateShape, rng);
  const Tensor dcN = randomTensor(stateShape, rng);
  cpu.backward({{"r", dy}, {"h", dhN}, {"c", dcN}});

  recurrent::Geometry g;
  g.cell = c.cell;
  g.steps = c.steps;
  g.batch = c.batch;
  g.inputSize = c.inputSize;
  g.hidden = c.hidden;
  g.layers = c.layers;
  g.directions = D;
  g.batchFirst = c.batchFirst;
  HostPlan plan(g, false);
  plan.buf.x = x.ptr();
  std::vector<Tensor> parameters;
  parameters.reserve(static_cast<size_t>(4 * c.layers * D));
  std::vector<recurrent::Weights> weights;
  std::vector<recurrent::WeightGradients> grads;
  std::vector<std::pair<std::string, Tensor>> gradTensors;  // name → the host schedule's gradient
  gradTensors.reserve(static_cast<size_t>(4 * c.layers * D));
  for (int64_t l = 0; l < c.layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      recurrent::Weights w;
      recurrent::WeightGradients gw;
      const auto take = [&](const std::string& role, const float** value, float** gradient) {
        const std::string name = "r." + role + suffix(l, d);
        parameters.push_back(cpu.state(name));
        *value = parameters.back().ptr();
        gradTensors.emplace_back(name, Tensor(parameters.back().shape));
        *gradient = gradTensors.back().second.ptr();
      };
      take("weight_ih", &w.ih, &gw.ih);
      take("weight_hh", &w.hh, &gw.hh);
      if (c.bias) {
        take("bias_ih", &w.bih, &gw.bih);
        take("bias_hh", &w.bhh, &gw.bhh);
      }
      weights.push_back(w);
      grads.push_back(gw);
    }
  }
  HostOps ops;
  recurrent::scheduleForward(ops, g, weights, plan.buf, false);
  const Tensor y(cpu.value("r").shape, std::vector<float>(plan.buf.y, plan.buf.y + g.layerOutput()));
  const int64_t state = c.layers * D * c.batch * c.hidden;
  const Tensor hN(stateShape, std::vector<float>(plan.buf.hN, plan.buf.hN + state));
  const Tensor cN(stateShape, std::vector<float>(plan.buf.cN, plan.buf.cN + state));
  // The same GEMMs and element math in the same order: equal up to the GEMM's row split.
  expectClose(y, cpu.value("r"), 1e-6, c.name + ": output");
  expectClose(hN, cpu.value("h"), 1e-6, c.name + ": h_n");
  if (lstm) expectClose(cN, cpu.value("c"), 1e-6, c.name + ": c_n");
  // What recurrent_state nodes' backward leaves in dhN / dcN.
  std::copy(dhN.data.begin(), dhN.data.end(), plan.buf.dhN);
  if (lstm) std::copy(dcN.data.begin(), dcN.data.end(), plan.buf.dcN);
  Tensor dx(xShape);
  recurrent::scheduleBackward(ops, g, weights, grads, plan.buf, false, dy.ptr(), dx.ptr(), false);
  // dW_hh is one GEMM over all steps here and a per-step sum on the CPU: rounding order differs.
  constexpr double kBackward = 2e-6;
  expectClose(dx, cpu.inputGradient("x"), kBackward, c.name + ": input gradient");
  for (const auto& [name, gradient] : gradTensors) expectClose(gradient, cpu.gradient(name), kBackward, c.name + ": gradient of " + name);
  // Accumulating into gradients that hold a value (a weight shared with an earlier node) adds.
  Tensor dxTwice = dx;
  for (recurrent::WeightGradients& gw : grads) {
    gw.accumulateIh = gw.accumulateHh = gw.accumulateBih = gw.accumulateBhh = true;
  }
  std::copy(dhN.data.begin(), dhN.data.end(), plan.buf.dhN);
  if (lstm) std::copy(dcN.data.begin(), dcN.data.end(), plan.buf.dcN);
  recurrent::scheduleBackward(ops, g, weights, grads, plan.buf, false, dy.ptr(), dxTwice.ptr(), true);
  Tensor doubled = cpu.inputGradient("x");
  for (float& v : doubled.data) v *= 2.0f;
  expectClose(dxTwice, doubled, kBackward, c.name + ": accumulated input gradient");
  const std::string first = gradTensors.front().first;
  Tensor doubledWeight = cpu.gradient(first);
  for (float& v : doubledWeight.data) v *= 2.0f;
  expectClose(gradTensors.front().second, doubledWeight, kBackward, c.name + ": accumulated gradient of " + first);
}

// Dropout between two layers (training): the schedule with a given mask against the CPU kernels of
// each layer composed with the same mask (the CPU op draws its masks from its own generator).
void dropoutBetweenLayers(recurrent::Cell cell) {
  const bool lstm = cell == recurrent::Cell::Lstm;
  const std::string name = std::string(lstm ? "lstm" : "gru") + " 2 layers, dropout";
  const int64_t T = 4, B = 3, I = 5, H = 4, G = recurrent::gateCount(cell);
  Rng rng(29);
  recurrent::Geometry g;
  g.cell = cell;
  g.steps = T;
  g.batch = B;
  g.inputSize = I;
  g.hidden = H;
  g.layers = 2;
  HostPlan plan(g, true);
  const Tensor x = randomTensor({T, B, I}, rng);
  plan.buf.x = x.ptr();
  std::vector<Tensor> w;
  for (int64_t l = 0; l < 2; ++l) {
    w.push_back(randomTensor({G * H, l == 0 ? I : H}, rng));
    w.push_back(randomTensor({G * H, H}, rng));
    w.push_back(randomTensor({G * H}, rng));
    w.push_back(randomTensor({G * H}, rng));
  }
  std::vector<float> mask(static_cast<size_t>(T * B * H));
  for (float& m : mask) m = rng.uniform01() < 0.3f ? 0.0f : 1.0f / 0.7f;
  HostOps ops;
  ops.masks.push_back(mask);
  std::vector<recurrent::Weights> weights(2);
  std::vector<Tensor> gradients;
  for (const Tensor& tensor : w) gradients.emplace_back(tensor.shape);
  std::vector<recurrent::WeightGradients> grads(2);
  for (size_t l = 0; l < 2; ++l) {
    weights[l] = {w[4 * l].ptr(), w[4 * l + 1].ptr(), w[4 * l + 2].ptr(), w[4 * l + 3].ptr()};
    grads[l].ih = gradients[4 * l].ptr();
    grads[l].hh = gradients[4 * l + 1].ptr();
    grads[l].bih = gradients[4 * l + 2].ptr();
    grads[l].bhh = gradients[4 * l + 3].ptr();
  }
  recurrent::scheduleForward(ops, g, weights, plan.buf, true);
  const Tensor dy = randomTensor({T, B, H}, rng);
  Tensor dx({T, B, I});
  recurrent::scheduleBackward(ops, g, weights, grads, plan.buf, true, dy.ptr(), dx.ptr(), false);

  // The reference: cpu::recurrentForward/Backward per layer, the mask applied between them.
  cpu::RecurrentGeometry rg;
  rg.cell = lstm ? cpu::RecurrentCell::Lstm : cpu::RecurrentCell::Gru;
  rg.steps = T;
  rg.batch = B;
  rg.hiddenSize = H;
  cpu::RecurrentSaved saved0, saved1;
  Tensor y0({T, B, H}), y1({T, B, H}), h({2, B, H}), c({2, B, H});
  rg.inputSize = I;
  cpu::recurrentForward(rg, x.ptr(), w[0].ptr(), w[1].ptr(), w[2].ptr(), w[3].ptr(), y0.ptr(), h.ptr(), c.ptr(), saved0);
  Tensor dropped = y0;
  for (size_t i = 0; i < mask.size(); ++i) dropped.data[i] *= mask[i];
  rg.inputSize = H;
  cpu::recurrentForward(rg, dropped.ptr(), w[4].ptr(), w[5].ptr(), w[6].ptr(), w[7].ptr(), y1.ptr(), h.ptr() + B * H, c.ptr() + B * H,
                        saved1);
  expectClose(Tensor({T, B, H}, std::vector<float>(plan.buf.y, plan.buf.y + T * B * H)), y1, 1e-6, name + ": output");
  expectClose(Tensor({2, B, H}, std::vector<float>(plan.buf.hN, plan.buf.hN + 2 * B * H)), h, 1e-6, name + ": h_n");
  std::vector<Tensor> expected;
  for (const Tensor& tensor : w) expected.emplace_back(tensor.shape);
  Tensor dDropped({T, B, H}), dX({T, B, I});
  const Tensor zeros({B, H});
  cpu::recurrentBackward(rg, dropped.ptr(), w[4].ptr(), w[5].ptr(), y1.ptr(), saved1, dy.ptr(), zeros.ptr(), zeros.ptr(), dDropped.ptr(),
                         expected[4].ptr(), expected[5].ptr(), expected[6].ptr(), expected[7].ptr());
  for (size_t i = 0; i < mask.size(); ++i) dDropped.data[i] *= mask[i];
  rg.inputSize = I;
  cpu::recurrentBackward(rg, x.ptr(), w[0].ptr(), w[1].ptr(), y0.ptr(), saved0, dDropped.ptr(), zeros.ptr(), zeros.ptr(), dX.ptr(),
                         expected[0].ptr(), expected[1].ptr(), expected[2].ptr(), expected[3].ptr());
  expectClose(dx, dX, 2e-6, name + ": input gradient");
  for (size_t i = 0; i < w.size(); ++i) expectClose(gradients[i], expected[i], 2e-6, name + ": parameter gradient " + std::to_string(i));
}

// The element functions against the CPU kernel one step at a time would only repeat the cases above;
// the index maps get their own checks.
void indexMaps() {
  Rng rng(3);
  const Tensor x = randomTensor({3, 5, 2}, rng);
  Tensor expected({5, 3, 2});
  cpu::permute({3, 5, 2}, {1, 0, 2}, x.ptr(), expected.ptr());
  Tensor swapped({5, 3, 2});
  for (int64_t i = 0; i < swapped.numel(); ++i) swapped.data[i] = x.data[recurrent::swapLeadingSource(i, 3, 5, 2)];
  expectClose(swapped, expected, 0.0, "swapLeadingSource is permute(1, 0, 2)");
  for (const bool reverse : {false, true}) {
    const recurrent::HiddenWeightSpan span = recurrent::hiddenWeightSpan(5, 3, reverse);
    expect(span.rows == 12, "hiddenWeightSpan covers (steps − 1)·batch rows");
    // Every step but the first processed pairs its dHidden row with the previous step's output row.
    bool paired = true;
    for (int64_t s = 1; s < 5; ++s) {
      const int64_t t = recurrent::timeAt(5, reverse, s), previous = recurrent::timeAt(5, reverse, s - 1);
      paired = paired && (t * 3 - span.gradientRow) == (previous * 3 - span.stateRow) && t * 3 >= span.gradientRow &&
               t * 3 < span.gradientRow + span.rows;
    }
    expect(paired, std::string("hiddenWeightSpan pairs each step with its previous state (") + (reverse ? "reverse" : "forward") + ")");
  }
  expect(recurrent::hiddenWeightSpan(1, 4, false).rows == 0, "one step: no hidden-weight rows");
  expect(recurrent::layerDropoutStream(7, 0) != recurrent::layerDropoutStream(7, 1), "each layer's dropout has its own stream");
}

}  // namespace

int main() {
  try {
    using recurrent::Cell;
    const std::vector<Config> configs{
        {"lstm", Cell::Lstm, 5, 3, 4, 6, 1, false, false, true},
        {"gru", Cell::Gru, 5, 3, 4, 6, 1, false, false, true},
        {"lstm one step", Cell::Lstm, 1, 2, 3, 4, 1, false, false, true},
        {"gru bidirectional", Cell::Gru, 4, 2, 3, 5, 1, true, false, true},
        {"lstm 2 layers bidirectional batch_first", Cell::Lstm, 4, 3, 5, 4, 2, true, true, true},
        {"gru 2 layers bidirectional batch_first, no bias", Cell::Gru, 4, 3, 5, 4, 2, true, true, false},
        {"lstm 2 layers batch_first, no bias", Cell::Lstm, 3, 2, 3, 5, 2, false, true, false},
    };
    for (const Config& config : configs) againstExecutor(config);
    dropoutBetweenLayers(Cell::Lstm);
    dropoutBetweenLayers(Cell::Gru);
    indexMaps();
  } catch (const std::exception& error) {
    check(false, std::string("threw ") + error.what());
  }
  return finishMath("recurrent_math", "recurrent_math_test");
}
