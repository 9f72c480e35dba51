// Numerical gradient checks for every op: the analytic gradients of L = Σ output·g (g random)
// w.r.t. inputs and parameters against central differences, through the Executor.
//
// Kernels compute in float32, so the differences use a step of 1e-2 on inputs whose values are
// distinct, at least 0.02 apart and at least 0.05 away from zero (no kink or max tie is crossed).
// Tolerance: |analytic − numeric| ≤ 1e-2·max(|analytic|, |numeric|) + 3e-3. Up to 20 elements of
// each tensor are checked.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "kernels.h"
#include "netlens/executor.h"
#include "test_support.h"

using namespace netlens;
using netlens::test::check;

namespace {

constexpr float kStep = 1e-2f;
constexpr double kRelativeTolerance = 1e-2;
constexpr double kAbsoluteTolerance = 3e-3;
constexpr int kSamplesPerTensor = 20;

// Distinct values in [-2, 2], 0.02+ apart, none within 0.05 of zero, in a shuffled order.
Tensor separatedTensor(const Shape& shape, Rng& rng) {
  Tensor tensor(shape);
  const int64_t count = tensor.numel();
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[static_cast<int64_t>(rng.next() % static_cast<uint64_t>(i + 1))]);
  const float spacing = std::max(0.02f, 3.8f / static_cast<float>(count));
  for (int64_t i = 0; i < count; ++i) {
    float value = (static_cast<float>(order[i]) - static_cast<float>(count) / 2.0f) * spacing;
    value += value >= 0.0f ? 0.05f : -0.05f;
    tensor.data[i] = value;
  }
  return tensor;
}

Tensor randomTensor(const Shape& shape, Rng& rng, float low, float high) {
  Tensor tensor(shape);
  for (float& value : tensor.data) value = rng.uniform(low, high);
  return tensor;
}

double objective(Executor& executor, const TensorMap& inputs, const std::string& output, const Tensor& weights) {
  executor.reseed(7);
  executor.forward(inputs);
  const Tensor& out = executor.value(output);
  double sum = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) sum += static_cast<double>(out.data[i]) * weights.data[i];
  return sum;
}

void compare(const std::string& what, float analytic, double numeric) {
  const double error = std::fabs(analytic - numeric);
  const double allowed = kRelativeTolerance * std::max(std::fabs(static_cast<double>(analytic)), std::fabs(numeric)) + kAbsoluteTolerance;
  check(error <= allowed, what + ": analytic " + std::to_string(analytic) + ", numeric " + std::to_string(numeric));
}

struct Case {
  std::string name;
  std::string nodesJson;  // the "nodes" array
  std::vector<std::pair<std::string, Shape>> inputs;
  bool training = true;
};

std::string inputsJson(const Case& c) {
  std::string json = "[";
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    json += (i ? "," : "") + std::string("{\"name\":\"") + c.inputs[i].first + "\",\"shape\":[";
    for (size_t d = 0; d < c.inputs[i].second.size(); ++d) json += (d ? "," : "") + std::to_string(c.inputs[i].second[d]);
    json += "]}";
  }
  return json + "]";
}

void runCase(const Case& c, Rng& rng) {
  const std::string specJson =
      "{\"inputs\":" + inputsJson(c) + ",\"nodes\":" + c.nodesJson + ",\"outputs\":[\"m\"]}";
  Executor executor(parseGraphSpec(specJson), 3);
  executor.setTraining(c.training);
  // Random parameters (not the default init) so every element of a scale or shift matters; the
  // running variance stays positive.
  for (const std::string& key : executor.stateNames()) {
    Tensor& state = executor.state(key);
    if (key.find("num_batches_tracked") != std::string::npos) continue;
    const bool variance = key.find("running_var") != std::string::npos;
    state = randomTensor(state.shape, rng, variance ? 0.5f : -1.0f, variance ? 1.5f : 1.0f);
  }
  TensorMap inputs;
  for (const auto& [name, shape] : c.inputs) inputs[name] = separatedTensor(shape, rng);
  executor.reseed(7);
  executor.forward(inputs);
  const Tensor weights = randomTensor(executor.value("m").shape, rng, -1.0f, 1.0f);
  executor.reseed(7);
  executor.forward(inputs);
  executor.backward({{"m", weights}});
  // Copies: the objective's forward passes below do not touch gradients, but keep them stable anyway.
  std::map<std::string, Tensor> inputGrads;
  for (const auto& input : c.inputs) inputGrads[input.first] = executor.inputGradient(input.first);
  std::map<std::string, Tensor> paramGrads;
  for (const std::string& key : executor.stateNames()) {
    if (executor.isTrainable(key)) paramGrads[key] = executor.gradient(key);
  }
  // Running statistics change on each training forward; they do not affect training outputs, but
  // restore them so eval cases see fixed statistics.
  std::map<std::string, Tensor> buffers;
  for (const std::string& key : executor.stateNames()) {
    if (executor.isBuffer(key)) buffers[key] = executor.state(key);
  }
  auto restoreBuffers = [&] {
    for (const auto& [key, value] : buffers) executor.state(key) = value;
  };

  auto probe = [&](const std::string& label, Tensor& target, const Tensor& analytic) {
    const int64_t count = target.numel();
    const int64_t stride = std::max<int64_t>(1, count / kSamplesPerTensor);
    for (int64_t i = (count > kSamplesPerTensor ? static_cast<int64_t>(rng.next() % static_cast<uint64_t>(stride)) : 0); i < count; i += stride) {
      const float saved = target.data[i];
      target.data[i] = saved + kStep;
      restoreBuffers();
      const double plus = objective(executor, inputs, "m", weights);
      target.data[i] = saved - kStep;
      restoreBuffers();
      const double minus = objective(executor, inputs, "m", weights);
      target.data[i] = saved;
      compare(c.name + " d/d" + label + "[" + std::to_string(i) + "]", analytic.data[i], (plus - minus) / (2.0 * kStep));
    }
  };
  for (auto& [name, tensor] : inputs) probe(name, tensor, inputGrads.at(name));
  for (auto& [key, grad] : paramGrads) probe(key, executor.state(key), grad);
}

std::string node(const std::string& id, const std::string& op, const std::string& inputs, const std::string& attrs = "{}") {
  return "{\"id\":\"" + id + "\",\"op\":\"" + op + "\",\"inputs\":" + inputs + ",\"attrs\":" + attrs + "}";
}
std::string single(const std::string& op, const std::string& attrs = "{}") { return "[" + node("m", op, "[\"x\"]", attrs) + "]"; }

std::vector<Case> cases() {
  const Shape image{2, 3, 5, 5};
  return {
      {"conv2d", single("conv2d", R"({"in_channels":3,"out_channels":4,"kernel_size":3,"padding":1})"), {{"x", image}}},
      {"conv2d strided dilated grouped",
       single("conv2d", R"({"in_channels":4,"out_channels":2,"kernel_size":[3,2],"stride":[2,1],"padding":[2,1],"dilation":[2,1],"groups":2})"),
       {{"x", {2, 4, 7, 6}}}},
      {"conv2d pointwise", single("conv2d", R"({"in_channels":3,"out_channels":2,"kernel_size":1,"bias":false})"), {{"x", image}}},
      {"conv_transpose2d",
       single("conv_transpose2d", R"({"in_channels":3,"out_channels":4,"kernel_size":3,"stride":2,"padding":1,"output_padding":1})"),
       {{"x", {2, 3, 3, 3}}}},
      {"conv_transpose2d grouped",
       single("conv_transpose2d", R"({"in_channels":4,"out_channels":2,"kernel_size":2,"groups":2,"dilation":2})"), {{"x", {1, 4, 3, 3}}}},
      {"linear", single("linear", R"({"in_features":5,"out_features":3})"), {{"x", {4, 5}}}},
      {"relu", single("relu"), {{"x", image}}},
      {"relu6", single("relu6"), {{"x", image}}},
      {"leaky_relu", single("leaky_relu", R"({"negative_slope":0.1})"), {{"x", image}}},
      {"gelu", single("gelu"), {{"x", image}}},
      {"gelu tanh", single("gelu", R"({"approximate":"tanh"})"), {{"x", image}}},
      {"silu", single("silu"), {{"x", image}}},
      {"sigmoid", single("sigmoid"), {{"x", image}}},
      {"tanh", single("tanh"), {{"x", image}}},
      {"hardswish", single("hardswish"), {{"x", image}}},
      {"max_pool2d", single("max_pool2d", R"({"kernel_size":3,"stride":2,"padding":1})"), {{"x", image}}},
      {"max_pool2d ceil dilation", single("max_pool2d", R"({"kernel_size":2,"stride":2,"dilation":2,"ceil_mode":true})"), {{"x", {1, 2, 7, 6}}}},
      {"avg_pool2d", single("avg_pool2d", R"({"kernel_size":3,"stride":2,"padding":1,"count_include_pad":false,"ceil_mode":true})"), {{"x", image}}},
      {"adaptive_avg_pool2d", single("adaptive_avg_pool2d", R"({"output_size":[2,3]})"), {{"x", image}}},
      {"max_unpool2d",
       "[" + node("pool", "max_pool2d", "[\"x\"]", R"({"kernel_size":2})") + "," +
           node("m", "max_unpool2d", "[\"pool\",\"pool\"]", R"({"kernel_size":2})") + "]",
       {{"x", {2, 2, 4, 4}}}},
      {"batch_norm2d train", single("batch_norm2d", R"({"num_features":3})"), {{"x", image}}},
      {"batch_norm2d eval", single("batch_norm2d", R"({"num_features":3})"), {{"x", image}}, false},
      {"batch_norm1d train", single("batch_norm1d", R"({"num_features":4})"), {{"x", {5, 4}}}},
      {"layer_norm", single("layer_norm", R"({"normalized_shape":[3,5]})"), {{"x", {2, 4, 3, 5}}}},
      {"dropout train (fixed mask)", single("dropout", R"({"p":0.3})"), {{"x", image}}},
      {"flatten + linear",
       "[" + node("f", "flatten", "[\"x\"]") + "," + node("m", "linear", "[\"f\"]", R"({"in_features":12,"out_features":2})") + "]",
       {{"x", {2, 3, 2, 2}}}},
      {"reshape", single("reshape", R"({"shape":[-1,6]})"), {{"x", {2, 3, 2, 2}}}},
      {"add (residual)",
       "[" + node("c", "conv2d", "[\"x\"]", R"({"in_channels":3,"out_channels":3,"kernel_size":3,"padding":1})") + "," +
           node("m", "add", "[\"c\",\"x\"]") + "]",
       {{"x", image}}},
      {"cat", "[" + node("m", "cat", "[\"x\",\"y\"]", R"({"dim":1})") + "]", {{"x", {2, 2, 3}}, {"y", {2, 1, 3}}}},
      {"mean", single("mean", R"({"dim":[2,3],"keepdim":true})"), {{"x", image}}},
  };
}

void checkDropoutStatistics() {
  Executor executor(parseGraphSpec(R"({"inputs":[{"name":"x","shape":[100,100]}],
      "nodes":[{"id":"m","op":"dropout","inputs":["x"],"attrs":{"p":0.3}}],"outputs":["m"]})"));
  executor.forward({{"x", Tensor({100, 100}, 1.0f)}});
  int64_t zeros = 0;
  bool scaled = true;
  for (const float value : executor.value("m").data) {
    if (value == 0.0f) ++zeros;
    else scaled = scaled && std::fabs(value - 1.0f / 0.7f) < 1e-6f;
  }
  // 10000 draws at p = 0.3: the standard deviation of the count is about 46.
  check(std::llabs(zeros - 3000) < 230, "dropout drops about p of the values (" + std::to_string(zeros) + " of 10000)");
  check(scaled, "dropout scales kept values by 1/(1-p)");
  const std::vector<float> first = executor.value("m").data;
  executor.forward({{"x", Tensor({100, 100}, 1.0f)}});
  check(executor.value("m").data != first, "each forward draws a new mask");
  executor.setTraining(false);
  executor.forward({{"x", Tensor({100, 100}, 1.0f)}});
  check(executor.value("m").data == std::vector<float>(10000, 1.0f), "dropout is the identity in eval mode");
}

// The GEMM every conv and linear layer runs on, against a plain triple loop in double: edge tiles
// (sizes not multiples of the 6×16 tile or the 256 blocks), both transposes, beta, and the threaded
// row and column splits (large enough products take them).
void checkGemmAgainstReference(Rng& rng) {
  struct Case {
    int64_t M, N, K;
  };
  const Case cases[] = {{1, 1, 1}, {5, 17, 3}, {7, 33, 300}, {13, 260, 31}, {64, 40, 600}, {20, 700, 90}, {300, 24, 70}};
  for (const Case& c : cases) {
    for (int variant = 0; variant < 8; ++variant) {
      const bool transA = (variant & 1) != 0, transB = (variant & 2) != 0, parallel = (variant & 4) != 0;
      const float beta = variant % 3 == 0 ? 0.0f : (variant % 3 == 1 ? 1.0f : 0.5f);
      const Tensor A = randomTensor({c.M * c.K}, rng, -1.0f, 1.0f);
      const Tensor B = randomTensor({c.K * c.N}, rng, -1.0f, 1.0f);
      Tensor C = randomTensor({c.M * c.N}, rng, -1.0f, 1.0f);
      std::vector<double> expected(static_cast<size_t>(c.M * c.N));
      for (int64_t i = 0; i < c.M; ++i) {
        for (int64_t j = 0; j < c.N; ++j) {
          double sum = beta == 0.0f ? 0.0 : static_cast<double>(beta) * C.data[i * c.N + j];
          for (int64_t k = 0; k < c.K; ++k) {
            const double a = transA ? A.data[k * c.M + i] : A.data[i * c.K + k];
            const double b = transB ? B.data[j * c.K + k] : B.data[k * c.N + j];
            sum += a * b;
          }
          expected[static_cast<size_t>(i * c.N + j)] = sum;
        }
      }
      cpu::gemm(transA, transB, c.M, c.N, c.K, A.ptr(), transA ? c.M : c.K, B.ptr(), transB ? c.K : c.N, beta, C.ptr(), c.N,
                parallel);
      double worst = 0.0;
      for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::fabs(expected[i] - C.data[i]));
      // Summing K float products of magnitude ≤ 1 errs by at most about K·2⁻²⁴ (6e-8·K).
      const double allowed = 1e-6 * static_cast<double>(c.K) + 1e-6;
      check(worst <= allowed, "gemm " + std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) +
                                  " variant " + std::to_string(variant) + ": error " + std::to_string(worst));
    }
  }
}

}  // namespace

int main() {
  Rng rng(12345);
  int run = 0;
  for (const Case& c : cases()) {
    try {
      runCase(c, rng);
      ++run;
    } catch (const std::exception& error) {
      check(false, c.name + ": threw " + error.what());
    }
  }
  checkDropoutStatistics();
  checkGemmAgainstReference(rng);
  std::printf("engine_gradcheck_test: %d op cases checked\n", run);
  return test::finish("engine_gradcheck_test");
}
