// The fused CUDA optimizer's element update (optimizer_math.h), with the configuration and step
// parameters the executor gives it (optimizer_setup.h), replayed on the CPU against netlens::Optimizer
// for every optimizer and option the CUDA executor runs: 12 steps on 257 values with a learning-rate
// schedule, then each slot compared with the Optimizer's exported state. No GPU or CUDA is involved,
// so this runs in CI; the kernel around it is a loop over chunks (checked on a GPU by cuda_parity_test).
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "netlens/optimizer.h"
#include "optimizer_setup.h"
#include "math_test_support.h"

using namespace netlens;
using namespace netlens::test;
using namespace netlens::cuda::kernels;

namespace {

double relative(float a, float b) { return std::fabs(static_cast<double>(a) - b) / std::max(1e-6, std::fabs(static_cast<double>(b))); }

void compare(const std::string& spec, const std::string& label, const std::vector<float>& gpu, const Tensor& cpu) {
  expect(gpu.size() == cpu.data.size(), spec + ": " + label + " size");
  double worst = 0.0;
  for (size_t i = 0; i < gpu.size() && i < cpu.data.size(); ++i) worst = std::max(worst, relative(gpu[i], cpu.data[i]));
  // Float math in the same order as the CPU; only Adam's lr/(1−β1ᵗ) is rounded differently (float on
  // the device, double on the CPU), a few ulps.
  expect(worst < 1e-5, spec + ": " + label + " worst relative difference " + std::to_string(worst));
}

void replay(const std::string& json) {
  const GraphSpec graph = parseGraphSpec(
      "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,257]}],\"nodes\":[{\"id\":\"fc\",\"op\":\"linear\",\"inputs\":[\"x\"],"
      "\"attrs\":{\"in_features\":257,\"out_features\":1,\"bias\":false}}],\"outputs\":[\"fc\"],\"optimizer\":" + json + "}");
  const OptimizerSpec& spec = *graph.optimizer;
  Optimizer cpu(spec);
  const OptimizerConfig config = optimizerConfigFor(spec);
  const std::string name = "w";
  Tensor cpuValue({257});
  Rng rng(3);
  for (float& v : cpuValue.data) v = rng.uniform(-1.0f, 1.0f);
  std::vector<float> value = cpuValue.data;
  const size_t n = value.size();
  // The executor's slots: zeroed device memory, present as the spec asks (cuda_executor.cpp allocate).
  const bool sgdMomentum = spec.type == "sgd" && spec.momentum != 0.0;
  const bool adam = spec.type == "adam" || spec.type == "adamw";
  const bool rmsprop = spec.type == "rmsprop";
  std::vector<float> first(n, 0.0f), second(n, 0.0f), third(n, 0.0f);
  const bool hasFirst = sgdMomentum || adam || rmsprop;
  const bool hasSecond = adam || (rmsprop && spec.centered);
  const bool hasThird = rmsprop && spec.momentum > 0.0;
  for (int64_t step = 0; step < 12; ++step) {
    Tensor gradient({257});
    for (float& g : gradient.data) g = rng.uniform(-1.0f, 1.0f) * (step % 3 == 2 ? 1e-3f : 1.0f);
    const OptimizerStep parameters = optimizerStepFor(spec, step);
    check(std::fabs(parameters.lr - cpu.learningRate()) <= 1e-7 * std::max(1.0, cpu.learningRate()),
          json + ": step " + std::to_string(step) + "'s rate agrees with the schedule");
    for (size_t i = 0; i < n; ++i) {
      value[i] = optimizerElement(config, parameters, value[i], gradient.data[i], hasFirst ? &first[i] : nullptr,
                                  hasSecond ? &second[i] : nullptr, hasThird ? &third[i] : nullptr);
    }
    cpu.step({{&name, &cpuValue, &gradient}});
  }
  compare(json, "parameters", value, cpuValue);
  std::map<std::string, Tensor> state;
  for (const auto& [key, tensor] : cpu.exportState()) state[key] = tensor;
  const std::map<std::string, const std::vector<float>*> slots{
      {"momentum_buffer", rmsprop ? &third : &first}, {"exp_avg", &first}, {"exp_avg_sq", &second}, {"square_avg", &first}, {"grad_avg", &second}};
  int compared = 0;
  for (const auto& [slot, values] : slots) {
    const auto found = state.find("w." + slot);
    if (found == state.end()) continue;
    compare(json, slot, *values, found->second);
    ++compared;
  }
  const int expected = static_cast<int>(state.size()) - 1;  // all but "w.step"
  check(compared == expected, json + ": every exported slot has a device counterpart (" + std::to_string(compared) + " of " +
                                  std::to_string(expected) + ")");
  check(compared == static_cast<int>(hasFirst) + static_cast<int>(hasSecond) + static_cast<int>(hasThird),
        json + ": the executor allocates exactly the slots the optimizer exports");
}

}  // namespace

int main() {
  const std::string schedule = ",\"schedule\":{\"type\":\"cosine\",\"t_max\":8}";
  for (const std::string& json : std::vector<std::string>{
           "{\"type\":\"sgd\",\"lr\":0.1}",
           "{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9" + schedule + "}",
           "{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9,\"dampening\":0.1,\"weight_decay\":0.0005}",
           "{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.8,\"nesterov\":true,\"weight_decay\":0.001}",
           "{\"type\":\"adam\",\"lr\":0.001}",
           "{\"type\":\"adam\",\"lr\":0.01,\"weight_decay\":0.01,\"betas\":[0.8,0.99]" + schedule + "}",
           "{\"type\":\"adamw\",\"lr\":0.01,\"weight_decay\":0.1}",
           "{\"type\":\"rmsprop\",\"lr\":0.01}",
           "{\"type\":\"rmsprop\",\"lr\":0.01,\"alpha\":0.9,\"weight_decay\":0.001" + schedule + "}",
           "{\"type\":\"rmsprop\",\"lr\":0.01,\"centered\":true}",
           "{\"type\":\"rmsprop\",\"lr\":0.01,\"momentum\":0.9}",
           "{\"type\":\"rmsprop\",\"lr\":0.001,\"centered\":true,\"momentum\":0.5,\"eps\":1e-6}",
       }) {
    try {
      replay(json);
    } catch (const std::exception& error) {
      check(false, json + ": threw " + error.what());
    }
  }
  return finishMath("optimizer_math", "optimizer_math_test");
}
