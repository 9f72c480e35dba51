// The CPU engine against PyTorch: every op's output and gradients, the losses, training runs of a
// small CNN under each optimizer, and the learning-rate schedules, all recorded by
// scripts/goldens/make_kernel_goldens.py (torch 2.13 CPU) in tests/native/goldens/kernels.json.
// Tolerance: relative error below 1e-4 of each tensor's scale (see test_support.h).
//
// Usage: engine_golden_test path/to/kernels.json [name-filter]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "netlens/executor.h"
#include "test_support.h"

using namespace netlens;
using netlens::test::check;
using netlens::test::checkClose;
using netlens::test::tensorFromJson;

namespace {

constexpr double kTolerance = 1e-4;

TensorMap tensorsOf(const JsonValue& object) {
  TensorMap tensors;
  for (const auto& [name, json] : object.asObject()) tensors[name] = tensorFromJson(json);
  return tensors;
}

void loadState(Executor& executor, const JsonValue& state, const std::string& where) {
  for (const auto& [key, json] : state.asObject()) {
    check(executor.hasState(key), where + ": the engine has no state \"" + key + "\"");
    if (executor.hasState(key)) executor.setState(key, tensorFromJson(json));
  }
  for (const std::string& key : executor.stateNames()) {
    check(state.has(key), where + ": PyTorch's state_dict has no \"" + key + "\"");
  }
}

void checkState(const Executor& executor, const JsonValue& expected, const std::string& where, double tolerance) {
  for (const auto& [key, json] : expected.asObject()) {
    if (!executor.hasState(key)) continue;
    checkClose(executor.state(key), tensorFromJson(json), tolerance, where + " state " + key);
  }
}

void runOpCase(const JsonValue& golden) {
  const std::string name = "op " + golden.at("name").asString();
  Executor executor(graphSpecFromJson(golden.at("graph")));
  executor.setTraining(golden.at("training").asBool());
  loadState(executor, golden.at("state"), name);
  executor.forward(tensorsOf(golden.at("inputs")));
  const std::string output = executor.spec().outputs.at(0);
  checkClose(executor.value(output), tensorFromJson(golden.at("output")), kTolerance, name + " output");
  executor.backward({{output, tensorFromJson(golden.at("grad_output"))}});
  for (const auto& [input, json] : golden.at("input_grads").asObject()) {
    checkClose(executor.inputGradient(input), tensorFromJson(json), kTolerance, name + " grad " + input);
  }
  for (const auto& [key, json] : golden.at("param_grads").asObject()) {
    checkClose(executor.gradient(key), tensorFromJson(json), kTolerance, name + " grad " + key);
  }
  checkState(executor, golden.at("state_after"), name + " after forward:", kTolerance);
}

void runLossCase(const JsonValue& golden) {
  const std::string name = "loss " + golden.at("name").asString();
  Executor executor(graphSpecFromJson(golden.at("graph")));
  const double loss = executor.lossBackward(tensorsOf(golden.at("inputs")));
  const double expected = golden.at("loss").asNumber();
  check(std::fabs(loss - expected) <= kTolerance * std::fabs(expected),
        name + ": loss " + std::to_string(loss) + ", PyTorch " + std::to_string(expected));
  for (const auto& [input, json] : golden.at("input_grads").asObject()) {
    checkClose(executor.inputGradient(input), tensorFromJson(json), kTolerance, name + " grad " + input);
  }
}

void runTraining(const JsonValue& training, const std::string& filter) {
  for (const JsonValue& run : training.at("runs").asArray()) {
    const std::string name = "training " + run.at("name").asString();
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    // The run's optimizer goes into the shared graph.
    JsonValue::Object graph = training.at("graph").asObject();
    graph.emplace_back("optimizer", run.at("optimizer"));
    Executor executor(graphSpecFromJson(JsonValue::makeObject(graph)));
    loadState(executor, training.at("state"), name);
    const JsonValue::Array& batches = training.at("batches").asArray();
    const JsonValue::Array& losses = run.at("losses").asArray();
    const JsonValue::Array& lrs = run.at("lrs").asArray();
    for (size_t step = 0; step < batches.size(); ++step) {
      const double lr = executor.optimizer().learningRate();
      check(std::fabs(lr - lrs[step].asNumber()) <= 1e-9 * std::fabs(lrs[step].asNumber()) + 1e-15,
            name + " step " + std::to_string(step) + ": lr " + std::to_string(lr) + ", PyTorch " +
                std::to_string(lrs[step].asNumber()));
      const double loss = executor.trainStep(tensorsOf(batches[step]));
      const double expected = losses[step].asNumber();
      check(std::fabs(loss - expected) <= kTolerance * std::fabs(expected),
            name + " step " + std::to_string(step) + ": loss " + std::to_string(loss) + ", PyTorch " + std::to_string(expected));
    }
    checkState(executor, run.at("state_after"), name + " final", kTolerance);
    // Frozen parameters must not move at all.
    for (const std::string& key : executor.stateNames()) {
      if (executor.isBuffer(key) || executor.isTrainable(key)) continue;
      const Tensor initial = tensorFromJson(training.at("state").at(key));
      check(executor.state(key).data == initial.data, name + ": frozen " + key + " changed");
    }
  }
}

// The batches of scripts/goldens/make_kernel_goldens.py:synthetic_batch, computed the same way.
TensorMap syntheticBatch(int64_t step, int64_t batch) {
  Tensor x({batch, 3, 8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double label = static_cast<double>((i / 192 + step) % 5);
    const double pixel = static_cast<double>(i % 64);
    x.data[i] = static_cast<float>(std::sin(0.001 * static_cast<double>(i + 1) * static_cast<double>(step + 1) * 7.3) +
                                   std::cos((label + 1) * pixel * 0.2));
  }
  Tensor target({batch});
  for (int64_t n = 0; n < batch; ++n) target.data[n] = static_cast<float>((n + step) % 5);
  return {{"x", x}, {"target", target}};
}

// The parity proof: 50 training steps follow PyTorch's loss within 1e-3 (relative).
void runLongRun(const JsonValue& golden, const std::string& label) {
  Executor executor(graphSpecFromJson(golden.at("graph")));
  loadState(executor, golden.at("state"), label);
  const JsonValue::Array& losses = golden.at("losses").asArray();
  double worst = 0.0;
  for (size_t step = 0; step < losses.size(); ++step) {
    const double loss = executor.trainStep(syntheticBatch(static_cast<int64_t>(step), golden.at("batch").asInt()));
    const double expected = losses[step].asNumber();
    worst = std::max(worst, std::fabs(loss - expected) / std::fabs(expected));
    check(std::fabs(loss - expected) <= 1e-3 * std::fabs(expected),
          label + " step " + std::to_string(step) + ": loss " + std::to_string(loss) + ", PyTorch " + std::to_string(expected));
  }
  checkState(executor, golden.at("state_after"), label + " final", 1e-3);
  std::printf("%s: %zu steps, loss %.4f -> %.4f, worst relative loss difference %.3g\n", label.c_str(), losses.size(),
              losses.front().asNumber(), losses.back().asNumber(), worst);
}

void runSchedule(const JsonValue& golden, size_t index) {
  const std::string name = "schedule " + std::to_string(index);
  JsonValue::Object graph{{"inputs", JsonValue::makeArray({})},
                          {"nodes", JsonValue::makeArray({})},
                          {"outputs", JsonValue::makeArray({})},
                          {"optimizer", golden.at("optimizer")}};
  const GraphSpec spec = graphSpecFromJson(JsonValue::makeObject(graph));
  const JsonValue::Array& lrs = golden.at("lrs").asArray();
  for (size_t step = 0; step < lrs.size(); ++step) {
    const double lr = scheduledLearningRate(*spec.optimizer, static_cast<int64_t>(step));
    const double expected = lrs[step].asNumber();
    check(std::fabs(lr - expected) <= 1e-9 * std::fabs(expected) + 1e-15,
          name + " step " + std::to_string(step) + ": lr " + std::to_string(lr) + ", PyTorch " + std::to_string(expected));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_golden_test kernels.json [name-filter]\n");
    return 2;
  }
  const std::string filter = argc > 2 ? argv[2] : "";
  const JsonValue goldens = parseJson(test::readFile(argv[1]));
  int cases = 0;
  auto guarded = [&](const std::string& name, auto body) {
    if (!filter.empty() && name.find(filter) == std::string::npos) return;
    ++cases;
    try {
      body();
    } catch (const std::exception& error) {
      check(false, name + ": threw " + error.what());
    }
  };
  for (const JsonValue& golden : goldens.at("ops").asArray()) {
    guarded("op " + golden.at("name").asString(), [&] { runOpCase(golden); });
  }
  for (const JsonValue& golden : goldens.at("losses").asArray()) {
    guarded("loss " + golden.at("name").asString(), [&] { runLossCase(golden); });
  }
  guarded("training", [&] { runTraining(goldens.at("training"), filter == "training" ? "" : filter); });
  guarded("long run", [&] { runLongRun(goldens.at("long_run"), "long run"); });
  if (goldens.has("long_run_adam")) guarded("long run adam", [&] { runLongRun(goldens.at("long_run_adam"), "long run adam"); });
  size_t index = 0;
  for (const JsonValue& golden : goldens.at("schedules").asArray()) {
    guarded("schedule " + std::to_string(index), [&] { runSchedule(golden, index); });
    ++index;
  }
  std::printf("engine_golden_test: %d case group(s) against PyTorch %s; worst relative error %.3g (limit %.0e)\n", cases,
              goldens.at("torch").asString().c_str(), test::worstRelativeError, kTolerance);
  return test::finish("engine_golden_test");
}
