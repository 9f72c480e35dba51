// The CUDA executor against the CPU Executor (the reference): every supported op's forward value,
// loss and gradients on the same random inputs and the same initial parameters (strict fp32:
// relative error < 1e-4 of each tensor's scale; TF32: < 5e-3, see kTf32Tolerance), 20 training steps
// of the CIFAR CNN with SGD+momentum (loss within 1e-3 at every step, graph replay and eager), a
// batch-norm CNN with AdamW, and the executor's refusals: unsupported ops, another batch size, a
// NaN step (nothing updated), a plan larger than the GPU (out-of-memory message with the numbers).
// bf16 mixed precision against the same fp32 CPU reference with the looser tolerances justified at
// kBf16Tolerance / kBf16LossTolerance, its casts bit for bit against a CPU rounding, and its plan.
//
// Fused cuBLASLt epilogues (bias, bias + ReLU, ReLU) against the unfused path and the CPU in every
// precision, and cuDNN autotuning: timed algorithms against the heuristics' and the CPU, the cache
// file written, read back by a fresh cache and by another session, a corrupt file replaced.
//
// Without a usable GPU it prints "skipped: <reason>" and passes, unless NETLENS_EXPECT_GPU=1.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "autotune_cache.h"
#include "cuda_executor.h"
#include "cuda_kernels.h"
#include "netlens/executor.h"
#include "test_support.h"

using namespace netlens;
using namespace netlens::test;
using cuda::CudaExecutor;
using cuda::CudaOptions;

namespace {

constexpr double kStrictTolerance = 1e-4;
// TF32 rounds each product's inputs to a 10-bit mantissa (relative error ≤ 2⁻¹¹ ≈ 4.9e-4 per
// operand); summed over a few hundred products with random signs the error relative to the output's
// largest value stays around 1e-3, so 5e-3 leaves room without hiding a wrong algorithm (which is off by O(1)).
constexpr double kTf32Tolerance = 5e-3;
constexpr double kLossTolerance = 1e-3;
// bf16 keeps 8 significant bits: one rounding is off by at most 2⁻⁹ ≈ 2e-3 of the value. A conv or
// linear output here sees its input and weight rounded (each product off by ≤ 4e-3; random-sign sums
// keep the error relative to the output's largest value about that size) and, for convolutions, the
// output rounded again; gradients chain three roundings (output gradient, weight or input, result).
// That stays below about 1e-2 (scripts/gpu/bf16_tolerances.py emulates this bf16 mode on the CPU:
// the op chains below differ from fp32 by at most 7.3e-3 over 20 seeds each); 2e-2 leaves room while a wrong layout, transposition or
// algorithm is off by O(1). Ops other than conv/linear compute in fp32 in bf16 mode too.
constexpr double kBf16Tolerance = 2e-2;
// Training in bf16 perturbs every step by those roundings, and the perturbations carry into the
// next steps' weights, so the loss is compared relatively: within 5% of the CPU's at every step
// (random labels keep the loss near ln 10 ≈ 2.3, so ~0.1). The emulation (scripts/gpu/
// bf16_tolerances.py) differs by ≤ 1.2e-5 on the CIFAR CNN and ≤ 1.03e-2 on the batch-norm CNN.
constexpr double kBf16LossTolerance = 5e-2;

enum class Precision { Fp32, Tf32, Bf16 };
constexpr Precision kFp32 = Precision::Fp32;
constexpr Precision kTf32 = Precision::Tf32;
constexpr Precision kBf16 = Precision::Bf16;

const char* precisionName(Precision precision) {
  return precision == kFp32 ? "fp32" : precision == kTf32 ? "tf32" : "bf16";
}

CudaOptions optionsFor(Precision precision) {
  CudaOptions options;
  options.tf32 = precision == kTf32;
  options.bf16 = precision == kBf16;
  return options;
}

std::string node(const std::string& id, const std::string& op, const std::vector<std::string>& inputs, const std::string& attrs) {
  std::string list;
  for (const std::string& input : inputs) list += (list.empty() ? "\"" : ",\"") + input + "\"";
  return "{\"id\":\"" + id + "\",\"op\":\"" + op + "\",\"inputs\":[" + list + "],\"attrs\":" + attrs + "}";
}

std::string shapeText(const Shape& shape) {
  std::string text;
  for (const int64_t extent : shape) text += (text.empty() ? "" : ",") + std::to_string(extent);
  return "[" + text + "]";
}

// One op (or a short chain) between input x and an mse loss against target t.
GraphSpec singleOpSpec(const Shape& input, const std::vector<std::string>& nodes, const std::string& last, const Shape& output) {
  std::string list;
  for (const std::string& n : nodes) list += (list.empty() ? "" : ",") + n;
  return parseGraphSpec("{\"inputs\":[{\"name\":\"x\",\"shape\":" + shapeText(input) + "},{\"name\":\"t\",\"shape\":" + shapeText(output) +
                        "}],\"nodes\":[" + list + "],\"outputs\":[\"" + last + "\"],\"loss\":{\"op\":\"mse\",\"input\":\"" + last +
                        "\",\"target\":\"t\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9}}");
}

Tensor randomTensor(const Shape& shape, Rng& rng, float low = -1.0f, float high = 1.0f) {
  Tensor tensor(shape);
  for (float& value : tensor.data) value = rng.uniform(low, high);
  return tensor;
}

// `exactTolerance` overrides the precision's tolerance (bf16 mode leaves the ops other than conv and
// linear in fp32, so they keep the strict one).
void compareOp(const std::string& name, const Shape& input, const std::vector<std::string>& nodes, const std::string& last,
               const Shape& output, bool training, Precision precision, double exactTolerance = -1.0) {
  const double tolerance = exactTolerance >= 0.0 ? exactTolerance
                           : precision == kTf32  ? kTf32Tolerance
                           : precision == kBf16  ? kBf16Tolerance
                                                 : kStrictTolerance;
  const std::string label =
      name + (precision == kFp32 ? "" : std::string(" [") + precisionName(precision) + "]") + (training ? "" : " [eval]");
  std::printf("op %s\n", label.c_str());  // progress, so a crash log shows where it happened
  std::fflush(stdout);
  try {
    const GraphSpec spec = singleOpSpec(input, nodes, last, output);
    Executor cpu(spec, 7);
    CudaExecutor gpu(spec, 7, optionsFor(precision));
    cpu.setTraining(training);
    gpu.setTraining(training);
    Rng rng(11);
    for (const std::string& key : cpu.stateNames()) {
      checkClose(gpu.state(key), cpu.state(key), 0.0, label + ": initial " + key + " equals the CPU's");
      if (!cpu.isBuffer(key)) continue;
      // Running statistics away from their defaults, so eval mode is a real test.
      if (key.find("running_var") != std::string::npos || key.find("running_mean") != std::string::npos) {
        Tensor value = randomTensor(cpu.state(key).shape, rng, 0.5f, 1.5f);
        cpu.setState(key, value);
        gpu.setState(key, value);
      }
    }
    const TensorMap inputs{{"x", randomTensor(input, rng)}, {"t", randomTensor(output, rng)}};
    const double cpuLoss = cpu.lossBackward(inputs);
    const double gpuLoss = gpu.lossBackward(inputs);
    check(std::fabs(cpuLoss - gpuLoss) <= tolerance * std::max(1.0, std::fabs(cpuLoss)),
          label + ": loss " + std::to_string(gpuLoss) + " vs CPU " + std::to_string(cpuLoss));
    checkClose(gpu.value(last), cpu.value(last), tolerance, label + ": forward value");
    checkClose(gpu.inputGradient("x"), cpu.inputGradient("x"), tolerance, label + ": input gradient");
    for (const std::string& key : cpu.stateNames()) {
      if (cpu.isTrainable(key)) checkClose(gpu.gradient(key), cpu.gradient(key), tolerance, label + ": gradient of " + key);
      if (cpu.isBuffer(key)) checkClose(gpu.state(key), cpu.state(key), tolerance, label + ": buffer " + key + " after forward");
    }
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

void opParity() {
  const Shape image{4, 6, 9, 9};
  const std::string conv = "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"stride\":2,\"padding\":1}";
  for (const Precision precision : {kFp32, kTf32, kBf16}) {
    compareOp("conv2d", image, {node("c", "conv2d", {"x"}, conv)}, "c", {4, 8, 5, 5}, true, precision);
    compareOp("linear", {16, 40}, {node("l", "linear", {"x"}, "{\"in_features\":40,\"out_features\":24}")}, "l", {16, 24}, true, precision);
  }
  compareOp("conv2d groups+dilation, no bias", image,
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":4,\"kernel_size\":3,\"dilation\":2,\"groups\":2,\"bias\":false,\"padding\":\"same\"}")},
            "c", {4, 4, 9, 9}, true, kFp32);
  compareOp("linear on 3-D input", {3, 5, 12}, {node("l", "linear", {"x"}, "{\"in_features\":12,\"out_features\":7}")}, "l", {3, 5, 7}, true, kFp32);
  for (const std::string op : {"relu", "relu6", "sigmoid", "tanh", "silu", "gelu"}) {
    compareOp(op, {4, 3, 5, 5}, {node("a", op, {"x"}, "{}")}, "a", {4, 3, 5, 5}, true, kFp32);
  }
  compareOp("leaky_relu", {4, 30}, {node("a", "leaky_relu", {"x"}, "{\"negative_slope\":0.2}")}, "a", {4, 30}, true, kFp32);
  compareOp("gelu tanh", {4, 30}, {node("a", "gelu", {"x"}, "{\"approximate\":\"tanh\"}")}, "a", {4, 30}, true, kFp32);
  compareOp("max_pool2d", image, {node("p", "max_pool2d", {"x"}, "{\"kernel_size\":3,\"stride\":2,\"padding\":1}")}, "p", {4, 6, 5, 5}, true, kFp32);
  compareOp("max_pool2d ceil_mode", image, {node("p", "max_pool2d", {"x"}, "{\"kernel_size\":2,\"ceil_mode\":true}")}, "p", {4, 6, 5, 5}, true, kFp32);
  compareOp("avg_pool2d", image,
            {node("p", "avg_pool2d", {"x"}, "{\"kernel_size\":3,\"stride\":2,\"padding\":1,\"count_include_pad\":false}")}, "p", {4, 6, 5, 5}, true, kFp32);
  compareOp("avg_pool2d ceil_mode", image, {node("p", "avg_pool2d", {"x"}, "{\"kernel_size\":2,\"ceil_mode\":true}")}, "p", {4, 6, 5, 5}, true, kFp32);
  compareOp("adaptive_avg_pool2d", {4, 6, 7, 7}, {node("p", "adaptive_avg_pool2d", {"x"}, "{\"output_size\":3}")}, "p", {4, 6, 3, 3}, true, kFp32);
  for (const bool training : {true, false}) {
    compareOp("batch_norm2d", image, {node("b", "batch_norm2d", {"x"}, "{\"num_features\":6}")}, "b", image, training, kFp32);
  }
  compareOp("batch_norm2d momentum=None", image, {node("b", "batch_norm2d", {"x"}, "{\"num_features\":6,\"momentum\":null}")}, "b", image, true, kFp32);
  compareOp("batch_norm1d", {16, 10}, {node("b", "batch_norm1d", {"x"}, "{\"num_features\":10}")}, "b", {16, 10}, true, kFp32);
  compareOp("flatten", image, {node("f", "flatten", {"x"}, "{}")}, "f", {4, 486}, true, kFp32);
  compareOp("conv, flatten, linear (aliased view)", image,
            {node("c", "conv2d", {"x"}, conv), node("f", "flatten", {"c"}, "{}"),
             node("l", "linear", {"f"}, "{\"in_features\":200,\"out_features\":5}")},
            "l", {4, 5}, true, kFp32);
  compareOp("reshape", {4, 6, 4}, {node("r", "reshape", {"x"}, "{\"shape\":[4,24]}")}, "r", {4, 24}, true, kFp32);
  // A residual block: x is read by the convolution and the add, so its gradient accumulates.
  compareOp("residual add", {2, 6, 8, 8},
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":6,\"kernel_size\":3,\"padding\":1}"),
             node("r", "relu", {"c"}, "{}"), node("s", "add", {"x", "r"}, "{}")},
            "s", {2, 6, 8, 8}, true, kFp32);
  compareOp("add with alpha", {4, 10},
            {node("a", "relu", {"x"}, "{}"), node("b", "sigmoid", {"x"}, "{}"), node("s", "add", {"a", "b"}, "{\"alpha\":-0.5}")}, "s",
            {4, 10}, true, kFp32);
  compareOp("shared weights", {4, 10},
            {node("a", "linear", {"x"}, "{\"in_features\":10,\"out_features\":10}"), node("r", "tanh", {"a"}, "{}"),
             "{\"id\":\"b\",\"op\":\"linear\",\"inputs\":[\"r\"],\"attrs\":{\"in_features\":10,\"out_features\":10},"
             "\"params\":{\"weight\":\"a.weight\",\"bias\":\"a.bias\"}}"},
            "b", {4, 10}, true, kFp32);
  compareOp("dropout in eval", {4, 30}, {node("d", "dropout", {"x"}, "{\"p\":0.5}")}, "d", {4, 30}, false, kFp32);
}

// Dropout masks come from another generator than the CPU's, so the check is structural: every
// output is 0 or x/(1−p), about p of them are dropped, and the gradient uses the same mask.
void dropoutCheck() {
  const Shape shape{64, 256};
  const GraphSpec spec = singleOpSpec(shape, {node("d", "dropout", {"x"}, "{\"p\":0.3}")}, "d", shape);
  CudaExecutor gpu(spec, 3);
  Rng rng(5);
  const Tensor x = randomTensor(shape, rng, 0.5f, 1.5f);
  const Tensor t = randomTensor(shape, rng);
  gpu.lossBackward({{"x", x}, {"t", t}});
  const Tensor y = gpu.value("d");
  const Tensor dx = gpu.inputGradient("x");
  int64_t dropped = 0;
  bool structured = true;
  const float kept = 1.0f / 0.7f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float mask = y.data[i] == 0.0f ? 0.0f : kept;
    if (mask == 0.0f) ++dropped;
    structured = structured && (mask == 0.0f || std::fabs(y.data[i] - x.data[i] * kept) <= 1e-5f * kept);
    const float dy = 2.0f * (y.data[i] - t.data[i]) / static_cast<float>(x.numel());
    structured = structured && std::fabs(dx.data[i] - dy * mask) <= 1e-6f;
  }
  const double fraction = static_cast<double>(dropped) / static_cast<double>(x.numel());
  check(structured, "dropout: outputs are 0 or x/(1-p) and the gradient uses the same mask");
  check(std::fabs(fraction - 0.3) < 0.02, "dropout: dropped fraction " + std::to_string(fraction) + " is near p=0.3");
  gpu.lossBackward({{"x", x}, {"t", t}});
  const Tensor again = gpu.value("d");
  check(again.data != y.data, "dropout: the next step draws another mask");
}

std::string cifarSpec(int64_t batch, const std::string& optimizer, bool batchNorm) {
  const auto conv = [](const std::string& id, const std::string& input, int in, int out) {
    return node(id, "conv2d", {input}, "{\"in_channels\":" + std::to_string(in) + ",\"out_channels\":" + std::to_string(out) +
                                           ",\"kernel_size\":3,\"padding\":1}");
  };
  std::vector<std::string> nodes;
  std::string last = "x";
  int channels = 3;
  int index = 0;
  for (const int width : {32, 32, 0, 64, 64, 0}) {
    const std::string id = std::to_string(index++);
    if (width == 0) {
      nodes.push_back(node("p" + id, "max_pool2d", {last}, "{\"kernel_size\":2}"));
      last = "p" + id;
      continue;
    }
    nodes.push_back(conv("c" + id, last, channels, width));
    last = "c" + id;
    if (batchNorm) {
      nodes.push_back(node("b" + id, "batch_norm2d", {last}, "{\"num_features\":" + std::to_string(width) + "}"));
      last = "b" + id;
    }
    nodes.push_back(node("r" + id, "relu", {last}, "{}"));
    last = "r" + id;
    channels = width;
  }
  nodes.push_back(node("f", "flatten", {last}, "{}"));
  nodes.push_back(node("fc1", "linear", {"f"}, "{\"in_features\":4096,\"out_features\":512}"));
  nodes.push_back(node("r", "relu", {"fc1"}, "{}"));
  nodes.push_back(node("fc2", "linear", {"r"}, "{\"in_features\":512,\"out_features\":10}"));
  std::string list;
  for (const std::string& n : nodes) list += (list.empty() ? "" : ",") + n;
  const std::string b = std::to_string(batch);
  return "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + b + ",3,32,32]},{\"name\":\"y\",\"shape\":[" + b +
         "],\"dtype\":\"int64\"}],\"nodes\":[" + list +
         "],\"outputs\":[\"fc2\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"fc2\",\"target\":\"y\"},\"optimizer\":" + optimizer + "}";
}

// bf16: the loss within kBf16LossTolerance relative; logits off by ~1e-2 reorder the rows whose two
// best classes nearly tie, which near initialization is a few of them; parameters within 5e-2 of each
// tensor's scale. Calibrated with scripts/gpu/bf16_tolerances.py, a CPU emulation of this bf16 mode
// (bf16-rounded conv/linear operands, fp32 accumulation, conv results rounded) against fp32, 4 seeds:
// the CIFAR CNN (batch 64,
// 20 SGD steps) differs by ≤ 1.2e-5 in loss, 1 row, 2.8e-2 in parameters; the batch-norm CNN (batch 32,
// 10 steps) by ≤ 1e-2 in loss and 2 rows, but its parameters by up to 0.5 of a tensor's scale (the BN
// shifts start at zero and move by ~2e-3, the fc weights by their own size), so `checkParameters`
// is off for it: there a parameter difference says nothing about whether bf16 is right.
void trainingParity(const std::string& label, const std::string& specText, int steps, bool cudaGraph, Precision precision = kFp32,
                    bool checkParameters = true, const std::function<void(CudaOptions&)>& adjust = nullptr) {
  const bool bf16 = precision == kBf16;
  const auto lossClose = [&](double gpuLoss, double cpuLoss) {
    return bf16 ? std::fabs(cpuLoss - gpuLoss) <= kBf16LossTolerance * std::max(1.0, std::fabs(cpuLoss))
                : std::fabs(cpuLoss - gpuLoss) <= kLossTolerance;
  };
  const double parameterTolerance = bf16 ? 5e-2 : 1e-2;
  try {
    const GraphSpec spec = parseGraphSpec(specText);
    const int64_t batch = spec.inputs[0].shape[0];
    const int64_t rowSlack = bf16 ? std::max<int64_t>(1, batch / 8) : 1;
    Executor cpu(spec, 1);
    CudaOptions options = optionsFor(precision);
    options.cudaGraph = cudaGraph;
    if (adjust) adjust(options);
    CudaExecutor gpu(spec, 1, options);
    std::printf("%s: %s\n%s", label.c_str(), gpu.plan().describe().c_str(), gpu.describeAlgorithms().c_str());
    std::fflush(stdout);
    Rng rng(2);
    double worst = 0.0;
    for (int step = 0; step < steps; ++step) {
      Tensor x = randomTensor({batch, 3, 32, 32}, rng);
      Tensor y({batch});
      for (float& value : y.data) value = static_cast<float>(rng.next() % 10);
      const TensorMap inputs{{"x", x}, {"y", y}};
      const double cpuLoss = cpu.trainStep(inputs);
      const double gpuLoss = gpu.trainStep(inputs);
      worst = std::max(worst, std::fabs(cpuLoss - gpuLoss));
      check(lossClose(gpuLoss, cpuLoss),
            label + ": step " + std::to_string(step + 1) + " loss " + std::to_string(gpuLoss) + " vs CPU " + std::to_string(cpuLoss));
      // Rows whose two best logits nearly tie may rank differently; more than rowSlack is a real difference.
      check(std::llabs(gpu.lastStepCorrect() - cpu.lastStepCorrect()) <= rowSlack,
            label + ": step " + std::to_string(step + 1) + " correct rows " + std::to_string(gpu.lastStepCorrect()) + " vs CPU " +
                std::to_string(cpu.lastStepCorrect()));
    }
    check(gpu.graphCaptured() == cudaGraph, label + ": the step was " + (cudaGraph ? "" : "not ") + "captured as a CUDA graph");
    check(gpu.stepsTaken() == steps, label + ": steps counted");
    double worstParameter = 0.0;
    for (const std::string& key : cpu.stateNames()) worstParameter = std::max(worstParameter, relativeError(gpu.state(key), cpu.state(key)));
    std::printf("%s: %d steps, largest loss difference %.2e, largest parameter difference %.2e (relative)\n", label.c_str(), steps, worst,
                worstParameter);
    if (checkParameters) check(worstParameter < parameterTolerance, label + ": parameters after training stay close to the CPU's");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// What the binding asks before any device work: ops, loss and optimizer the executor lacks, by name.
void specRefusalsWithoutGpu() {
  const std::string layerNorm =
      CudaExecutor::unsupportedReason(singleOpSpec({2, 4}, {node("n", "layer_norm", {"x"}, "{\"normalized_shape\":[4]}")}, "n", {2, 4}));
  check(layerNorm.find("node \"n\" (layer_norm): not supported by the CUDA executor") != std::string::npos,
        "unsupportedReason names the node and op: " + layerNorm);
  check(CudaExecutor::unsupportedReason(parseGraphSpec(cifarSpec(4, "{\"type\":\"rmsprop\",\"lr\":0.01,\"centered\":true}", false))).empty(),
        "RMSProp is supported");
  check(CudaExecutor::unsupportedReason(parseGraphSpec(cifarSpec(4, "{\"type\":\"adam\",\"lr\":0.001}", true))).empty(),
        "a batch-norm CNN with Adam is supported");
  CudaOptions both;
  both.tf32 = true;
  both.bf16 = true;
  expectThrows([&] { CudaExecutor(singleOpSpec({2, 4}, {node("a", "relu", {"x"}, "{}")}, "a", {2, 4}), 0, both); },
               "tf32 and bf16 exclude each other", "tf32 and bf16 together are refused before any device work");
}

// launchStep/finishStep with the next batch made and staged (second pinned slot) while the step runs
// (the binding's pipeline) give the same losses as the CPU, and the optimizer state travels: exported after k steps it
// matches the CPU optimizer's export, and a fresh executor given the weights and that state
// continues exactly as the original does.
void pipelineAndOptimizerState(const std::string& label, const std::string& specText) {
  try {
    const GraphSpec spec = parseGraphSpec(specText);
    const int64_t batch = spec.inputs[0].shape[0];
    Executor cpu(spec, 4);
    CudaExecutor gpu(spec, 4);
    Rng rng(9);
    const auto makeBatch = [&] {
      Tensor y({batch});
      for (float& value : y.data) value = static_cast<float>(rng.next() % 10);
      return TensorMap{{"x", randomTensor({batch, 3, 32, 32}, rng)}, {"y", y}};
    };
    TensorMap current = makeBatch();
    gpu.launchStep(current);
    check(gpu.stepInFlight(), label + ": a launched step is in flight");
    expectThrows([&] { gpu.launchStep(current); }, "not finished", label + ": a second launch before finishing is refused");
    for (int step = 0; step < 6; ++step) {
      // Host work overlapping the GPU's step: the next batch made and staged in the other slot.
      TensorMap following = makeBatch();
      if (step < 5) gpu.stageInputs(following);
      const double gpuLoss = gpu.finishStep();
      const double cpuLoss = cpu.trainStep(current);
      check(std::fabs(cpuLoss - gpuLoss) <= kLossTolerance,
            label + ": pipelined step " + std::to_string(step + 1) + " loss " + std::to_string(gpuLoss) + " vs CPU " + std::to_string(cpuLoss));
      check(std::fabs(gpu.learningRate() - cpu.optimizer().learningRate()) < 1e-12, label + ": the next learning rate agrees");
      current = following;
      if (step < 5) gpu.launchStep();
    }
    expectThrows([&] { gpu.launchStep(); }, "no batch was staged", label + ": launching without a staged batch is refused");
    const auto cpuState = cpu.optimizer().exportState();
    const auto gpuState = gpu.exportOptimizerState();
    check(cpuState.size() == gpuState.size(), label + ": " + std::to_string(gpuState.size()) + " optimizer tensors vs CPU " + std::to_string(cpuState.size()));
    for (size_t i = 0; i < std::min(cpuState.size(), gpuState.size()); ++i) {
      check(cpuState[i].first == gpuState[i].first, label + ": optimizer tensor " + gpuState[i].first + " vs CPU " + cpuState[i].first);
      check(relativeError(gpuState[i].second, cpuState[i].second) < 1e-2, label + ": optimizer tensor " + gpuState[i].first + " close to the CPU's");
    }
    CudaExecutor resumed(spec, 77);
    for (const std::string& key : gpu.stateNames()) resumed.setState(key, gpu.state(key));
    resumed.setOptimizerState(gpuState, gpu.stepsTaken());
    check(resumed.stepsTaken() == gpu.stepsTaken(), label + ": the step count is restored");
    for (int step = 0; step < 3; ++step) {
      const TensorMap next = makeBatch();
      const double original = gpu.trainStep(next);
      const double continued = resumed.trainStep(next);
      check(std::fabs(original - continued) <= 1e-5 * std::max(1.0, std::fabs(original)),
            label + ": resumed step " + std::to_string(step + 1) + " loss " + std::to_string(continued) + " vs " + std::to_string(original));
    }
    // The CPU optimizer's check runs first: it misses this model's own ".step" entries before it reaches "nope".
    expectThrows([&] { resumed.setOptimizerState({{"nope.exp_avg", Tensor({1})}}, 3); }, "belongs to another model or optimizer",
                 label + ": foreign optimizer state is refused");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// The CPU's round-to-nearest-even of an fp32 to bf16 bits (NaN stays a NaN), what PyTorch's
// .to(torch.bfloat16) does and what floatToBf16 must reproduce bit for bit.
uint16_t roundToBf16(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float widenBf16(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value = 0.0f;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

bool isNanBf16(uint16_t bits) { return (bits & 0x7F80u) == 0x7F80u && (bits & 0x007Fu) != 0; }

// floatToBf16 and bf16ToFloat on values chosen to hit every rounding case (ties to even both ways,
// just past a tie, overflow to infinity, subnormals, signed zero, infinities, NaN) plus random ones;
// 1027 values so the four-wide kernels and the scalar tail both run, and once from an unaligned start.
void castKernels() {
  std::vector<float> host;
  for (const uint32_t bits : {0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F80FFFFu, 0x7F7FFFFFu, 0x7F7F7FFFu, 0x00000001u,
                              0x00008000u, 0x00018000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xC0490FDBu}) {
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof value);
    host.push_back(value);
  }
  Rng rng(21);
  while (host.size() < 1027) host.push_back(rng.uniform(-1000.0f, 1000.0f) * (host.size() % 3 == 0 ? 1e-30f : 1.0f));
  const size_t count = host.size();
  float* src = nullptr;
  uint16_t* low = nullptr;
  float* back = nullptr;
  if (cudaMalloc(reinterpret_cast<void**>(&src), sizeof(float) * count) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&low), sizeof(uint16_t) * count) != cudaSuccess ||
      cudaMalloc(reinterpret_cast<void**>(&back), sizeof(float) * count) != cudaSuccess) {
    check(false, "bf16 casts: cudaMalloc");
    return;
  }
  for (const size_t start : {size_t{0}, size_t{1}}) {
    const int64_t n = static_cast<int64_t>(count - start);
    std::vector<float> accumulated(count, 0.5f);
    cudaMemcpy(src, host.data(), sizeof(float) * count, cudaMemcpyHostToDevice);
    cudaMemcpy(back, accumulated.data(), sizeof(float) * count, cudaMemcpyHostToDevice);
    check(cuda::kernels::floatToBf16(nullptr, n, src + start, low + start) == cudaSuccess, "bf16 casts: floatToBf16 launches");
    check(cuda::kernels::bf16ToFloat(nullptr, n, low + start, back + start, true) == cudaSuccess, "bf16 casts: bf16ToFloat launches");
    check(cudaDeviceSynchronize() == cudaSuccess, "bf16 casts: the kernels run");
    std::vector<uint16_t> rounded(count);
    cudaMemcpy(rounded.data(), low, sizeof(uint16_t) * count, cudaMemcpyDeviceToHost);
    cudaMemcpy(accumulated.data(), back, sizeof(float) * count, cudaMemcpyDeviceToHost);
    int64_t wrongBits = 0, wrongWidening = 0;
    for (size_t i = start; i < count; ++i) {
      const uint16_t expected = roundToBf16(host[i]);
      const bool same = isNanBf16(expected) ? isNanBf16(rounded[i]) : rounded[i] == expected;
      if (!same && wrongBits++ < 3) std::fprintf(stderr, "bf16 of %a: got 0x%04x, expected 0x%04x\n", host[i], rounded[i], expected);
      const float widened = 0.5f + widenBf16(expected);
      const bool widenedSame = std::isnan(widened) ? std::isnan(accumulated[i]) : accumulated[i] == widened;
      if (!widenedSame) ++wrongWidening;
    }
    const std::string where = start == 0 ? " (aligned)" : " (unaligned start)";
    check(wrongBits == 0, "bf16 casts: floatToBf16 rounds to nearest even, bit for bit" + where);
    check(wrongWidening == 0, "bf16 casts: bf16ToFloat widens exactly and accumulates" + where);
  }
  // The convolution output's widening with its bias: 3 channels of 7 values, batch-major.
  const std::vector<float> bias{0.25f, -1.5f, 3.0f};
  float* biasOnDevice = nullptr;
  if (cudaMalloc(reinterpret_cast<void**>(&biasOnDevice), sizeof(float) * bias.size()) == cudaSuccess) {
    cudaMemcpy(biasOnDevice, bias.data(), sizeof(float) * bias.size(), cudaMemcpyHostToDevice);
    check(cuda::kernels::bf16ToFloatAddBias(nullptr, static_cast<int64_t>(count), low, biasOnDevice, 3, 7, back) == cudaSuccess,
          "bf16 casts: bf16ToFloatAddBias launches");
    check(cudaDeviceSynchronize() == cudaSuccess, "bf16 casts: bf16ToFloatAddBias runs");
    std::vector<float> withBias(count);
    cudaMemcpy(withBias.data(), back, sizeof(float) * count, cudaMemcpyDeviceToHost);
    int64_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      const float expected = widenBf16(roundToBf16(host[i])) + bias[(i / 7) % 3];
      if (!(std::isnan(expected) ? std::isnan(withBias[i]) : withBias[i] == expected)) ++wrong;
    }
    check(wrong == 0, "bf16 casts: bf16ToFloatAddBias widens and adds the channel's bias exactly");
    cudaFree(biasOnDevice);
  }
  cudaFree(src);
  cudaFree(low);
  cudaFree(back);
}

void bf16Parity() {
  int major = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  const Shape image{4, 6, 9, 9};
  const std::string conv = "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"stride\":2,\"padding\":1}";
  const auto convFlattenLinear = [&] {
    return singleOpSpec(image, {node("c", "conv2d", {"x"}, conv), node("f", "flatten", {"c"}, "{}"),
                                node("l", "linear", {"f"}, "{\"in_features\":200,\"out_features\":5}")},
                        "l", {4, 5});
  };
  if (major < 8) {
    expectThrows([&] { CudaExecutor(convFlattenLinear(), 0, optionsFor(kBf16)); }, "compute capability 8.0",
                 "bf16 on a GPU older than Ampere is refused with the reason");
    return;
  }
  castKernels();
  // The ops around conv/linear (bias, pooling, batch norm, residual add, shared weights) in bf16 mode.
  // Only smooth ops follow a bf16 result here: a ReLU or max pool whose input moves across a kink by a
  // bf16 rounding routes one gradient element differently (an O(1) local difference PyTorch's autocast
  // shows too), which a per-tensor tolerance cannot absorb; training parity below covers them.
  compareOp("conv2d groups+dilation, no bias", image,
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":4,\"kernel_size\":3,\"dilation\":2,\"groups\":2,\"bias\":false,\"padding\":\"same\"}")},
            "c", {4, 4, 9, 9}, true, kBf16);
  compareOp("linear on 3-D input", {3, 5, 12}, {node("l", "linear", {"x"}, "{\"in_features\":12,\"out_features\":7}")}, "l", {3, 5, 7}, true, kBf16);
  compareOp("conv, flatten, linear (aliased view)", image,
            {node("c", "conv2d", {"x"}, conv), node("f", "flatten", {"c"}, "{}"),
             node("l", "linear", {"f"}, "{\"in_features\":200,\"out_features\":5}")},
            "l", {4, 5}, true, kBf16);
  compareOp("residual add", {2, 6, 8, 8},
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":6,\"kernel_size\":3,\"padding\":1}"),
             node("r", "tanh", {"c"}, "{}"), node("s", "add", {"x", "r"}, "{}")},
            "s", {2, 6, 8, 8}, true, kBf16);
  compareOp("shared weights", {4, 10},
            {node("a", "linear", {"x"}, "{\"in_features\":10,\"out_features\":10}"), node("r", "tanh", {"a"}, "{}"),
             "{\"id\":\"b\",\"op\":\"linear\",\"inputs\":[\"r\"],\"attrs\":{\"in_features\":10,\"out_features\":10},"
             "\"params\":{\"weight\":\"a.weight\",\"bias\":\"a.bias\"}}"},
            "b", {4, 10}, true, kBf16);
  // No conv bias before batch norm (as in real networks): its gradient is zero up to rounding, so
  // its error relative to its own scale is meaningless.
  compareOp("conv, batch norm, avg pool", image,
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"stride\":2,\"padding\":1,\"bias\":false}"),
             node("b", "batch_norm2d", {"c"}, "{\"num_features\":8}"),
             node("p", "avg_pool2d", {"b"}, "{\"kernel_size\":2}")},
            "p", {4, 8, 2, 2}, true, kBf16);
  for (const bool training : {true, false}) {
    compareOp("conv2d", image, {node("c", "conv2d", {"x"}, conv)}, "c", {4, 8, 5, 5}, training, kBf16);
  }
  // Only conv and linear change in bf16 mode: the rest is the fp32 path, strict tolerance.
  compareOp("relu, batch norm, avg pool (no conv/linear)", image,
            {node("r", "relu", {"x"}, "{}"), node("b", "batch_norm2d", {"r"}, "{\"num_features\":6}"),
             node("p", "avg_pool2d", {"b"}, "{\"kernel_size\":3,\"stride\":2,\"padding\":1}")},
            "p", {4, 6, 5, 5}, true, kBf16, kStrictTolerance);

  // The plan: the fp32 masters, their gradients and optimizer state, and every activation are the
  // fp32 plan's; the bf16 copies come on top. For conv(6→8, 3×3) → flatten → linear(200→5) at
  // batch 4, each rounded up to 256 bytes: input x 1944 values (4096 B), conv weight 432 (1024 B),
  // the flattened conv output 800 (1792 B), linear weight 1000 (2048 B), output scratch max(800, 20)
  // (1792 B), input scratch max(1944, 432) (4096 B): 14848 bytes.
  try {
    const CudaExecutor strict(convFlattenLinear(), 0);
    const CudaExecutor mixed(convFlattenLinear(), 0, optionsFor(kBf16));
    const cuda::MemoryPlan& a = strict.plan();
    const cuda::MemoryPlan& b = mixed.plan();
    check(a.bf16Copies == 0, "fp32 plan has no bf16 copies");
    check(b.bf16Copies == 14848, "bf16 plan: bf16 copies are " + std::to_string(b.bf16Copies) + " bytes, expected 14848");
    check(a.parameters == b.parameters && a.gradients == b.gradients && a.optimizerState == b.optimizerState &&
              a.activations == b.activations && a.activationGradients == b.activationGradients && a.other == b.other,
          "bf16 plan keeps the fp32 masters, gradients, optimizer state and activations");
    check(b.describe().find("bf16 copies") != std::string::npos && a.describe().find("bf16") == std::string::npos,
          "describe() names the bf16 copies only in bf16 mode: " + b.describe());
    std::printf("bf16 plan: %s\n", b.describe().c_str());
  } catch (const std::exception& error) {
    check(false, std::string("bf16 plan: threw ") + error.what());
  }

  const std::string sgd = "{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}";
  trainingParity("CIFAR CNN, SGD momentum, CUDA graph [bf16]", cifarSpec(64, sgd, false), 20, true, kBf16);
  trainingParity("CIFAR CNN, SGD momentum, eager [bf16]", cifarSpec(64, sgd, false), 20, false, kBf16);
  // SGD, whose update is proportional to the gradient: Adam's normalized update turns a bf16 sign
  // flip of a near-zero gradient into a full lr-sized difference, which says nothing about bf16 itself.
  trainingParity("BN CNN, SGD momentum [bf16]", cifarSpec(32, sgd, true), 10, true, kBf16, false);

  // A NaN weight still stops the step in bf16 mode (the loss is NaN, the optimizer skips the update).
  try {
    const GraphSpec spec = singleOpSpec({4, 8}, {node("l", "linear", {"x"}, "{\"in_features\":8,\"out_features\":3}")}, "l", {4, 3});
    CudaExecutor gpu(spec, 0, optionsFor(kBf16));
    Rng rng(1);
    Tensor poisoned = gpu.state("l.weight");
    poisoned.data[0] = NAN;
    gpu.setState("l.weight", poisoned);
    const Tensor biasBefore = gpu.state("l.bias");
    expectThrows([&] { gpu.trainStep({{"x", randomTensor({4, 8}, rng)}, {"t", randomTensor({4, 3}, rng)}}); }, "training loss is NaN",
                 "bf16: a NaN step throws");
    check(gpu.state("l.bias").data == biasBefore.data, "bf16: a NaN step updates nothing");
  } catch (const std::exception& error) {
    check(false, std::string("bf16 NaN step: threw ") + error.what());
  }
}

// Fused cuBLASLt epilogues (CudaOptions::fuseEpilogues, on by default) against the unfused path
// (cublasSgemm/GemmEx, addBiasRows, the ReLU kernel) on the same weights and inputs: a chain with
// every epilogue kind (relu_bias, bias, relu, and a bias layer that feeds the loss), in each
// precision. Both sides compute the same products in the same precision (fp32 accumulation, or
// TF32 / bf16 operands rounded the same way) and differ only in summation order, so the precision's
// tolerance against the CPU holds between them with room; a wrong transposition, bias or mask is O(1).
// The ReLU's backward reads its input's sign from the fused output (x > 0 exactly where relu(x) > 0),
// so the gradients must agree as closely as the forward does. Against the CPU only strict fp32 is
// compared tensor by tensor: TF32 and bf16 move pre-activations by ~1e-3, enough to flip a ReLU near
// zero and reroute a gradient (see bf16Parity); their loss is still compared.
void fusedEpilogues(Precision precision) {
  const double tolerance = precision == kTf32 ? kTf32Tolerance : precision == kBf16 ? kBf16Tolerance : kStrictTolerance;
  const std::string label = std::string("fused epilogues [") + precisionName(precision) + "]";
  std::printf("%s\n", label.c_str());
  std::fflush(stdout);
  try {
    const GraphSpec spec = singleOpSpec(
        {16, 40},
        {node("l1", "linear", {"x"}, "{\"in_features\":40,\"out_features\":24}"), node("r1", "relu", {"l1"}, "{}"),
         node("l2", "linear", {"r1"}, "{\"in_features\":24,\"out_features\":12}"), node("t2", "tanh", {"l2"}, "{}"),
         node("l3", "linear", {"t2"}, "{\"in_features\":12,\"out_features\":8,\"bias\":false}"), node("r3", "relu", {"l3"}, "{}"),
         node("l4", "linear", {"r3"}, "{\"in_features\":8,\"out_features\":5}")},
        "l4", {16, 5});
    CudaOptions fusedOptions = optionsFor(precision);
    CudaOptions plainOptions = optionsFor(precision);
    plainOptions.fuseEpilogues = false;
    CudaExecutor fused(spec, 3, fusedOptions);
    CudaExecutor plain(spec, 3, plainOptions);
    Executor cpu(spec, 3);
    std::printf("%s", fused.describeAlgorithms().c_str());
    const std::map<std::string, std::pair<std::string, std::string>> expected{
        {"l1", {"relu_bias", "r1"}}, {"l2", {"bias", ""}}, {"l3", {"relu", "r3"}}, {"l4", {"bias", ""}}};
    const std::vector<cuda::EpilogueChoice> epilogues = fused.epilogues();
    check(epilogues.size() == expected.size(), label + ": " + std::to_string(epilogues.size()) + " fused linear layers, expected 4");
    for (const cuda::EpilogueChoice& choice : epilogues) {
      const auto want = expected.find(choice.node);
      check(want != expected.end() && want->second.first == choice.epilogue && want->second.second == choice.activation,
            label + ": node " + choice.node + " has epilogue " + choice.epilogue + " computing \"" + choice.activation + "\"");
      // cuBLASLt may decline an epilogue for bf16 operands on some versions; the unfused path then runs
      // (still checked below), and the note says why, so that is reported, not failed.
      if (precision == kBf16 && !choice.active) {
        std::printf("note: %s: %s not fused: %s\n", label.c_str(), choice.node.c_str(), choice.note.c_str());
      } else {
        check(choice.active, label + ": cuBLASLt runs the " + choice.epilogue + " epilogue of " + choice.node + " (" + choice.note + ")");
      }
    }
    check(plain.epilogues().empty(), label + ": fuseEpilogues = false fuses nothing");
    Rng rng(12);
    const TensorMap inputs{{"x", randomTensor({16, 40}, rng)}, {"t", randomTensor({16, 5}, rng)}};
    const double fusedLoss = fused.lossBackward(inputs);
    const double plainLoss = plain.lossBackward(inputs);
    const double cpuLoss = cpu.lossBackward(inputs);
    check(std::fabs(fusedLoss - plainLoss) <= tolerance * std::max(1.0, std::fabs(plainLoss)),
          label + ": loss " + std::to_string(fusedLoss) + " vs unfused " + std::to_string(plainLoss));
    check(std::fabs(fusedLoss - cpuLoss) <= tolerance * std::max(1.0, std::fabs(cpuLoss)),
          label + ": loss " + std::to_string(fusedLoss) + " vs CPU " + std::to_string(cpuLoss));
    const bool againstCpu = precision == kFp32;
    for (const char* id : {"r1", "l2", "r3", "l4"}) {
      checkClose(fused.value(id), plain.value(id), tolerance, label + ": value of " + id + " vs unfused");
      if (againstCpu) checkClose(fused.value(id), cpu.value(id), tolerance, label + ": value of " + id + " vs CPU");
    }
    checkClose(fused.inputGradient("x"), plain.inputGradient("x"), tolerance, label + ": input gradient vs unfused");
    if (againstCpu) checkClose(fused.inputGradient("x"), cpu.inputGradient("x"), tolerance, label + ": input gradient vs CPU");
    for (const std::string& key : cpu.stateNames()) {
      if (!cpu.isTrainable(key)) continue;
      checkClose(fused.gradient(key), plain.gradient(key), tolerance, label + ": gradient of " + key + " vs unfused");
      if (againstCpu) checkClose(fused.gradient(key), cpu.gradient(key), tolerance, label + ": gradient of " + key + " vs CPU");
    }
    // The pre-activation of a fused ReLU is not kept: asking for it says so instead of returning the ReLU's output.
    expectThrows([&] { fused.value("l1"); }, "fused into its epilogue", label + ": the fused pre-activation is refused");
    check(plain.value("l1").numel() == 16 * 24, label + ": the unfused path keeps the pre-activation");
    // Training through the fused path, replayed as a CUDA graph, stays with the unfused one.
    for (int step = 0; step < 3; ++step) {
      const TensorMap batch{{"x", randomTensor({16, 40}, rng)}, {"t", randomTensor({16, 5}, rng)}};
      const double a = fused.trainStep(batch);
      const double b = plain.trainStep(batch);
      check(std::fabs(a - b) <= tolerance * std::max(1.0, std::fabs(b)),
            label + ": train step " + std::to_string(step + 1) + " loss " + std::to_string(a) + " vs unfused " + std::to_string(b));
    }
    check(fused.graphCaptured(), label + ": the fused step was captured as a CUDA graph");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

std::string temporaryFolder() {
  char folder[] = "/tmp/netlens-parity-XXXXXX";
  const char* made = ::mkdtemp(folder);
  return made ? std::string(made) : std::string("/tmp");
}

bool sameChoices(const std::vector<cuda::AlgorithmChoice>& a, const std::vector<cuda::AlgorithmChoice>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].node != b[i].node || a[i].direction != b[i].direction || a[i].algorithm != b[i].algorithm) return false;
  }
  return true;
}

bool allFrom(const std::vector<cuda::AlgorithmChoice>& choices, const std::string& source) {
  for (const cuda::AlgorithmChoice& choice : choices) {
    if (choice.source != source) return false;
  }
  return !choices.empty();
}

// cuDNN autotuning (CudaOptions::autotune): every convolution direction is timed once, the chosen
// algorithms give the same results as the heuristics' within the precision's tolerance (each is a
// correct convolution; they differ in summation order or, for Winograd/FFT, in rounding), the cache
// file holds every timing and is read back by a fresh cache (all from "cache", the same algorithms),
// another session of the process hits the in-memory cache, and a corrupt file is ignored with a notice
// and replaced by a valid one. Only smooth ops follow the convolutions, so TF32 and bf16 can be held
// to the CPU tensor by tensor (a ReLU there would flip near zero; see bf16Parity).
void autotuneParity(Precision precision, const std::string& folder) {
  const double tolerance = precision == kTf32 ? kTf32Tolerance : precision == kBf16 ? kBf16Tolerance : kStrictTolerance;
  const std::string label = std::string("autotune [") + precisionName(precision) + "]";
  std::printf("%s\n", label.c_str());
  std::fflush(stdout);
  try {
    const Shape image{8, 6, 12, 12};
    const GraphSpec spec = singleOpSpec(
        image,
        {node("c1", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":16,\"kernel_size\":3,\"padding\":1}"), node("t1", "tanh", {"c1"}, "{}"),
         node("c2", "conv2d", {"t1"}, "{\"in_channels\":16,\"out_channels\":8,\"kernel_size\":3,\"stride\":2,\"padding\":1}"),
         node("t2", "tanh", {"c2"}, "{}"), node("f", "flatten", {"t2"}, "{}"),
         node("l", "linear", {"f"}, "{\"in_features\":288,\"out_features\":5}")},
        "l", {8, 5});
    const std::string path = folder + "/" + precisionName(precision) + "/cudnn-autotune.json";
    CudaOptions tunedOptions = optionsFor(precision);
    tunedOptions.autotune = true;
    tunedOptions.autotuneCache = path;
    CudaExecutor heuristic(spec, 5, optionsFor(precision));
    CudaExecutor tuned(spec, 5, tunedOptions);
    Executor cpu(spec, 5);
    std::printf("%s", tuned.describeAlgorithms().c_str());
    const std::vector<cuda::AlgorithmChoice> choices = tuned.algorithmChoices();
    check(choices.size() == 6, label + ": 2 convolutions x 3 directions chosen, got " + std::to_string(choices.size()));
    check(allFrom(choices, "timed"), label + ": every direction was timed on first use");
    for (const cuda::AlgorithmChoice& choice : choices) {
      check(choice.milliseconds >= 0.0 && choice.workspaceBytes <= tunedOptions.workspaceLimitBytes,
            label + ": " + choice.node + " " + choice.direction + " has a timing and fits the workspace limit");
    }
    check(allFrom(heuristic.algorithmChoices(), "heuristic"), label + ": without autotune the heuristics choose");
    for (const std::string& notice : tuned.notices()) {
      check(notice.find("autotun") == std::string::npos, label + ": no autotuning notice on a fresh cache: " + notice);
    }

    Rng rng(13);
    const TensorMap inputs{{"x", randomTensor(image, rng)}, {"t", randomTensor({8, 5}, rng)}};
    const double tunedLoss = tuned.lossBackward(inputs);
    const double heuristicLoss = heuristic.lossBackward(inputs);
    const double cpuLoss = cpu.lossBackward(inputs);
    check(std::fabs(tunedLoss - heuristicLoss) <= tolerance * std::max(1.0, std::fabs(heuristicLoss)),
          label + ": loss " + std::to_string(tunedLoss) + " vs heuristics " + std::to_string(heuristicLoss));
    check(std::fabs(tunedLoss - cpuLoss) <= tolerance * std::max(1.0, std::fabs(cpuLoss)),
          label + ": loss " + std::to_string(tunedLoss) + " vs CPU " + std::to_string(cpuLoss));
    for (const char* id : {"c1", "c2", "l"}) {
      checkClose(tuned.value(id), heuristic.value(id), tolerance, label + ": value of " + id + " vs heuristics");
      checkClose(tuned.value(id), cpu.value(id), tolerance, label + ": value of " + id + " vs CPU");
    }
    checkClose(tuned.inputGradient("x"), cpu.inputGradient("x"), tolerance, label + ": input gradient vs CPU");
    for (const std::string& key : cpu.stateNames()) {
      if (cpu.isTrainable(key)) checkClose(tuned.gradient(key), cpu.gradient(key), tolerance, label + ": gradient of " + key + " vs CPU");
    }

    // The file: one entry per direction, the algorithms chosen.
    cuda::AutotuneCache onDisk;
    const std::vector<std::string> loadNotices = onDisk.load(path);
    check(loadNotices.empty() && onDisk.size() == 6, label + ": the cache file holds the 6 timings (" + std::to_string(onDisk.size()) + ")");
    // Another session of this process: the in-memory cache answers.
    CudaExecutor again(spec, 5, tunedOptions);
    check(allFrom(again.algorithmChoices(), "cache") && sameChoices(again.algorithmChoices(), choices),
          label + ": a second session takes every algorithm from the process's cache");
    // A fresh process reading the file (another path, so not the in-memory cache): same algorithms, from the cache.
    const std::string copy = folder + "/" + precisionName(precision) + "-copy.json";
    {
      std::ifstream from(path, std::ios::binary);
      std::ofstream to(copy, std::ios::binary | std::ios::trunc);
      to << from.rdbuf();
    }
    CudaOptions rereadOptions = tunedOptions;
    rereadOptions.autotuneCache = copy;
    CudaExecutor reread(spec, 5, rereadOptions);
    check(allFrom(reread.algorithmChoices(), "cache") && sameChoices(reread.algorithmChoices(), choices),
          label + ": the file read back gives the same algorithms, all from the cache");
    check(reread.describeAlgorithms().find("0 timed, 6 from the cache") != std::string::npos,
          label + ": describeAlgorithms says where they came from: " + reread.describeAlgorithms());
    check(std::fabs(reread.lossBackward(inputs) - tunedLoss) <= 1e-6 * std::max(1.0, std::fabs(tunedLoss)),
          label + ": the cached algorithms compute what the timed ones did");
    // A corrupt file: ignored with a notice, timed again, replaced by a valid file.
    const std::string corrupt = folder + "/" + precisionName(precision) + "-corrupt.json";
    {
      std::ofstream out(corrupt, std::ios::binary | std::ios::trunc);
      out << "{\"format\": \"netlens-cudnn-autotune\", \"version\": 1, \"devices\": [";
    }
    CudaOptions corruptOptions = tunedOptions;
    corruptOptions.autotuneCache = corrupt;
    CudaExecutor recovered(spec, 5, corruptOptions);
    bool noticed = false;
    for (const std::string& notice : recovered.notices()) noticed = noticed || notice.find("not a valid autotuning cache") != std::string::npos;
    check(noticed, label + ": a corrupt cache file is reported as a notice");
    check(allFrom(recovered.algorithmChoices(), "timed"), label + ": after a corrupt file every direction is timed again");
    cuda::AutotuneCache rewritten;
    check(rewritten.load(corrupt).empty() && rewritten.size() == 6, label + ": the corrupt file is replaced by a valid one");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

void refusals() {
  expectThrows([] { CudaExecutor(singleOpSpec({2, 4}, {node("n", "layer_norm", {"x"}, "{\"normalized_shape\":[4]}")}, "n", {2, 4})); },
               "node \"n\" (layer_norm): not supported by the CUDA executor", "an unsupported op is refused by name");
  expectThrows([] { CudaExecutor(singleOpSpec({2, 4}, {node("n", "conv2d", {"x"}, "{\"in_channels\":3,\"out_channels\":3,\"kernel_size\":1}")}, "n", {2, 4})); },
               "node \"n\" (conv2d)", "the CPU executor's spec errors come first");
  const GraphSpec spec = singleOpSpec({4, 8}, {node("l", "linear", {"x"}, "{\"in_features\":8,\"out_features\":3}")}, "l", {4, 3});
  CudaExecutor gpu(spec, 0);
  Rng rng(1);
  expectThrows([&] { gpu.lossBackward({{"x", randomTensor({5, 8}, rng)}, {"t", randomTensor({5, 3}, rng)}}); }, "memory plan is for [4, 8]",
               "another batch size is refused");
  // A NaN loss: trainStep throws and the optimizer kernel leaves every parameter as it was.
  const Tensor biasBefore = gpu.state("l.bias");
  Tensor poisoned = gpu.state("l.weight");
  poisoned.data[0] = NAN;
  gpu.setState("l.weight", poisoned);
  expectThrows([&] { gpu.trainStep({{"x", randomTensor({4, 8}, rng)}, {"t", randomTensor({4, 3}, rng)}}); }, "training loss is NaN",
               "a NaN step throws");
  check(gpu.state("l.bias").data == biasBefore.data, "a NaN step updates nothing");
  check(gpu.stepsTaken() == 0, "a NaN step is not counted");
  // A plan far beyond any GPU: the out-of-memory message carries the numbers.
  expectThrows([] { CudaExecutor(singleOpSpec({1 << 22, 8192}, {node("l", "linear", {"x"}, "{\"in_features\":8192,\"out_features\":16}")}, "l", {1 << 22, 16})); },
               "out of GPU memory: the training step needs", "an impossible plan reports out of memory");
  try {
    CudaExecutor(singleOpSpec({1 << 22, 8192}, {node("l", "linear", {"x"}, "{\"in_features\":8192,\"out_features\":16}")}, "l", {1 << 22, 16}));
  } catch (const std::exception& error) {
    const std::string message = error.what();
    check(message.find(" are free") != std::string::npos && message.find(" of ") != std::string::npos,
          "the out-of-memory message has free and total memory: " + message);
    std::printf("out-of-memory message: %s\n", message.c_str());
  }
}

}  // namespace

int main() {
  std::string reason;
  const bool available = cuda::cudaExecutorAvailable(&reason);
  const char* expect = std::getenv("NETLENS_EXPECT_GPU");
  const bool expectGpu = expect != nullptr && std::string(expect) == "1";
  specRefusalsWithoutGpu();
  if (!available) {
    std::printf("skipped: %s\n", reason.c_str());
    // Even without a GPU, building the executor must fail with that reason rather than crash.
    expectThrows([] { CudaExecutor(singleOpSpec({2, 4}, {node("a", "relu", {"x"}, "{}")}, "a", {2, 4})); }, "cannot run here",
                 "the executor explains why it cannot run");
    if (expectGpu) check(false, "NETLENS_EXPECT_GPU=1 but the CUDA executor cannot run: " + reason);
    return finish("cuda_parity_test");
  }
  opParity();
  dropoutCheck();
  const std::string sgd = "{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}";
  trainingParity("CIFAR CNN, SGD momentum, CUDA graph", cifarSpec(64, sgd, false), 20, true);
  trainingParity("CIFAR CNN, SGD momentum, eager", cifarSpec(64, sgd, false), 20, false);
  trainingParity("CIFAR CNN, SGD nesterov + weight decay", cifarSpec(32, "{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9,\"nesterov\":true,\"weight_decay\":0.0005}", false), 10, true);
  trainingParity("BN CNN, AdamW", cifarSpec(32, "{\"type\":\"adamw\",\"lr\":0.001,\"weight_decay\":0.01}", true), 10, true);
  trainingParity("BN CNN, Adam + cosine schedule", cifarSpec(32, "{\"type\":\"adam\",\"lr\":0.001,\"weight_decay\":0.0001,\"schedule\":{\"type\":\"cosine\",\"t_max\":5}}", true), 10, true);
  pipelineAndOptimizerState("CIFAR CNN, SGD momentum, pipelined", cifarSpec(32, sgd, false));
  pipelineAndOptimizerState("BN CNN, Adam, pipelined", cifarSpec(32, "{\"type\":\"adam\",\"lr\":0.001}", true));
  trainingParity("CIFAR CNN, RMSProp", cifarSpec(32, "{\"type\":\"rmsprop\",\"lr\":0.001}", false), 10, true);
  pipelineAndOptimizerState("BN CNN, RMSProp centered + momentum + weight decay, pipelined",
                            cifarSpec(32, "{\"type\":\"rmsprop\",\"lr\":0.001,\"centered\":true,\"momentum\":0.9,\"weight_decay\":0.0001}", true));
  bf16Parity();
  int major = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  const std::vector<Precision> precisions = major >= 8 ? std::vector<Precision>{kFp32, kTf32, kBf16} : std::vector<Precision>{kFp32, kTf32};
  for (const Precision precision : precisions) fusedEpilogues(precision);
  trainingParity("CIFAR CNN, SGD momentum, unfused linear layers", cifarSpec(64, sgd, false), 20, true, kFp32, true,
                 [](CudaOptions& options) { options.fuseEpilogues = false; });
  const std::string folder = temporaryFolder();
  for (const Precision precision : precisions) autotuneParity(precision, folder);
  trainingParity("CIFAR CNN, SGD momentum, autotuned", cifarSpec(64, sgd, false), 20, true, kFp32, true, [&](CudaOptions& options) {
    options.autotune = true;
    options.autotuneCache = folder + "/training.json";
  });
  trainingParity("BN CNN, SGD momentum, autotuned [bf16]", cifarSpec(32, sgd, true), 10, true, major >= 8 ? kBf16 : kTf32, false,
                 [&](CudaOptions& options) {
                   options.autotune = true;
                   options.autotuneCache = folder + "/training.json";
                 });
  refusals();
  std::printf("worst relative error %.3g\n", worstRelativeError);
  return finish("cuda_parity_test");
}
