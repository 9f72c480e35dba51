// The CUDA executor against the CPU Executor (the reference): every supported op's forward value,
// loss and gradients on the same random inputs and the same initial parameters (strict fp32:
// relative error < 1e-4 of each tensor's scale; TF32: < 5e-3, see kTf32Tolerance), 20 training steps
// of the CIFAR CNN with SGD+momentum (loss within 1e-3 at every step, graph replay and eager), a
// batch-norm CNN with AdamW, lstm/gru/recurrent_state (recurrentParity), and the executor's refusals: an
// attribute it cannot map, another batch size, a
// NaN step (nothing updated), a plan larger than the GPU (out-of-memory message with the numbers).
// bf16 mixed precision against the same fp32 CPU reference with the looser tolerances justified at
// kBf16Tolerance / kBf16LossTolerance, its casts bit for bit against a CPU rounding, and its plan.
//
// Channels-last mode (NHWC activations, [K, R, S, C] filters) reruns the op and training cases and adds
// its own: NHWC pooling/batch norm after a convolution, layouts meeting, dropout masks that match NCHW
// mode's (channelsLastParity).
//
// Fused cuBLASLt epilogues (bias, bias + ReLU, ReLU) against the unfused path and the CPU in every
// precision, cuDNN's fused conv + bias + ReLU forward likewise (fp32, tf32, and NHWC), and cuDNN
// autotuning: timed algorithms against the heuristics' and the CPU, the cache file written, read back
// by a fresh cache and by another session, a corrupt file replaced.
//
// Without a usable GPU it prints "skipped: <reason>" and passes, unless NETLENS_EXPECT_GPU=1.
#include <unistd.h>

#include <chrono>
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

// Set while the op and training cases run again in channels-last mode (channelsLastParity).
bool channelsLastRun = false;

CudaOptions optionsFor(Precision precision) {
  CudaOptions options;
  options.tf32 = precision == kTf32;
  options.bf16 = precision == kBf16;
  options.channelsLast = channelsLastRun;
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

/** A loss within `tolerance` of max(1, |reference|), the loss comparison every case makes. */
void checkLossClose(double loss, double reference, double tolerance, const std::string& label, const std::string& against) {
  check(std::fabs(loss - reference) <= tolerance * std::max(1.0, std::fabs(reference)),
        label + ": loss " + std::to_string(loss) + " vs " + against + " " + std::to_string(reference));
}

/** Every trainable parameter's gradient against the CPU's. */
void checkParameterGradients(const CudaExecutor& gpu, const Executor& cpu, double tolerance, const std::string& label) {
  for (const std::string& key : cpu.stateNames()) {
    if (cpu.isTrainable(key)) checkClose(gpu.gradient(key), cpu.gradient(key), tolerance, label + ": gradient of " + key);
  }
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
      name + (precision == kFp32 ? "" : std::string(" [") + precisionName(precision) + "]") + (training ? "" : " [eval]") +
      (channelsLastRun ? " [nhwc]" : "");
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
    checkLossClose(gpuLoss, cpuLoss, tolerance, label, "CPU");
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

// smooth: tanh and average pooling instead of ReLU and max pooling, and no conv bias before batch norm.
// Adam and RMSProp give every element a full-size step, so an element whose gradient is rounding noise
// (a conv bias feeding batch norm) or that sits on a ReLU/max-pool kink in one run and not the other
// drifts between two correct fp32 implementations; smooth models keep the optimizer-state checks
// meaningful (scripts/gpu/optimizer_tolerances.py emulates the GPU-vs-CPU rounding with two CPU runs).
std::string cifarSpec(int64_t batch, const std::string& optimizer, bool batchNorm, bool smooth = false) {
  const std::string bias = batchNorm && smooth ? ",\"bias\":false" : "";
  const std::string activation = smooth ? "tanh" : "relu";
  const auto conv = [&](const std::string& id, const std::string& input, int in, int out) {
    return node(id, "conv2d", {input}, "{\"in_channels\":" + std::to_string(in) + ",\"out_channels\":" + std::to_string(out) +
                                           ",\"kernel_size\":3,\"padding\":1" + bias + "}");
  };
  std::vector<std::string> nodes;
  std::string last = "x";
  int channels = 3;
  int index = 0;
  for (const int width : {32, 32, 0, 64, 64, 0}) {
    const std::string id = std::to_string(index++);
    if (width == 0) {
      nodes.push_back(node("p" + id, smooth ? "avg_pool2d" : "max_pool2d", {last}, "{\"kernel_size\":2}"));
      last = "p" + id;
      continue;
    }
    nodes.push_back(conv("c" + id, last, channels, width));
    last = "c" + id;
    if (batchNorm) {
      nodes.push_back(node("b" + id, "batch_norm2d", {last}, "{\"num_features\":" + std::to_string(width) + "}"));
      last = "b" + id;
    }
    nodes.push_back(node("r" + id, activation, {last}, "{}"));
    last = "r" + id;
    channels = width;
  }
  nodes.push_back(node("f", "flatten", {last}, "{}"));
  nodes.push_back(node("fc1", "linear", {"f"}, "{\"in_features\":4096,\"out_features\":512}"));
  nodes.push_back(node("r", activation, {"fc1"}, "{}"));
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
    if (options.channelsLast) {
      // The image goes NHWC once and the last pooled value back to NCHW before flatten: two copies.
      check(gpu.layoutChanges().size() == 2, label + ": " + std::to_string(gpu.layoutChanges().size()) + " layout changes, expected 2");
    }
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

// A conv_transpose2d the CPU runs (output_padding 1 is below its dilation 2) and cuDNN cannot (not below the stride 1).
GraphSpec outputPaddingSpec() {
  return singleOpSpec({2, 3, 5, 5},
                      {node("n", "conv_transpose2d", {"x"},
                            "{\"in_channels\":3,\"out_channels\":3,\"kernel_size\":3,\"dilation\":2,\"output_padding\":1}")},
                      "n", {2, 3, 10, 10});
}

// What the binding asks before any device work: ops, attributes, loss and optimizer the executor lacks, by name.
void specRefusalsWithoutGpu() {
  // Every CPU op runs on the GPU now; what remains is refused by attribute (cuDNN cannot map a
  // transposed convolution whose output_padding reaches the stride, which the CPU allows below the dilation).
  const std::string padding = CudaExecutor::unsupportedReason(outputPaddingSpec());
  check(padding == "node \"n\" (conv_transpose2d): the CUDA executor needs output_padding smaller than the stride",
        "unsupportedReason names the node, op and attribute: " + padding);
  try {
    Executor cpu(outputPaddingSpec(), 0);
    check(cpu.stateNames().size() == 2, "the CPU runs that conv_transpose2d");
  } catch (const std::exception& error) {
    check(false, std::string("the CPU should run output_padding below the dilation: ") + error.what());
  }
  check(CudaExecutor::unsupportedReason(
            singleOpSpec({3, 2, 4}, {node("n", "lstm", {"x"}, "{\"input_size\":4,\"hidden_size\":4}")}, "n", {3, 2, 4})).empty(),
        "lstm is supported");
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
void pipelineAndOptimizerState(const std::string& label, const std::string& specText, double stateTolerance = 1e-2) {
  try {
    const GraphSpec spec = parseGraphSpec(specText);
    const int64_t batch = spec.inputs[0].shape[0];
    Executor cpu(spec, 4);
    CudaExecutor gpu(spec, 4, optionsFor(kFp32));
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
      check(relativeError(gpuState[i].second, cpuState[i].second) < stateTolerance,
            label + ": optimizer tensor " + gpuState[i].first + " close to the CPU's");
    }
    CudaExecutor resumed(spec, 77, optionsFor(kFp32));
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
    checkLossClose(fusedLoss, plainLoss, tolerance, label, "unfused");
    checkLossClose(fusedLoss, cpuLoss, tolerance, label, "CPU");
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

// cuDNN's fused convolution + bias + ReLU forward (fuseEpilogues, on by default) against the unfused
// path (cudnnConvolutionForward, cudnnAddTensor, the ReLU kernel) and the CPU: conv layers with a bias
// whose only reader is a ReLU are fused (c1, c2); one without a bias (c3) and one followed by tanh
// (c4) are not. Same algorithm and precision on both sides, so the precision's tolerance holds with
// room; a wrong bias, activation or layout is O(1). The ReLU's backward reads its mask from the fused
// output. Where this cuDNN lacks the fused call, the notice must say so and the unfused path runs.
void convEpilogues(Precision precision, bool channelsLast) {
  const double tolerance = precision == kTf32 ? kTf32Tolerance : kStrictTolerance;
  const std::string label = std::string("conv epilogues [") + precisionName(precision) + (channelsLast ? ", nhwc]" : "]");
  std::printf("%s\n", label.c_str());
  std::fflush(stdout);
  try {
    const Shape image{4, 6, 9, 9};
    const GraphSpec spec = singleOpSpec(
        image,
        {node("c1", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"padding\":1}"), node("r1", "relu", {"c1"}, "{}"),
         node("c2", "conv2d", {"r1"}, "{\"in_channels\":8,\"out_channels\":8,\"kernel_size\":3,\"stride\":2,\"padding\":1}"),
         node("r2", "relu", {"c2"}, "{}"),
         node("c3", "conv2d", {"r2"}, "{\"in_channels\":8,\"out_channels\":4,\"kernel_size\":3,\"padding\":1,\"bias\":false}"),
         node("r3", "relu", {"c3"}, "{}"), node("c4", "conv2d", {"r3"}, "{\"in_channels\":4,\"out_channels\":4,\"kernel_size\":1}"),
         node("t4", "tanh", {"c4"}, "{}"), node("f", "flatten", {"t4"}, "{}"),
         node("l", "linear", {"f"}, "{\"in_features\":100,\"out_features\":5}")},
        "l", {4, 5});
    CudaOptions fusedOptions = optionsFor(precision);
    fusedOptions.channelsLast = channelsLast;
    CudaOptions plainOptions = fusedOptions;
    plainOptions.fuseEpilogues = false;
    CudaExecutor fused(spec, 3, fusedOptions);
    CudaExecutor plain(spec, 3, plainOptions);
    Executor cpu(spec, 3);
    std::printf("%s", fused.describeAlgorithms().c_str());
    std::vector<cuda::EpilogueChoice> convs;
    for (const cuda::EpilogueChoice& choice : fused.epilogues()) {
      if (choice.library == "cudnn") convs.push_back(choice);
    }
    bool unavailable = false;
    for (const std::string& notice : fused.notices()) unavailable = unavailable || notice.find("fused convolution epilogues off") != std::string::npos;
    if (unavailable) {
      check(convs.empty(), label + ": without cuDNN's fused forward no convolution is fused");
      std::printf("note: %s: cuDNN's fused forward is unavailable; the unfused path is what runs\n", label.c_str());
    } else {
      check(convs.size() == 2 && convs[0].node == "c1" && convs[0].activation == "r1" && convs[1].node == "c2" && convs[1].activation == "r2",
            label + ": c1 and c2 (bias, ReLU the only reader) are fused, c3 (no bias) and c4 (tanh) are not");
      for (const cuda::EpilogueChoice& choice : convs) {
        check(choice.active && choice.epilogue == "relu_bias", label + ": cuDNN runs the epilogue of " + choice.node + " (" + choice.note + ")");
      }
      expectThrows([&] { fused.value("c1"); }, "fused into its epilogue", label + ": the fused pre-activation is refused");
    }
    for (const cuda::EpilogueChoice& choice : plain.epilogues()) check(choice.library != "cudnn", label + ": fuseEpilogues = false fuses no convolution");
    Rng rng(31);
    const TensorMap inputs{{"x", randomTensor(image, rng)}, {"t", randomTensor({4, 5}, rng)}};
    const double fusedLoss = fused.lossBackward(inputs);
    const double plainLoss = plain.lossBackward(inputs);
    const double cpuLoss = cpu.lossBackward(inputs);
    checkLossClose(fusedLoss, plainLoss, tolerance, label, "unfused");
    checkLossClose(fusedLoss, cpuLoss, tolerance, label, "CPU");
    for (const char* id : {"r1", "r2", "r3", "l"}) {
      checkClose(fused.value(id), plain.value(id), tolerance, label + ": value of " + id + " vs unfused");
      if (precision == kFp32) checkClose(fused.value(id), cpu.value(id), tolerance, label + ": value of " + id + " vs CPU");
    }
    checkClose(fused.inputGradient("x"), plain.inputGradient("x"), tolerance, label + ": input gradient vs unfused");
    for (const std::string& key : cpu.stateNames()) {
      if (!cpu.isTrainable(key)) continue;
      checkClose(fused.gradient(key), plain.gradient(key), tolerance, label + ": gradient of " + key + " vs unfused");
      if (precision == kFp32) checkClose(fused.gradient(key), cpu.gradient(key), tolerance, label + ": gradient of " + key + " vs CPU");
    }
    for (int step = 0; step < 3; ++step) {
      const TensorMap batch{{"x", randomTensor(image, rng)}, {"t", randomTensor({4, 5}, rng)}};
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
    checkLossClose(tunedLoss, heuristicLoss, tolerance, label, "heuristics");
    checkLossClose(tunedLoss, cpuLoss, tolerance, label, "CPU");
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

// Channels-last mode (CudaOptions::channelsLast): NHWC activations between the layout-aware ops,
// [K, R, S, C] filters, and NCHW everywhere else, checked against the CPU with the same tolerances
// as NCHW mode (the same cuDNN arithmetic; only the memory order changes).
// Ops that run NHWC after a convolution (a graph input stays NCHW, so a pool or batch norm on it
// would not test the NHWC kernels): batch norm (train, eval), max/avg/adaptive pooling, activations,
// eval dropout and add.
void channelsLastOps() {
  const Shape image{4, 6, 9, 9};
  const std::string conv = "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"padding\":1,\"bias\":false}";
  for (const bool training : {true, false}) {
    compareOp("conv, batch norm, max pool, avg pool, adaptive avg pool", image,
              {node("c", "conv2d", {"x"}, conv), node("b", "batch_norm2d", {"c"}, "{\"num_features\":8}"),
               node("m", "max_pool2d", {"b"}, "{\"kernel_size\":3,\"stride\":2,\"padding\":1}"),
               node("a", "avg_pool2d", {"m"}, "{\"kernel_size\":3,\"stride\":1,\"padding\":1,\"count_include_pad\":false}"),
               node("p", "adaptive_avg_pool2d", {"a"}, "{\"output_size\":3}")},
              "p", {4, 8, 3, 3}, training, kFp32);
  }
  compareOp("conv, silu, dropout (eval), relu6, residual add", image,
            {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":6,\"kernel_size\":3,\"padding\":1}"),
             node("s", "silu", {"c"}, "{}"), node("d", "dropout", {"s"}, "{\"p\":0.5}"), node("r", "relu6", {"d"}, "{}"),
             node("y", "add", {"r", "x"}, "{}")},
            "y", image, false, kFp32);
  // NCHW-only ops between convolutions: copies back and forth, gradients through both. A max_pool2d
  // whose indices a max_unpool2d reads stays NCHW (the unpool reads them in NCHW order).
  compareOp("conv, hardswish (NCHW only), conv", image,
            {node("c", "conv2d", {"x"}, conv), node("h", "hardswish", {"c"}, "{}"),
             node("d", "conv2d", {"h"}, "{\"in_channels\":8,\"out_channels\":4,\"kernel_size\":3,\"padding\":1}")},
            "d", {4, 4, 9, 9}, true, kFp32);
  compareOp("conv, max pool, max unpool (NCHW only), conv", {4, 6, 8, 8},
            {node("c", "conv2d", {"x"}, conv), node("p", "max_pool2d", {"c"}, "{\"kernel_size\":2}"),
             node("u", "max_unpool2d", {"p", "p"}, "{\"kernel_size\":2}"),
             node("d", "conv2d", {"u"}, "{\"in_channels\":8,\"out_channels\":4,\"kernel_size\":3,\"padding\":1}")},
            "d", {4, 4, 8, 8}, true, kFp32);
  compareOp("conv, avg pool ceil, conv (stride 2, groups 2)", image,
            {node("c", "conv2d", {"x"}, conv), node("p", "avg_pool2d", {"c"}, "{\"kernel_size\":2,\"ceil_mode\":true}"),
             node("d", "conv2d", {"p"}, "{\"in_channels\":8,\"out_channels\":4,\"kernel_size\":3,\"stride\":2,\"groups\":2,\"padding\":1}")},
            "d", {4, 4, 3, 3}, true, kFp32);
}

// Where layouts meet: graph input x feeds a convolution (an NHWC copy) and a flatten (NCHW, no copy);
// the convolution's branch ends in an adaptive pool to 1×1 whose flatten needs no copy (same bytes),
// so exactly one layout change is planned. Intermediate NHWC values come back NCHW from value(), the
// input gradient sums both branches, and the filter comes back [K, C, R, S] from state() and gradient().
void layoutsMeet() {
  const std::string label = "layouts meet [nhwc]";
  std::printf("%s\n", label.c_str());
  std::fflush(stdout);
  try {
    const Shape image{2, 6, 8, 8};
    const GraphSpec spec = singleOpSpec(
        image,
        {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":6,\"kernel_size\":3,\"padding\":1}"), node("r", "relu", {"c"}, "{}"),
         node("p", "adaptive_avg_pool2d", {"r"}, "{\"output_size\":1}"), node("f", "flatten", {"p"}, "{}"),
         node("g", "flatten", {"x"}, "{}"), node("l", "linear", {"g"}, "{\"in_features\":384,\"out_features\":6}"),
         node("s", "add", {"f", "l"}, "{}")},
        "s", {2, 6});
    Executor cpu(spec, 3);
    // Unfused, so the convolution's own NHWC output stays observable (conv + ReLU would be fused).
    CudaOptions options = optionsFor(kFp32);
    options.fuseEpilogues = false;
    CudaExecutor gpu(spec, 3, options);
    const std::vector<std::string> changes = gpu.layoutChanges();
    check(changes.size() == 1 && changes[0] == "x (as NHWC)",
          label + ": one layout change (x to NHWC), got " + std::to_string(changes.size()) + (changes.empty() ? "" : ": " + changes[0]));
    Rng rng(17);
    const TensorMap inputs{{"x", randomTensor(image, rng)}, {"t", randomTensor({2, 6}, rng)}};
    const double cpuLoss = cpu.lossBackward(inputs);
    const double gpuLoss = gpu.lossBackward(inputs);
    checkLossClose(gpuLoss, cpuLoss, kStrictTolerance, label, "CPU");
    for (const char* id : {"c", "r", "p", "f", "l", "s"}) checkClose(gpu.value(id), cpu.value(id), kStrictTolerance, label + ": value of " + id);
    checkClose(gpu.inputGradient("x"), cpu.inputGradient("x"), kStrictTolerance, label + ": input gradient (both branches)");
    for (const std::string& key : cpu.stateNames()) {
      checkClose(gpu.state(key), cpu.state(key), 0.0, label + ": " + key + " reads back as the CPU's");
      if (cpu.isTrainable(key)) checkClose(gpu.gradient(key), cpu.gradient(key), kStrictTolerance, label + ": gradient of " + key);
    }
    // setState takes [K, C, R, S] and state() gives it back unchanged.
    Tensor weight = cpu.state("c.weight");
    for (size_t i = 0; i < weight.data.size(); ++i) weight.data[i] = static_cast<float>(i) * 0.01f;
    gpu.setState("c.weight", weight);
    cpu.setState("c.weight", weight);
    check(gpu.state("c.weight").data == weight.data, label + ": setState then state() round-trips a [K, C, R, S] filter");
    check(std::fabs(gpu.lossBackward(inputs) - cpu.lossBackward(inputs)) <= kStrictTolerance * 10.0,
          label + ": the set filter computes what the CPU's does");
    checkClose(gpu.value("c"), cpu.value("c"), kStrictTolerance, label + ": value of c after setState");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// A broadcasting add (a squeeze-excitation style x + pool(x)) and an add of a number read NCHW: the
// layout pass gives them NCHW inputs instead of refusing the channels-last model.
void channelsLastBroadcastAdd() {
  const std::string label = "broadcasting add after a conv [nhwc]";
  std::printf("%s\n", label.c_str());
  std::fflush(stdout);
  try {
    const Shape image{2, 6, 8, 8};
    const GraphSpec spec = singleOpSpec(
        image,
        {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":6,\"kernel_size\":3,\"padding\":1}"),
         node("p", "adaptive_avg_pool2d", {"c"}, "{\"output_size\":1}"), node("s", "add", {"c", "p"}, "{}"),
         node("n", "add", {"s"}, "{\"other\":0.5}"), node("f", "flatten", {"n"}, "{}")},
        "f", {2, 384});
    Executor cpu(spec, 5);
    CudaExecutor gpu(spec, 5, optionsFor(kFp32));
    Rng rng(23);
    const TensorMap inputs{{"x", randomTensor(image, rng)}, {"t", randomTensor({2, 384}, rng)}};
    const double cpuLoss = cpu.lossBackward(inputs);
    const double gpuLoss = gpu.lossBackward(inputs);
    checkLossClose(gpuLoss, cpuLoss, kStrictTolerance, label, "CPU");
    for (const char* id : {"c", "p", "s", "n"}) checkClose(gpu.value(id), cpu.value(id), kStrictTolerance, label + ": value of " + id);
    checkClose(gpu.inputGradient("x"), cpu.inputGradient("x"), kStrictTolerance, label + ": input gradient");
    checkParameterGradients(gpu, cpu, kStrictTolerance, label);
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// Dropout after a convolution runs NHWC and hashes each element at its NCHW offset (and its stream at
// the node's place in the spec), so both layouts drop the same elements: the outputs agree to the
// convolution's rounding, where another mask would differ by O(1).
void channelsLastDropout() {
  const std::string label = "dropout masks [nhwc vs nchw]";
  std::printf("%s\n", label.c_str());
  try {
    const Shape image{4, 6, 9, 9};
    const GraphSpec spec = singleOpSpec(
        image, {node("c", "conv2d", {"x"}, "{\"in_channels\":6,\"out_channels\":8,\"kernel_size\":3,\"padding\":1}"), node("d", "dropout", {"c"}, "{\"p\":0.3}")},
        "d", {4, 8, 9, 9});
    CudaOptions nhwc;
    nhwc.channelsLast = true;
    CudaExecutor a(spec, 3), b(spec, 3, nhwc);
    Rng rng(23);
    const TensorMap inputs{{"x", randomTensor(image, rng)}, {"t", randomTensor({4, 8, 9, 9}, rng)}};
    for (int step = 0; step < 2; ++step) {
      a.lossBackward(inputs);
      b.lossBackward(inputs);
      checkClose(b.value("d"), a.value("d"), kStrictTolerance, label + ": step " + std::to_string(step + 1) + " output");
      checkClose(b.inputGradient("x"), a.inputGradient("x"), kStrictTolerance, label + ": step " + std::to_string(step + 1) + " input gradient");
    }
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// The op and training cases again in channels-last mode, plus the cases only it has.
void channelsLastParity(int major) {
  channelsLastRun = true;
  opParity();
  channelsLastOps();
  layoutsMeet();
  channelsLastBroadcastAdd();
  channelsLastDropout();
  const std::string sgd = "{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}";
  trainingParity("CIFAR CNN, SGD momentum, CUDA graph [nhwc]", cifarSpec(64, sgd, false), 10, true);
  trainingParity("BN CNN, AdamW [nhwc]", cifarSpec(32, "{\"type\":\"adamw\",\"lr\":0.001,\"weight_decay\":0.01}", true, true), 6, true, kFp32, false);
  if (major >= 8) trainingParity("BN CNN, SGD momentum [bf16, nhwc]", cifarSpec(32, sgd, true), 6, true, kBf16, false);
  pipelineAndOptimizerState("BN CNN, Adam, pipelined [nhwc]", cifarSpec(32, "{\"type\":\"adam\",\"lr\":0.001}", true, true));
  channelsLastRun = false;
}

void refusals() {
  expectThrows([] { CudaExecutor{outputPaddingSpec()}; }, "node \"n\" (conv_transpose2d): the CUDA executor needs output_padding smaller than the stride",
               "an unsupported attribute is refused by node and op");
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

// ---- sampling and indexing ops: conv_transpose2d, interpolate, embedding, matmul, adaptive max
// pooling, max_unpool2d, local response norm ----------------------------------------------------------

std::string inputJson(const std::string& name, const Shape& shape, const std::string& dtype = "float32") {
  return "{\"name\":\"" + name + "\",\"shape\":" + shapeText(shape) + ",\"dtype\":\"" + dtype + "\"}";
}

// Token ids in [0, rows) stored as floats (how int64 inputs travel).
Tensor tokenIds(const Shape& shape, int64_t rows, Rng& rng) {
  Tensor ids(shape);
  for (float& id : ids.data) id = static_cast<float>(rng.next() % static_cast<uint64_t>(rows));
  return ids;
}

// Like compareOp, for graphs with inputs of their own (two matmul operands, token ids): loss, forward
// value, the gradient of every float input and of every trainable parameter against the CPU.
void compareSampling(const std::string& name, const std::vector<std::string>& inputs, const std::vector<std::string>& nodes,
                     const std::string& last, const Shape& output, const TensorMap& given, Precision precision,
                     const std::function<void(CudaOptions&)>& adjust = nullptr) {
  const double tolerance = precision == kTf32 ? kTf32Tolerance : precision == kBf16 ? kBf16Tolerance : kStrictTolerance;
  const std::string label = name + (precision == kFp32 ? "" : std::string(" [") + precisionName(precision) + "]");
  std::printf("op %s\n", label.c_str());
  std::fflush(stdout);
  try {
    std::string inputList, nodeList;
    for (const std::string& input : inputs) inputList += input + ",";
    for (const std::string& n : nodes) nodeList += (nodeList.empty() ? "" : ",") + n;
    const GraphSpec spec = parseGraphSpec("{\"inputs\":[" + inputList + inputJson("t", output) + "],\"nodes\":[" + nodeList +
                                          "],\"outputs\":[\"" + last + "\"],\"loss\":{\"op\":\"mse\",\"input\":\"" + last +
                                          "\",\"target\":\"t\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.1}}");
    Executor cpu(spec, 7);
    CudaOptions options = optionsFor(precision);
    if (adjust) adjust(options);
    CudaExecutor gpu(spec, 7, options);
    for (const std::string& key : cpu.stateNames()) checkClose(gpu.state(key), cpu.state(key), 0.0, label + ": initial " + key);
    Rng rng(13);
    TensorMap feed = given;
    feed["t"] = randomTensor(output, rng);
    const double cpuLoss = cpu.lossBackward(feed);
    const double gpuLoss = gpu.lossBackward(feed);
    checkLossClose(gpuLoss, cpuLoss, tolerance, label, "CPU");
    checkClose(gpu.value(last), cpu.value(last), tolerance, label + ": forward value");
    for (const InputSpec& input : spec.inputs) {
      if (input.dtype != "float32" || input.name == "t") continue;
      checkClose(gpu.inputGradient(input.name), cpu.inputGradient(input.name), tolerance, label + ": gradient of input " + input.name);
    }
    checkParameterGradients(gpu, cpu, tolerance, label);
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// Without a GPU too: the sampling and indexing ops are accepted by unsupportedReason (what the binding
// asks before any device work), and so are the recurrent layers.
void samplingSupportWithoutGpu() {
  const std::string ops =
      node("c", "conv2d", {"x"}, "{\"in_channels\":3,\"out_channels\":4,\"kernel_size\":3,\"padding\":1}") + "," +
      node("u", "conv_transpose2d", {"c"}, "{\"in_channels\":4,\"out_channels\":4,\"kernel_size\":2,\"stride\":2}") + "," +
      node("i", "interpolate", {"u"}, "{\"mode\":\"bilinear\",\"size\":[8,8]}") + "," +
      node("l", "local_response_norm", {"i"}, "{\"size\":3}") + "," + node("p", "max_pool2d", {"l"}, "{\"kernel_size\":2}") + "," +
      node("q", "max_unpool2d", {"p", "p"}, "{\"kernel_size\":2}") + "," + node("a", "adaptive_max_pool2d", {"q"}, "{\"output_size\":2}") + "," +
      node("m", "matmul", {"a", "a"}, "{}") + "," + node("e", "embedding", {"ids"}, "{\"num_embeddings\":9,\"embedding_dim\":4}");
  const GraphSpec spec = parseGraphSpec("{\"inputs\":[" + std::string("{\"name\":\"x\",\"shape\":[2,3,4,4]},{\"name\":\"ids\",\"shape\":[2,5],") +
                                        "\"dtype\":\"int64\"}],\"nodes\":[" + ops + "],\"outputs\":[\"m\",\"e\"]}");
  const std::string reason = CudaExecutor::unsupportedReason(spec);
  check(reason.empty(), "conv_transpose2d, interpolate, local_response_norm, max_unpool2d, adaptive_max_pool2d, matmul and embedding are "
                        "supported: " + reason);
  const std::string recurrent = CudaExecutor::unsupportedReason(parseGraphSpec(
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,5,4]}],\"nodes\":[" +
      node("r", "lstm", {"x"}, "{\"input_size\":4,\"hidden_size\":3,\"batch_first\":true}") + "," +
      node("g", "gru", {"r"}, "{\"input_size\":3,\"hidden_size\":3,\"batch_first\":true}") + "," +
      node("h", "recurrent_state", {"g"}, "{\"state\":\"h\"}") + "],\"outputs\":[\"r\",\"h\"]}"));
  check(recurrent.empty(), "lstm, gru and recurrent_state are supported: " + recurrent);
}

void samplingOpParity(bool bf16Capable) {
  Rng rng(21);
  std::vector<Precision> precisions{kFp32, kTf32};
  if (bf16Capable) precisions.push_back(kBf16);
  // conv_transpose2d: cuDNN's backward-data forward, forward convolution as the input gradient,
  // backward-filter with input and output gradient swapped as the weight gradient.
  const Shape small{2, 6, 5, 5};
  const Tensor image = randomTensor(small, rng);
  const std::string up = "{\"in_channels\":6,\"out_channels\":4,\"kernel_size\":3,\"stride\":2,\"padding\":1,\"output_padding\":1}";
  for (const Precision precision : precisions) {
    compareSampling("conv_transpose2d stride 2, output_padding", {inputJson("x", small)}, {node("u", "conv_transpose2d", {"x"}, up)}, "u",
                    {2, 4, 10, 10}, {{"x", image}}, precision);
  }
  compareSampling("conv_transpose2d groups + dilation, no bias", {inputJson("x", small)},
                  {node("u", "conv_transpose2d", {"x"},
                        "{\"in_channels\":6,\"out_channels\":4,\"kernel_size\":3,\"dilation\":2,\"padding\":2,\"groups\":2,\"bias\":false}")},
                  "u", {2, 4, 5, 5}, {{"x", image}}, kFp32);
  compareSampling("conv_transpose2d autotuned", {inputJson("x", small)}, {node("u", "conv_transpose2d", {"x"}, up)}, "u", {2, 4, 10, 10},
                  {{"x", image}}, kFp32, [](CudaOptions& options) {
                    options.autotune = true;
                    options.autotuneCache = "none";
                  });
  // interpolate: every mode the CPU op has, up and down, size or scale_factor.
  const Shape planes{2, 3, 5, 6};
  const Tensor source = randomTensor(planes, rng);
  const std::vector<std::pair<std::string, std::pair<std::string, Shape>>> resizes{
      {"nearest 2x", {"{\"mode\":\"nearest\",\"size\":[10,12],\"scale_factor\":2}", {2, 3, 10, 12}}},
      {"nearest to 7x4", {"{\"mode\":\"nearest\",\"size\":[7,4]}", {2, 3, 7, 4}}},
      {"bilinear 2x", {"{\"mode\":\"bilinear\",\"size\":[10,12],\"scale_factor\":2}", {2, 3, 10, 12}}},
      {"bilinear align_corners to 9x11", {"{\"mode\":\"bilinear\",\"align_corners\":true,\"size\":[9,11]}", {2, 3, 9, 11}}},
      {"bilinear down to 3x4", {"{\"mode\":\"bilinear\",\"size\":[3,4]}", {2, 3, 3, 4}}},
      {"bilinear scale 1.5", {"{\"mode\":\"bilinear\",\"size\":[7,9],\"scale_factor\":1.5}", {2, 3, 7, 9}}}};
  for (const auto& [what, resize] : resizes) {
    compareSampling("interpolate " + what, {inputJson("x", planes)}, {node("i", "interpolate", {"x"}, resize.first)}, "i", resize.second,
                    {{"x", source}}, kFp32);
  }
  // embedding: gather forward, deterministic per-column scatter backward; padding_idx gets nothing.
  const Tensor ids = tokenIds({4, 6}, 11, rng);
  for (const std::string& attrs : {std::string("{\"num_embeddings\":11,\"embedding_dim\":8}"),
                                   std::string("{\"num_embeddings\":11,\"embedding_dim\":8,\"padding_idx\":3}")}) {
    compareSampling("embedding " + attrs, {inputJson("x", {4, 6}, "int64")}, {node("e", "embedding", {"x"}, attrs)}, "e", {4, 6, 8},
                    {{"x", ids}}, kFp32);
  }
  // matmul: batched, broadcast one way and both ways (a repeated operand's gradient is reduced).
  struct Product {
    std::string what;
    Shape a, b, out;
  };
  for (const Product& product : {Product{"batched", {2, 3, 4, 5}, {2, 3, 5, 6}, {2, 3, 4, 6}}, Product{"2-D", {7, 5}, {5, 3}, {7, 3}},
                                 Product{"A broadcast", {4, 5}, {3, 5, 6}, {3, 4, 6}}, Product{"B broadcast", {2, 3, 4, 5}, {3, 5, 2}, {2, 3, 4, 2}},
                                 Product{"both broadcast", {2, 1, 4, 5}, {1, 3, 5, 2}, {2, 3, 4, 2}}}) {
    const TensorMap operands{{"x", randomTensor(product.a, rng)}, {"y", randomTensor(product.b, rng)}};
    const std::vector<std::string> inputs{inputJson("x", product.a), inputJson("y", product.b)};
    const std::vector<std::string> nodes{node("m", "matmul", {"x", "y"}, "{}")};
    for (const Precision precision : product.what == "batched" || product.what == "both broadcast" ? precisions : std::vector<Precision>{kFp32}) {
      compareSampling("matmul " + product.what, inputs, nodes, "m", product.out, operands, precision);
    }
  }
  // x @ x: both gradients land in one buffer, the second accumulating.
  compareSampling("matmul x @ x", {inputJson("x", {3, 4, 4})}, {node("m", "matmul", {"x", "x"}, "{}")}, "m", {3, 4, 4},
                  {{"x", randomTensor({3, 4, 4}, rng)}}, kFp32);
  // Pooling with indices.
  const Shape pooled{2, 3, 7, 9};
  compareSampling("adaptive_max_pool2d", {inputJson("x", pooled)}, {node("p", "adaptive_max_pool2d", {"x"}, "{\"output_size\":[3,4]}")}, "p",
                  {2, 3, 3, 4}, {{"x", randomTensor(pooled, rng)}}, kFp32);
  compareSampling("max_pool2d then max_unpool2d", {inputJson("x", {2, 3, 6, 8})},
                  {node("p", "max_pool2d", {"x"}, "{\"kernel_size\":2}"), node("u", "max_unpool2d", {"p", "p"}, "{\"kernel_size\":2}")}, "u",
                  {2, 3, 6, 8}, {{"x", randomTensor({2, 3, 6, 8}, rng)}}, kFp32);
  // Local response norm across channels, 4-D and 3-D.
  compareSampling("local_response_norm size 3", {inputJson("x", {2, 7, 4, 4})},
                  {node("n", "local_response_norm", {"x"}, "{\"size\":3,\"alpha\":0.05,\"beta\":0.75,\"k\":1.0}")}, "n", {2, 7, 4, 4},
                  {{"x", randomTensor({2, 7, 4, 4}, rng)}}, kFp32);
  compareSampling("local_response_norm size 4 on 3-D", {inputJson("x", {3, 6, 5})},
                  {node("n", "local_response_norm", {"x"}, "{\"size\":4,\"alpha\":0.1,\"beta\":0.5,\"k\":2.0}")}, "n", {3, 6, 5},
                  {{"x", randomTensor({3, 6, 5}, rng)}}, kFp32);
  // A token id outside the table: the CPU refuses it; the GPU cannot throw from a kernel, so its
  // embedding row is NaN and so is the loss (a training step then changes nothing and throws).
  try {
    const GraphSpec spec = parseGraphSpec("{\"inputs\":[" + inputJson("x", {2, 3}, "int64") + "," + inputJson("t", {2, 3, 4}) +
                                          "],\"nodes\":[" + node("e", "embedding", {"x"}, "{\"num_embeddings\":5,\"embedding_dim\":4}") +
                                          "],\"outputs\":[\"e\"],\"loss\":{\"op\":\"mse\",\"input\":\"e\",\"target\":\"t\"}}");
    CudaExecutor gpu(spec, 1);
    Tensor bad({2, 3}, {0, 1, 2, 3, 4, 5});
    check(std::isnan(gpu.lossBackward({{"x", bad}, {"t", randomTensor({2, 3, 4}, rng)}})), "embedding: an id outside the table makes the loss NaN");
  } catch (const std::exception& error) {
    check(false, std::string("embedding with a bad id threw ") + error.what());
  }
}

// A loop of training steps on both executors with the same batches; losses within kLossTolerance
// (relative for bf16) at every step and parameters close at the end.
void samplingTraining(const std::string& label, const std::string& specText, int steps, const std::function<TensorMap(Rng&)>& makeBatch,
                      Precision precision = kFp32, const std::function<void(CudaOptions&)>& adjust = nullptr) {
  std::printf("training %s\n", label.c_str());
  std::fflush(stdout);
  try {
    const GraphSpec spec = parseGraphSpec(specText);
    Executor cpu(spec, 5);
    CudaOptions options = optionsFor(precision);
    if (adjust) adjust(options);
    CudaExecutor gpu(spec, 5, options);
    Rng rng(17);
    double worst = 0.0;
    for (int step = 0; step < steps; ++step) {
      const TensorMap batch = makeBatch(rng);
      const double cpuLoss = cpu.trainStep(batch);
      const double gpuLoss = gpu.trainStep(batch);
      worst = std::max(worst, std::fabs(cpuLoss - gpuLoss));
      const double allowed = precision == kBf16 ? kBf16LossTolerance * std::max(1.0, std::fabs(cpuLoss)) : kLossTolerance;
      check(std::fabs(cpuLoss - gpuLoss) <= allowed,
            label + ": step " + std::to_string(step + 1) + " loss " + std::to_string(gpuLoss) + " vs CPU " + std::to_string(cpuLoss));
    }
    double worstParameter = 0.0;
    for (const std::string& key : cpu.stateNames()) worstParameter = std::max(worstParameter, relativeError(gpu.state(key), cpu.state(key)));
    std::printf("%s: %d steps, largest loss difference %.2e, largest parameter difference %.2e (relative)\n", label.c_str(), steps, worst,
                worstParameter);
    check(gpu.graphCaptured(), label + ": the step was captured as a CUDA graph");
    check(worstParameter < (precision == kBf16 ? 5e-2 : 1e-2), label + ": parameters after training stay close to the CPU's");
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

void samplingTrainingParity(bool bf16Capable) {
  // A tiny U-Net: encoder conv → pool → conv, decoded twice (conv_transpose2d and bilinear
  // interpolate), both added to the skip connection, then a 1×1 head; mse against a target image.
  const auto conv = [](const std::string& id, const std::string& input, int in, int out, int kernel) {
    return node(id, "conv2d", {input}, "{\"in_channels\":" + std::to_string(in) + ",\"out_channels\":" + std::to_string(out) +
                                           ",\"kernel_size\":" + std::to_string(kernel) + ",\"padding\":" + std::to_string(kernel / 2) + "}");
  };
  const std::vector<std::string> unet{conv("c1", "x", 3, 8, 3),
                                      node("r1", "relu", {"c1"}, "{}"),
                                      node("p", "max_pool2d", {"r1"}, "{\"kernel_size\":2}"),
                                      conv("c2", "p", 8, 8, 3),
                                      node("r2", "relu", {"c2"}, "{}"),
                                      node("u1", "conv_transpose2d", {"r2"}, "{\"in_channels\":8,\"out_channels\":8,\"kernel_size\":2,\"stride\":2}"),
                                      node("u2", "interpolate", {"r2"}, "{\"mode\":\"bilinear\",\"size\":[16,16],\"scale_factor\":2}"),
                                      node("s", "add", {"r1", "u1", "u2"}, "{}"),
                                      conv("head", "s", 8, 2, 1)};
  std::string list;
  for (const std::string& n : unet) list += (list.empty() ? "" : ",") + n;
  const std::string unetSpec = "{\"inputs\":[" + inputJson("x", {4, 3, 16, 16}) + "," + inputJson("t", {4, 2, 16, 16}) + "],\"nodes\":[" + list +
                               "],\"outputs\":[\"head\"],\"loss\":{\"op\":\"mse\",\"input\":\"head\",\"target\":\"t\"},"
                               "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9}}";
  const auto images = [](Rng& rng) { return TensorMap{{"x", randomTensor({4, 3, 16, 16}, rng)}, {"t", randomTensor({4, 2, 16, 16}, rng)}}; };
  samplingTraining("tiny U-Net (conv_transpose2d + interpolate + add)", unetSpec, 5, images);
  if (bf16Capable) samplingTraining("tiny U-Net [bf16]", unetSpec, 5, images, kBf16);
  // Channels-last: the convolutions, pooling, ReLUs and the add run NHWC, conv_transpose2d and
  // interpolate read NCHW copies, and their gradients come back through the layout pass.
  samplingTraining("tiny U-Net, channels-last", unetSpec, 5, images, kFp32, [](CudaOptions& options) { options.channelsLast = true; });
  // Token ids → embedding → flatten → linear → cross-entropy, with Adam.
  const std::string textSpec =
      "{\"inputs\":[" + inputJson("x", {8, 12}, "int64") + "," + inputJson("y", {8}, "int64") + "],\"nodes\":[" +
      node("e", "embedding", {"x"}, "{\"num_embeddings\":50,\"embedding_dim\":16,\"padding_idx\":0}") + "," + node("f", "flatten", {"e"}, "{}") + "," +
      node("l", "linear", {"f"}, "{\"in_features\":192,\"out_features\":5}") +
      "],\"outputs\":[\"l\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"l\",\"target\":\"y\"},\"optimizer\":{\"type\":\"adam\",\"lr\":0.01}}";
  samplingTraining("embedding → linear, Adam", textSpec, 5, [](Rng& rng) {
    Tensor labels({8});
    for (float& label : labels.data) label = static_cast<float>(rng.next() % 5);
    return TensorMap{{"x", tokenIds({8, 12}, 50, rng)}, {"y", labels}};
  });
}

// ---- element-wise, shape and normalization ops (cuda_kernels_pointwise.cu, cuda_kernels_norm.cu) ----

// Each op against the CPU at the strict tolerance, value and every gradient. Activations read ×4 the
// input (x in [-4, 4], past every threshold: ±3 of hardswish/hardsigmoid, the shrinks' lambdas,
// softplus's threshold); the ops that need positive inputs read |x| + 0.5. Broadcasting operands come
// from mean/sum/narrow of x, so x's gradient sums two paths (the accumulate rule).
void elementwiseOpParity(bool bf16Capable) {
  const auto started = std::chrono::steady_clock::now();
  const Shape image{4, 3, 5, 5};
  const std::vector<std::pair<std::string, std::string>> wide = {
      {"hardswish", "{}"},    {"elu", "{\"alpha\":0.7}"},      {"selu", "{}"},
      {"celu", "{\"alpha\":1.5}"}, {"softplus", "{\"beta\":2,\"threshold\":3}"}, {"hardsigmoid", "{}"},
      {"hardtanh", "{\"min_val\":-2,\"max_val\":1.5}"}, {"mish", "{}"}, {"softsign", "{}"},
      {"logsigmoid", "{}"},   {"tanhshrink", "{}"},            {"softshrink", "{\"lambd\":1}"},
      {"hardshrink", "{}"},   {"exp", "{}"},                   {"abs", "{}"},
      {"pow", "{\"exponent\":3}"}, {"clamp", "{\"min\":-1,\"max\":2}"}, {"clamp", "{\"min\":0.5}"}};
  for (const auto& [op, attrs] : wide) {
    compareOp(op + " " + attrs, image, {node("s", "mul", {"x"}, "{\"other\":4}"), node("a", op, {"s"}, attrs)}, "a", image, true, kFp32);
  }
  const std::vector<std::pair<std::string, std::string>> positive = {
      {"log", "{}"}, {"sqrt", "{}"}, {"rsqrt", "{}"}, {"pow", "{\"exponent\":0.5}"}, {"div", "{\"other\":2,\"reverse\":true}"}};
  for (const auto& [op, attrs] : positive) {
    compareOp(op + " " + attrs + " of |x| + 0.5", image,
              {node("m", "abs", {"x"}, "{}"), node("p", "add", {"m"}, "{\"other\":0.5}"), node("a", op, {"p"}, attrs)}, "a", image, true, kFp32);
  }
  compareOp("1 - x (sub, the number first)", image, {node("a", "sub", {"x"}, "{\"other\":1,\"reverse\":true}")}, "a", image, true, kFp32);
  compareOp("prelu, one weight", image, {node("a", "prelu", {"x"}, "{}")}, "a", image, true, kFp32);
  compareOp("prelu, a weight per channel", image, {node("a", "prelu", {"x"}, "{\"num_parameters\":3,\"init\":0.1}")}, "a", image, true, kFp32);
  // Broadcasting: the smaller operand's gradient is the output gradient reduced over the broadcast dimensions.
  compareOp("sub, broadcast (x - mean over H, W)", image,
            {node("m", "mean", {"x"}, "{\"dim\":[2,3],\"keepdim\":true}"), node("a", "sub", {"x", "m"}, "{}")}, "a", image, true, kFp32);
  compareOp("mul, broadcast over the batch", image,
            {node("n", "narrow", {"x"}, "{\"dim\":0,\"start\":1,\"length\":1}"), node("a", "mul", {"x", "n"}, "{}")}, "a", image, true, kFp32);
  compareOp("div, broadcast by a positive column", image,
            {node("m", "mean", {"x"}, "{\"dim\":-1,\"keepdim\":true}"), node("e", "exp", {"m"}, "{}"), node("a", "div", {"x", "e"}, "{}")}, "a",
            image, true, kFp32);
  compareOp("add with alpha, broadcast from a lower rank", image,
            {node("s", "sum", {"x"}, "{\"dim\":0}"), node("a", "add", {"x", "s"}, "{\"alpha\":0.5}")}, "a", image, true, kFp32);
  compareOp("mul, one value as both operands", image, {node("a", "mul", {"x", "x"}, "{}")}, "a", image, true, kFp32);
  compareOp("softmax dim -1", {8, 40}, {node("a", "softmax", {"x"}, "{\"dim\":-1}")}, "a", {8, 40}, true, kFp32);
  compareOp("softmax dim 1 (strided lines)", image, {node("a", "softmax", {"x"}, "{\"dim\":1}")}, "a", image, true, kFp32);
  compareOp("log_softmax dim 1", image, {node("a", "log_softmax", {"x"}, "{\"dim\":1}")}, "a", image, true, kFp32);
  compareOp("log_softmax dim -1, long rows", {4, 300}, {node("a", "log_softmax", {"x"}, "{\"dim\":-1}")}, "a", {4, 300}, true, kFp32);
  const Shape tokens{4, 6, 16};
  compareOp("layer_norm", tokens, {node("a", "layer_norm", {"x"}, "{\"normalized_shape\":[16]}")}, "a", tokens, true, kFp32);
  compareOp("layer_norm over two dimensions", tokens, {node("a", "layer_norm", {"x"}, "{\"normalized_shape\":[6,16],\"eps\":0.001}")}, "a", tokens,
            true, kFp32);
  compareOp("layer_norm without affine", tokens, {node("a", "layer_norm", {"x"}, "{\"normalized_shape\":[16],\"elementwise_affine\":false}")}, "a",
            tokens, true, kFp32);
  compareOp("layer_norm without bias", tokens, {node("a", "layer_norm", {"x"}, "{\"normalized_shape\":[16],\"bias\":false}")}, "a", tokens, true,
            kFp32);
  compareOp("layer_norm, wide rows", {6, 300}, {node("a", "layer_norm", {"x"}, "{\"normalized_shape\":[300]}")}, "a", {6, 300}, true, kFp32);
  compareOp("mean over H, W", image, {node("a", "mean", {"x"}, "{\"dim\":[2,3]}")}, "a", {4, 3}, true, kFp32);
  compareOp("sum dim 1, keepdim", image, {node("a", "sum", {"x"}, "{\"dim\":1,\"keepdim\":true}")}, "a", {4, 1, 5, 5}, true, kFp32);
  compareOp("mean over all but the batch (a block per value)", image, {node("a", "mean", {"x"}, "{\"dim\":[1,2,3]}")}, "a", {4}, true, kFp32);
  compareOp("sum over a long batch", {96, 8}, {node("a", "sum", {"x"}, "{\"dim\":0}")}, "a", {8}, true, kFp32);
  compareOp("cat dim 1", image, {node("e", "exp", {"x"}, "{}"), node("a", "cat", {"x", "e"}, "{\"dim\":1}")}, "a", {4, 6, 5, 5}, true, kFp32);
  compareOp("cat dim -1, one value twice", image, {node("t", "tanh", {"x"}, "{}"), node("a", "cat", {"x", "t", "x"}, "{\"dim\":-1}")}, "a",
            {4, 3, 5, 15}, true, kFp32);
  compareOp("narrow", image, {node("a", "narrow", {"x"}, "{\"dim\":2,\"start\":1,\"length\":3}")}, "a", {4, 3, 3, 5}, true, kFp32);
  compareOp("select", image, {node("a", "select", {"x"}, "{\"dim\":1,\"index\":-1}")}, "a", {4, 5, 5}, true, kFp32);
  compareOp("permute NCHW to NHWC", image, {node("a", "permute", {"x"}, "{\"dims\":[0,2,3,1]}")}, "a", {4, 5, 5, 3}, true, kFp32);
  compareOp("permute, then linear", tokens,
            {node("p", "permute", {"x"}, "{\"dims\":[0,2,1]}"), node("l", "linear", {"p"}, "{\"in_features\":6,\"out_features\":5}")}, "l",
            {4, 16, 5}, true, kFp32);
  // bf16 mode leaves these ops in fp32: without a conv or linear the strict tolerance holds.
  if (bf16Capable) {
    compareOp("layer_norm, gelu, softmax", tokens,
              {node("n", "layer_norm", {"x"}, "{\"normalized_shape\":[16]}"), node("g", "gelu", {"n"}, "{}"),
               node("a", "softmax", {"g"}, "{\"dim\":-1}")},
              "a", tokens, true, kBf16, kStrictTolerance);
  }
  // For sizing the device check's budget: every case builds both executors.
  std::printf("element-wise, shape and normalization ops: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

// A small transformer-like block trained for 5 steps, CUDA graph and eager: linear → layer_norm →
// gelu → linear → softmax over the features → mean over the tokens → mse. Losses within the strict
// tolerance (relative) at every step, parameters within 1e-3 of each tensor's scale at the end.
void transformerTrainingParity() {
  const std::string list =
      node("l1", "linear", {"x"}, "{\"in_features\":16,\"out_features\":32}") + "," +
      node("n", "layer_norm", {"l1"}, "{\"normalized_shape\":[32]}") + "," + node("g", "gelu", {"n"}, "{}") + "," +
      node("l2", "linear", {"g"}, "{\"in_features\":32,\"out_features\":10}") + "," + node("s", "softmax", {"l2"}, "{\"dim\":-1}") + "," +
      node("m", "mean", {"s"}, "{\"dim\":1}");
  const std::string specText =
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[8,6,16]},{\"name\":\"t\",\"shape\":[8,10]}],\"nodes\":[" + list +
      "],\"outputs\":[\"m\"],\"loss\":{\"op\":\"mse\",\"input\":\"m\",\"target\":\"t\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.5,\"momentum\":0.9}}";
  for (const bool cudaGraph : {true, false}) {
    const std::string label = std::string("transformer block, SGD momentum, ") + (cudaGraph ? "CUDA graph" : "eager");
    std::printf("training %s\n", label.c_str());
    std::fflush(stdout);
    try {
      const GraphSpec spec = parseGraphSpec(specText);
      Executor cpu(spec, 9);
      CudaOptions options;
      options.cudaGraph = cudaGraph;
      CudaExecutor gpu(spec, 9, options);
      Rng rng(31);
      double worst = 0.0;
      for (int step = 0; step < 5; ++step) {
        Tensor target = randomTensor({8, 10}, rng, 0.0f, 0.2f);
        const TensorMap batch{{"x", randomTensor({8, 6, 16}, rng)}, {"t", target}};
        const double cpuLoss = cpu.trainStep(batch);
        const double gpuLoss = gpu.trainStep(batch);
        worst = std::max(worst, std::fabs(cpuLoss - gpuLoss) / std::max(1e-12, std::fabs(cpuLoss)));
        check(std::fabs(cpuLoss - gpuLoss) <= kStrictTolerance * std::fabs(cpuLoss),
              label + ": step " + std::to_string(step + 1) + " loss " + std::to_string(gpuLoss) + " vs CPU " + std::to_string(cpuLoss));
      }
      double worstParameter = 0.0;
      for (const std::string& key : cpu.stateNames()) worstParameter = std::max(worstParameter, relativeError(gpu.state(key), cpu.state(key)));
      std::printf("%s: 5 steps, largest relative loss difference %.2e, largest parameter difference %.2e (relative)\n", label.c_str(), worst,
                  worstParameter);
      check(gpu.graphCaptured() == cudaGraph, label + ": the step was " + (cudaGraph ? "" : "not ") + "captured as a CUDA graph");
      check(worstParameter < 1e-3, label + ": parameters after training stay close to the CPU's");
    } catch (const std::exception& error) {
      check(false, label + ": threw " + error.what());
    }
  }
}

// ---- lstm / gru / recurrent_state (recurrent_kernels.cu, recurrent_schedule.h) -----------------------

// An lstm or gru node read three ways: its output, h_n and (lstm) c_n through recurrent_state nodes,
// all flattened into one mse loss, so the value, both final states, the input gradient and every
// parameter gradient (each state's gradient entering through recurrent_state) are compared with the
// CPU at the strict tolerance: the GEMMs are cuBLAS fp32 and the gate math is the CPU's. TF32 mode
// runs the recurrent GEMMs in TF32: kTf32Tolerance, which scripts/gpu/recurrent_tolerances.py backs
// (an emulation of TF32-rounded operands in every forward and backward GEMM of these cases differs by
// at most 9.5e-4 over 10 seeds). bf16 mode leaves them in fp32: strict.
void compareRecurrent(const std::string& name, const std::string& op, const std::string& attrs, const Shape& x, const Shape& output,
                      const Shape& state, bool training = true, Precision precision = kFp32) {
  const double tolerance = precision == kTf32 ? kTf32Tolerance : kStrictTolerance;
  const std::string label = name + (precision == kFp32 ? "" : std::string(" [") + precisionName(precision) + "]");
  std::printf("op %s\n", label.c_str());
  std::fflush(stdout);
  try {
    const bool lstm = op == "lstm";
    const int64_t total = shapeNumel(output) + shapeNumel(state) * (lstm ? 2 : 1);
    const auto flat = [](const std::string& id, const std::string& input, int64_t count) {
      return node(id, "reshape", {input}, "{\"shape\":[" + std::to_string(count) + "]}");
    };
    std::vector<std::string> nodes{node("r", op, {"x"}, attrs), node("h", "recurrent_state", {"r"}, "{\"state\":\"h\"}"),
                                   flat("fr", "r", shapeNumel(output)), flat("fh", "h", shapeNumel(state))};
    std::vector<std::string> parts{"fr", "fh"};
    if (lstm) {
      nodes.push_back(node("c", "recurrent_state", {"r"}, "{\"state\":\"c\"}"));
      nodes.push_back(flat("fc", "c", shapeNumel(state)));
      parts.push_back("fc");
    }
    nodes.push_back(node("all", "cat", parts, "{\"dim\":0}"));
    std::string list;
    for (const std::string& n : nodes) list += (list.empty() ? "" : ",") + n;
    const GraphSpec spec = parseGraphSpec("{\"inputs\":[" + inputJson("x", x) + "," + inputJson("t", {total}) + "],\"nodes\":[" + list +
                                          "],\"outputs\":[\"all\"],\"loss\":{\"op\":\"mse\",\"input\":\"all\",\"target\":\"t\"},"
                                          "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.1}}");
    Executor cpu(spec, 7);
    CudaExecutor gpu(spec, 7, optionsFor(precision));
    cpu.setTraining(training);
    gpu.setTraining(training);
    for (const std::string& key : cpu.stateNames()) checkClose(gpu.state(key), cpu.state(key), 0.0, label + ": initial " + key);
    Rng rng(19);
    const TensorMap feed{{"x", randomTensor(x, rng)}, {"t", randomTensor({total}, rng)}};
    const double cpuLoss = cpu.lossBackward(feed);
    const double gpuLoss = gpu.lossBackward(feed);
    checkLossClose(gpuLoss, cpuLoss, tolerance, label, "CPU");
    checkClose(gpu.value("r"), cpu.value("r"), tolerance, label + ": output");
    checkClose(gpu.value("h"), cpu.value("h"), tolerance, label + ": h_n");
    if (lstm) checkClose(gpu.value("c"), cpu.value("c"), tolerance, label + ": c_n");
    checkClose(gpu.inputGradient("x"), cpu.inputGradient("x"), tolerance, label + ": input gradient");
    checkParameterGradients(gpu, cpu, tolerance, label);
  } catch (const std::exception& error) {
    check(false, label + ": threw " + error.what());
  }
}

// Dropout between layers draws from the dropout kind's counter-based generator, not the CPU's, so
// in training the check is structural: the masks change the output (against eval mode), a second
// step draws new ones, and the gradients stay finite; eval mode with the same attribute is exact
// (recurrentParity).
void recurrentDropout() {
  std::printf("op lstm dropout between layers [training]\n");
  std::fflush(stdout);
  try {
    const GraphSpec spec = singleOpSpec(
        {6, 4, 5}, {node("r", "lstm", {"x"}, "{\"input_size\":5,\"hidden_size\":8,\"num_layers\":2,\"dropout\":0.5}")}, "r", {6, 4, 8});
    CudaExecutor gpu(spec, 3);
    Rng rng(23);
    const TensorMap feed{{"x", randomTensor({6, 4, 5}, rng)}, {"t", randomTensor({6, 4, 8}, rng)}};
    gpu.setTraining(false);
    gpu.lossBackward(feed);
    const Tensor eval = gpu.value("r");
    gpu.setTraining(true);
    const double first = gpu.lossBackward(feed);
    const Tensor dropped = gpu.value("r");
    const Tensor gradient = gpu.gradient("r.weight_ih_l1");
    gpu.lossBackward(feed);
    const Tensor again = gpu.value("r");
    check(std::isfinite(first), "lstm dropout: finite loss");
    check(relativeError(dropped, eval) > 1e-3, "lstm dropout: the masks change the output in training");
    check(again.data != dropped.data, "lstm dropout: the next step draws other masks");
    bool finite = true;
    for (const float v : gradient.data) finite = finite && std::isfinite(v);
    check(finite, "lstm dropout: finite gradients");
  } catch (const std::exception& error) {
    check(false, std::string("lstm dropout threw ") + error.what());
  }
}

void recurrentParity(bool bf16Capable) {
  compareRecurrent("lstm", "lstm", "{\"input_size\":5,\"hidden_size\":8}", {6, 4, 5}, {6, 4, 8}, {1, 4, 8});
  compareRecurrent("gru", "gru", "{\"input_size\":5,\"hidden_size\":8}", {6, 4, 5}, {6, 4, 8}, {1, 4, 8});
  compareRecurrent("lstm 2 layers bidirectional batch_first", "lstm",
                   "{\"input_size\":5,\"hidden_size\":6,\"num_layers\":2,\"bidirectional\":true,\"batch_first\":true}", {3, 7, 5}, {3, 7, 12},
                   {4, 3, 6});
  compareRecurrent("gru 2 layers bidirectional batch_first, no bias", "gru",
                   "{\"input_size\":5,\"hidden_size\":6,\"num_layers\":2,\"bidirectional\":true,\"batch_first\":true,\"bias\":false}", {3, 7, 5},
                   {3, 7, 12}, {4, 3, 6});
  compareRecurrent("lstm 2 layers, dropout attribute [eval]", "lstm", "{\"input_size\":5,\"hidden_size\":6,\"num_layers\":2,\"dropout\":0.3}",
                   {5, 2, 5}, {5, 2, 6}, {2, 2, 6}, false);
  const std::string deep = "{\"input_size\":5,\"hidden_size\":6,\"num_layers\":2,\"bidirectional\":true,\"batch_first\":true}";
  compareRecurrent("lstm 2 layers bidirectional batch_first", "lstm", deep, {3, 7, 5}, {3, 7, 12}, {4, 3, 6}, true, kTf32);
  compareRecurrent("gru", "gru", "{\"input_size\":5,\"hidden_size\":8}", {6, 4, 5}, {6, 4, 8}, {1, 4, 8}, true, kTf32);
  if (bf16Capable) compareRecurrent("lstm 2 layers bidirectional batch_first", "lstm", deep, {3, 7, 5}, {3, 7, 12}, {4, 3, 6}, true, kBf16);
  recurrentDropout();
}

// Token ids → embedding → lstm (batch_first) → the last step → linear → cross-entropy, 5 SGD steps
// captured as one CUDA graph and replayed.
void recurrentTrainingParity() {
  const std::string spec =
      "{\"inputs\":[" + inputJson("x", {4, 6}, "int64") + "," + inputJson("y", {4}, "int64") + "],\"nodes\":[" +
      node("e", "embedding", {"x"}, "{\"num_embeddings\":20,\"embedding_dim\":8}") + "," +
      node("r", "lstm", {"e"}, "{\"input_size\":8,\"hidden_size\":16,\"batch_first\":true}") + "," +
      node("last", "select", {"r"}, "{\"dim\":1,\"index\":-1}") + "," + node("l", "linear", {"last"}, "{\"in_features\":16,\"out_features\":3}") +
      "],\"outputs\":[\"l\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"l\",\"target\":\"y\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9}}";
  samplingTraining("embedding → lstm → last step → linear", spec, 5, [](Rng& rng) {
    Tensor labels({4});
    for (float& label : labels.data) label = static_cast<float>(rng.next() % 3);
    return TensorMap{{"x", tokenIds({4, 6}, 20, rng)}, {"y", labels}};
  });
}

int main() {
  std::string reason;
  const bool available = cuda::cudaExecutorAvailable(&reason);
  const char* expect = std::getenv("NETLENS_EXPECT_GPU");
  const bool expectGpu = expect != nullptr && std::string(expect) == "1";
  specRefusalsWithoutGpu();
  samplingSupportWithoutGpu();
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
  // Adam's parameters drift by up to ~1.6e-2 of their scale between two correct fp32 runs even on
  // smooth models (optimizer_tolerances.py), so these check losses and rows, not parameters.
  trainingParity("BN CNN, AdamW", cifarSpec(32, "{\"type\":\"adamw\",\"lr\":0.001,\"weight_decay\":0.01}", true, true), 10, true, kFp32, false);
  trainingParity("BN CNN, Adam + cosine schedule",
                 cifarSpec(32, "{\"type\":\"adam\",\"lr\":0.001,\"weight_decay\":0.0001,\"schedule\":{\"type\":\"cosine\",\"t_max\":5}}", true, true),
                 10, true, kFp32, false);
  pipelineAndOptimizerState("CIFAR CNN, SGD momentum, pipelined", cifarSpec(32, sgd, false, true));
  pipelineAndOptimizerState("BN CNN, Adam, pipelined", cifarSpec(32, "{\"type\":\"adam\",\"lr\":0.001}", true, true));
  trainingParity("CIFAR CNN, RMSProp", cifarSpec(32, "{\"type\":\"rmsprop\",\"lr\":0.0001}", false, true), 10, true);
  // Centered RMSProp divides by a variance estimate that rounding moves most: 5e-2 (optimizer_tolerances.py: ≤ 1.8e-2).
  pipelineAndOptimizerState("BN CNN, RMSProp centered + momentum + weight decay, pipelined",
                            cifarSpec(32, "{\"type\":\"rmsprop\",\"lr\":0.0001,\"centered\":true,\"momentum\":0.9,\"weight_decay\":0.0001}", true, true),
                            5e-2);
  bf16Parity();
  int major = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  const std::vector<Precision> precisions = major >= 8 ? std::vector<Precision>{kFp32, kTf32, kBf16} : std::vector<Precision>{kFp32, kTf32};
  for (const Precision precision : precisions) fusedEpilogues(precision);
  for (const Precision precision : {kFp32, kTf32}) convEpilogues(precision, false);
  convEpilogues(kFp32, true);
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
  channelsLastParity(major);
  samplingOpParity(major >= 8);
  samplingTrainingParity(major >= 8);
  elementwiseOpParity(major >= 8);
  transformerTrainingParity();
  recurrentParity(major >= 8);
  recurrentTrainingParity();
  refusals();
  std::printf("worst relative error %.3g\n", worstRelativeError);
  return finish("cuda_parity_test");
}
