// The engine graph spec (ARCHITECTURE.md, "Contract: engine graph spec"): what the analyzer's
// lowering sends the engine. Parsing checks the structure and references; the executor checks each
// op's attributes when it builds the node.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "netlens/json.h"
#include "netlens/tensor.h"

namespace netlens {

/** A spec the engine cannot run; the message names the node, op or field. */
class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct InputSpec {
  std::string name;
  Shape shape;
  std::string dtype = "float32";  // float32 | int64 (class labels)
};

struct NodeSpec {
  std::string id;
  std::string op;
  JsonValue attrs;  // always an object
  /** Node ids or input names, in the op's argument order. */
  std::vector<std::string> inputs;
  /** Role (weight, bias, running_mean, …) → PyTorch state_dict key. */
  std::vector<std::pair<std::string, std::string>> params;
};

struct LossSpec {
  std::string op;      // cross_entropy | mse
  std::string input;   // node id of the prediction
  std::string target;  // input name
  float labelSmoothing = 0.0f;
};

struct ScheduleSpec {
  std::string type = "constant";  // constant | step | cosine
  int64_t stepSize = 1;           // step: multiply by gamma every stepSize optimizer steps
  double gamma = 0.1;
  int64_t tMax = 1;               // cosine: period in optimizer steps
  double etaMin = 0.0;
  int64_t warmupSteps = 0;        // linear warm-up before the schedule (PyTorch LinearLR)
  double warmupStartFactor = 1.0 / 3.0;
};

struct OptimizerSpec {
  std::string type = "sgd";  // sgd | adam | adamw | rmsprop
  double lr = 0.001;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weightDecay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double alpha = 0.99;  // rmsprop smoothing
  bool centered = false;
  ScheduleSpec schedule;
  /** State_dict keys or module prefixes ("features" freezes "features.0.weight") left untrained. */
  std::vector<std::string> frozen;
};

struct GraphSpec {
  std::vector<InputSpec> inputs;
  std::vector<NodeSpec> nodes;
  std::vector<std::string> outputs;
  std::optional<LossSpec> loss;
  std::optional<OptimizerSpec> optimizer;

  const InputSpec* findInput(const std::string& name) const;
  const NodeSpec* findNode(const std::string& id) const;
};

GraphSpec graphSpecFromJson(const JsonValue& document);
GraphSpec parseGraphSpec(const std::string& jsonText);

/** Every op name a node may use (the executor's op set), sorted. */
const std::vector<std::string>& supportedOps();

/** Whether `name` is frozen by an entry of `frozen` (exact key or module prefix). */
bool isFrozenName(const std::vector<std::string>& frozen, const std::string& name);

}  // namespace netlens
