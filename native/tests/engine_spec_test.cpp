// The executor's contract beyond single ops: spec errors name the node and the problem,
// parameters are named and initialized as PyTorch does by default, frozen parameters stay put, a
// NaN loss stops a step before any update, and a small network actually learns.
#include <cmath>
#include <string>

#include "netlens/executor.h"
#include "test_support.h"

using namespace netlens;
using netlens::test::check;
using netlens::test::expectThrows;

namespace {

const char* kCnn = R"({
  "inputs": [{"name": "x", "shape": [2, 3, 8, 8]}, {"name": "y", "shape": [2], "dtype": "int64"}],
  "nodes": [
    {"id": "features.0", "op": "conv2d", "inputs": ["x"],
     "attrs": {"in_channels": 3, "out_channels": 64, "kernel_size": 3, "padding": 1},
     "params": {"weight": "features.0.weight", "bias": "features.0.bias"}},
    {"id": "features.1", "op": "batch_norm2d", "inputs": ["features.0"], "attrs": {"num_features": 64}},
    {"id": "features.2", "op": "relu", "inputs": ["features.1"]},
    {"id": "pool", "op": "adaptive_avg_pool2d", "inputs": ["features.2"], "attrs": {"output_size": 1}},
    {"id": "flat", "op": "flatten", "inputs": ["pool"]},
    {"id": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 64, "out_features": 10},
     "params": {"weight": "classifier.weight", "bias": "classifier.bias"}}
  ],
  "outputs": ["fc"],
  "loss": {"op": "cross_entropy", "input": "fc", "target": "y"},
  "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "frozen": ["features.0"]}
})";

std::string withNodes(const std::string& nodes, const std::string& extra = "") {
  return R"({"inputs":[{"name":"x","shape":[2,3,8,8]}],"nodes":)" + nodes + R"(,"outputs":[])" + extra + "}";
}

void checkSpecErrors() {
  auto fails = [](const std::string& json, const std::string& fragment, const std::string& what) {
    expectThrows([&] { Executor executor(parseGraphSpec(json)); }, fragment, what);
  };
  fails("{", "not valid JSON", "broken JSON");
  fails(R"({"nodes":[],"outputs":[]})", "\"inputs\" must be an array", "missing inputs");
  fails(withNodes(R"([{"id":"a","op":"einsum","inputs":["x"]}])"), "node \"a\": unknown op \"einsum\" (the engine runs: ",
        "unknown op lists the supported ones");
  fails(withNodes(R"([{"id":"a","op":"conv2d","inputs":["x"],"attrs":{"in_channels":3,"kernel_size":3}}])"),
        "node \"a\" (conv2d): attribute \"out_channels\" is required", "missing attribute");
  fails(withNodes(R"([{"id":"a","op":"conv2d","inputs":["x"],"attrs":{"in_channels":4,"out_channels":2,"kernel_size":3}}])"),
        "node \"a\" (conv2d): expects 4 input channels, got [2, 3, 8, 8]", "channel mismatch names the shape");
  fails(withNodes(R"([{"id":"a","op":"conv2d","inputs":["x"],"attrs":{"in_channels":3,"out_channels":2,"kernel_size":9}}])"),
        "smaller than the kernel", "kernel larger than the input");
  fails(withNodes(R"([{"id":"a","op":"relu","inputs":["b"]},{"id":"b","op":"relu","inputs":["x"]}])"), "topological order",
        "reference to a later node");
  fails(withNodes(R"([{"id":"a","op":"relu","inputs":["x"]},{"id":"a","op":"relu","inputs":["x"]}])"), "duplicate id",
        "duplicate node id");
  fails(withNodes(R"([{"id":"a","op":"linear","inputs":["x"],"attrs":{"in_features":8,"out_features":2},"params":{"kernel":"a.k"}}])"),
        "has no parameter or buffer \"kernel\"", "unknown parameter role");
  fails(withNodes(R"([{"id":"a","op":"add","inputs":["x"]}])"), "needs two tensors, or one and the number \"other\"", "add with one input");
  fails(withNodes(R"([{"id":"a","op":"flatten","inputs":["x"]},{"id":"b","op":"add","inputs":["a","x"]}])"),
        "cannot broadcast [2, 192] with [2, 3, 8, 8]", "add of shapes that do not broadcast");
  fails(withNodes(R"([{"id":"a","op":"relu","inputs":["x"]}])", R"(,"optimizer":{"type":"lbfgs"})"), "unknown type \"lbfgs\"",
        "unknown optimizer");
  fails(withNodes(R"([{"id":"a","op":"relu","inputs":["x"]}])", R"(,"optimizer":{"type":"sgd","frozen":["encoder"]})"),
        "frozen \"encoder\" names no parameter", "frozen name that matches nothing");
  fails(withNodes(R"([{"id":"a","op":"relu","inputs":["x"]}])", R"(,"optimizer":{"type":"sgd","nesterov":true})"),
        "nesterov", "nesterov without momentum");
  fails(R"({"inputs":[{"name":"x","shape":[2,4]},{"name":"y","shape":[2]}],"nodes":[{"id":"a","op":"identity","inputs":["x"]}],
           "outputs":["a"],"loss":{"op":"cross_entropy","input":"a","target":"y"}})",
        "declare \"y\" with dtype int64", "cross-entropy labels must be int64");
  fails(withNodes(R"([{"id":"a","op":"max_unpool2d","inputs":["x","x"],"attrs":{"kernel_size":2}}])"),
        "must be the max_pool2d node", "unpool without its pool");
}

void checkNamesAndInit() {
  Executor executor(parseGraphSpec(kCnn), 42);
  const std::vector<std::string> expected = {"features.0.weight",         "features.0.bias",         "features.1.weight",
                                             "features.1.bias",           "features.1.running_mean", "features.1.running_var",
                                             "features.1.num_batches_tracked", "classifier.weight", "classifier.bias"};
  check(executor.stateNames() == expected, "state_dict names and order (explicit keys, then id.role defaults)");
  check(executor.isBuffer("features.1.running_mean") && !executor.isTrainable("features.1.running_mean"), "buffers");
  check(!executor.isTrainable("features.0.weight") && !executor.isTrainable("features.0.bias"), "frozen by module prefix");
  check(executor.isTrainable("classifier.weight") && executor.isTrainable("features.1.weight"), "others trainable");

  // kaiming_uniform_(a=√5): U(±1/√fan_in); fan_in = 3·3·3 = 27. Variance of U(±b) is b²/3.
  const Tensor& weight = executor.state("features.0.weight");
  const double bound = 1.0 / std::sqrt(27.0);
  double sum = 0.0, squares = 0.0;
  bool inside = true;
  for (const float value : weight.data) {
    inside = inside && std::fabs(value) <= bound;
    sum += value;
    squares += static_cast<double>(value) * value;
  }
  const double n = static_cast<double>(weight.numel());
  check(inside, "conv weights within ±1/sqrt(fan_in)");
  check(std::fabs(sum / n) < 0.02, "conv weights centered");
  check(std::fabs(squares / n / (bound * bound / 3.0) - 1.0) < 0.1, "conv weights have the uniform's variance");
  bool biasInside = true;
  for (const float value : executor.state("classifier.bias").data) biasInside = biasInside && std::fabs(value) <= 1.0 / 8.0;
  check(biasInside, "linear bias within ±1/sqrt(in_features)");
  check(executor.state("features.1.weight").data == std::vector<float>(64, 1.0f), "batch norm weight starts at 1");
  check(executor.state("features.1.running_var").data == std::vector<float>(64, 1.0f), "running_var starts at 1");
  check(executor.state("features.1.bias").data == std::vector<float>(64, 0.0f), "batch norm bias starts at 0");

  Executor same(parseGraphSpec(kCnn), 42);
  Executor other(parseGraphSpec(kCnn), 43);
  check(same.state("classifier.weight").data == executor.state("classifier.weight").data, "same seed, same weights");
  check(other.state("classifier.weight").data != executor.state("classifier.weight").data, "another seed, other weights");
}

void checkTrainingBehaviour() {
  Executor executor(parseGraphSpec(kCnn), 1);
  Rng rng(5);
  Tensor x({4, 3, 8, 8});  // a batch of 4 while the spec says 2: any batch size runs
  for (float& value : x.data) value = rng.uniform(-1.0f, 1.0f);
  const Tensor labels({4}, std::vector<float>{1, 7, 3, 7});
  const std::vector<float> frozenBefore = executor.state("features.0.weight").data;
  const std::vector<float> trainedBefore = executor.state("classifier.weight").data;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 30; ++step) {
    last = executor.trainStep({{"x", x}, {"y", labels}});
    if (step == 0) first = last;
  }
  check(last < 0.2 * first, "a small CNN fits one batch (loss " + std::to_string(first) + " -> " + std::to_string(last) + ")");
  check(executor.state("features.0.weight").data == frozenBefore, "frozen conv unchanged after training");
  check(executor.state("classifier.weight").data != trainedBefore, "trainable layer changed");
  check(executor.state("features.1.num_batches_tracked").data[0] == 30.0f, "num_batches_tracked counts training batches");
  check(executor.optimizer().stepsTaken() == 30, "optimizer step count");

  Tensor poisoned = x;
  poisoned.data[0] = NAN;
  const std::vector<float> before = executor.state("classifier.weight").data;
  expectThrows([&] { executor.trainStep({{"x", poisoned}, {"y", labels}}); }, "training loss is NaN at step 31",
               "a NaN loss stops the step");
  check(executor.state("classifier.weight").data == before, "no update after a NaN loss");

  expectThrows([&] { executor.trainStep({{"x", Tensor({4, 3, 9, 8})}, {"y", labels}}); }, "the graph expects [2, 3, 8, 8]",
               "wrong input shape");
  expectThrows([&] { executor.trainStep({{"x", x}, {"y", Tensor({4}, std::vector<float>{1, 2, 3, 10})}}); },
               "label 10.000000 at row 3 is not a class index in [0, 10)", "label out of range");
}

void checkWeightTying() {
  // Two nodes naming the same key share one tensor; its gradient is the sum of both uses.
  const char* tied = R"({"inputs":[{"name":"x","shape":[3,4]}],"nodes":[
      {"id":"a","op":"linear","inputs":["x"],"attrs":{"in_features":4,"out_features":4,"bias":false},"params":{"weight":"shared"}},
      {"id":"b","op":"linear","inputs":["a"],"attrs":{"in_features":4,"out_features":4,"bias":false},"params":{"weight":"shared"}}],
      "outputs":["b"]})";
  Executor executor(parseGraphSpec(tied), 9);
  check(executor.stateNames() == std::vector<std::string>{"shared"}, "one tied tensor");
  Rng rng(3);
  Tensor x({3, 4});
  for (float& value : x.data) value = rng.uniform(-1.0f, 1.0f);
  const Tensor ones({3, 4}, 1.0f);
  executor.forward({{"x", x}});
  executor.backward({{"b", ones}});
  const Tensor analytic = executor.gradient("shared");
  Tensor& weight = executor.state("shared");
  const float step = 1e-2f;
  for (int64_t i = 0; i < weight.numel(); i += 5) {
    const float saved = weight.data[i];
    double sums[2];
    for (int side = 0; side < 2; ++side) {
      weight.data[i] = saved + (side == 0 ? step : -step);
      executor.forward({{"x", x}});
      sums[side] = 0.0;
      for (const float value : executor.value("b").data) sums[side] += value;
    }
    weight.data[i] = saved;
    const double numeric = (sums[0] - sums[1]) / (2.0 * step);
    check(std::fabs(numeric - analytic.data[i]) < 3e-3 + 1e-2 * std::fabs(numeric), "tied weight gradient sums both uses");
  }
}

}  // namespace

int main() {
  checkSpecErrors();
  checkNamesAndInit();
  checkTrainingBehaviour();
  checkWeightTying();
  return test::finish("engine_spec_test");
}
