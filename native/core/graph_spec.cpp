#include "netlens/graph_spec.h"

#include <set>

namespace netlens {
namespace {

std::string stringField(const JsonValue& object, const std::string& key, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || !value->isString() || value->asString().empty()) {
    throw SpecError(where + ": \"" + key + "\" must be a non-empty string");
  }
  return value->asString();
}

double numberField(const JsonValue& object, const std::string& key, double fallback, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->isNull()) return fallback;
  if (!value->isNumber()) throw SpecError(where + ": \"" + key + "\" must be a number");
  return value->asNumber();
}

int64_t intField(const JsonValue& object, const std::string& key, int64_t fallback, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->isNull()) return fallback;
  try {
    return value->asInt();
  } catch (const JsonError&) {
    throw SpecError(where + ": \"" + key + "\" must be an integer");
  }
}

bool boolField(const JsonValue& object, const std::string& key, bool fallback, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->isNull()) return fallback;
  if (!value->isBool()) throw SpecError(where + ": \"" + key + "\" must be true or false");
  return value->asBool();
}

const JsonValue::Array& arrayField(const JsonValue& object, const std::string& key, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || !value->isArray()) throw SpecError(where + ": \"" + key + "\" must be an array");
  return value->asArray();
}

ScheduleSpec parseSchedule(const JsonValue& json) {
  const std::string where = "optimizer.schedule";
  if (!json.isObject()) throw SpecError(where + " must be an object");
  ScheduleSpec schedule;
  schedule.type = json.has("type") ? stringField(json, "type", where) : "constant";
  if (schedule.type != "constant" && schedule.type != "step" && schedule.type != "cosine") {
    throw SpecError(where + ": unknown type \"" + schedule.type + "\" (constant, step, cosine)");
  }
  schedule.stepSize = intField(json, "step_size", 1, where);
  schedule.gamma = numberField(json, "gamma", 0.1, where);
  schedule.tMax = intField(json, "t_max", 1, where);
  schedule.etaMin = numberField(json, "eta_min", 0.0, where);
  schedule.warmupSteps = intField(json, "warmup_steps", 0, where);
  schedule.warmupStartFactor = numberField(json, "warmup_start_factor", 1.0 / 3.0, where);
  if (schedule.stepSize <= 0) throw SpecError(where + ": step_size must be positive");
  if (schedule.tMax <= 0) throw SpecError(where + ": t_max must be positive");
  if (schedule.warmupSteps < 0) throw SpecError(where + ": warmup_steps must not be negative");
  if (schedule.warmupStartFactor <= 0.0 || schedule.warmupStartFactor > 1.0) {
    throw SpecError(where + ": warmup_start_factor must be in (0, 1]");
  }
  return schedule;
}

OptimizerSpec parseOptimizer(const JsonValue& json) {
  const std::string where = "optimizer";
  if (!json.isObject()) throw SpecError("optimizer must be an object");
  OptimizerSpec optimizer;
  optimizer.type = stringField(json, "type", where);
  // torch.optim's defaults: lr 1e-3, except RMSprop's 1e-2.
  optimizer.lr = numberField(json, "lr", optimizer.type == "rmsprop" ? 0.01 : 0.001, where);
  optimizer.momentum = numberField(json, "momentum", 0.0, where);
  optimizer.dampening = numberField(json, "dampening", 0.0, where);
  optimizer.nesterov = boolField(json, "nesterov", false, where);
  optimizer.weightDecay = numberField(json, "weight_decay", optimizer.type == "adamw" ? 0.01 : 0.0, where);
  if (const JsonValue* betas = json.find("betas")) {
    if (!betas->isArray() || betas->asArray().size() != 2 || !betas->asArray()[0].isNumber() ||
        !betas->asArray()[1].isNumber()) {
      throw SpecError(where + ": \"betas\" must be two numbers");
    }
    optimizer.beta1 = betas->asArray()[0].asNumber();
    optimizer.beta2 = betas->asArray()[1].asNumber();
  }
  optimizer.eps = numberField(json, "eps", 1e-8, where);
  optimizer.alpha = numberField(json, "alpha", 0.99, where);
  optimizer.centered = boolField(json, "centered", false, where);
  if (const JsonValue* schedule = json.find("schedule")) {
    if (!schedule->isNull()) optimizer.schedule = parseSchedule(*schedule);
  }
  if (const JsonValue* frozen = json.find("frozen")) {
    if (!frozen->isArray()) throw SpecError(where + ": \"frozen\" must be an array of names");
    for (const JsonValue& name : frozen->asArray()) {
      if (!name.isString()) throw SpecError(where + ": \"frozen\" must be an array of names");
      optimizer.frozen.push_back(name.asString());
    }
  }
  return optimizer;
}

}  // namespace

const InputSpec* GraphSpec::findInput(const std::string& name) const {
  for (const InputSpec& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

const NodeSpec* GraphSpec::findNode(const std::string& id) const {
  for (const NodeSpec& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

bool isFrozenName(const std::vector<std::string>& frozen, const std::string& name) {
  for (const std::string& entry : frozen) {
    if (name == entry) return true;
    if (name.size() > entry.size() && name.compare(0, entry.size(), entry) == 0 && name[entry.size()] == '.') return true;
  }
  return false;
}

GraphSpec graphSpecFromJson(const JsonValue& document) {
  if (!document.isObject()) throw SpecError("graph spec must be a JSON object");
  GraphSpec spec;
  std::set<std::string> known;

  for (const JsonValue& item : arrayField(document, "inputs", "graph spec")) {
    const std::string where = "inputs[" + std::to_string(spec.inputs.size()) + "]";
    if (!item.isObject()) throw SpecError(where + " must be an object");
    InputSpec input;
    input.name = stringField(item, "name", where);
    for (const JsonValue& extent : arrayField(item, "shape", where)) {
      if (!extent.isNumber() || extent.asNumber() < 1 || extent.asNumber() != static_cast<double>(static_cast<int64_t>(extent.asNumber()))) {
        throw SpecError(where + " (" + input.name + "): shape must hold positive integers");
      }
      input.shape.push_back(extent.asInt());
    }
    if (item.has("dtype")) input.dtype = stringField(item, "dtype", where);
    if (input.dtype != "float32" && input.dtype != "int64") {
      throw SpecError(where + " (" + input.name + "): dtype \"" + input.dtype + "\" is not supported (float32, int64)");
    }
    if (!known.insert(input.name).second) throw SpecError(where + ": duplicate name \"" + input.name + "\"");
    spec.inputs.push_back(std::move(input));
  }

  for (const JsonValue& item : arrayField(document, "nodes", "graph spec")) {
    std::string where = "nodes[" + std::to_string(spec.nodes.size()) + "]";
    if (!item.isObject()) throw SpecError(where + " must be an object");
    NodeSpec node;
    node.id = stringField(item, "id", where);
    where = "node \"" + node.id + "\"";
    node.op = stringField(item, "op", where);
    const JsonValue* attrs = item.find("attrs");
    if (attrs != nullptr && !attrs->isNull() && !attrs->isObject()) throw SpecError(where + ": attrs must be an object");
    node.attrs = (attrs != nullptr && attrs->isObject()) ? *attrs : JsonValue::makeObject({});
    for (const JsonValue& reference : arrayField(item, "inputs", where)) {
      if (!reference.isString()) throw SpecError(where + ": inputs must be names");
      if (known.count(reference.asString()) == 0) {
        throw SpecError(where + ": input \"" + reference.asString() +
                        "\" is neither a graph input nor an earlier node (nodes must be in topological order)");
      }
      node.inputs.push_back(reference.asString());
    }
    if (const JsonValue* params = item.find("params")) {
      if (!params->isObject()) throw SpecError(where + ": params must map roles to state_dict keys");
      for (const auto& [role, key] : params->asObject()) {
        if (!key.isString() || key.asString().empty()) {
          throw SpecError(where + ": params." + role + " must be a state_dict key");
        }
        node.params.emplace_back(role, key.asString());
      }
    }
    if (!known.insert(node.id).second) throw SpecError(where + ": duplicate id");
    spec.nodes.push_back(std::move(node));
  }

  for (const JsonValue& output : arrayField(document, "outputs", "graph spec")) {
    if (!output.isString() || spec.findNode(output.asString()) == nullptr) {
      throw SpecError("outputs: each output must be a node id");
    }
    spec.outputs.push_back(output.asString());
  }

  if (const JsonValue* loss = document.find("loss")) {
    if (!loss->isNull()) {
      if (!loss->isObject()) throw SpecError("loss must be an object");
      LossSpec lossSpec;
      lossSpec.op = stringField(*loss, "op", "loss");
      if (lossSpec.op != "cross_entropy" && lossSpec.op != "mse") {
        throw SpecError("loss: unknown op \"" + lossSpec.op + "\" (cross_entropy, mse)");
      }
      lossSpec.input = stringField(*loss, "input", "loss");
      lossSpec.target = stringField(*loss, "target", "loss");
      lossSpec.labelSmoothing = static_cast<float>(numberField(*loss, "label_smoothing", 0.0, "loss"));
      if (spec.findNode(lossSpec.input) == nullptr) throw SpecError("loss: input \"" + lossSpec.input + "\" is not a node");
      const InputSpec* target = spec.findInput(lossSpec.target);
      if (target == nullptr) throw SpecError("loss: target \"" + lossSpec.target + "\" is not a graph input");
      if (lossSpec.op == "cross_entropy" && target->dtype != "int64") {
        throw SpecError("loss: cross_entropy needs class indices; declare \"" + lossSpec.target + "\" with dtype int64");
      }
      spec.loss = lossSpec;
    }
  }
  if (const JsonValue* optimizer = document.find("optimizer")) {
    if (!optimizer->isNull()) spec.optimizer = parseOptimizer(*optimizer);
  }
  return spec;
}

GraphSpec parseGraphSpec(const std::string& jsonText) {
  JsonValue document;
  try {
    document = parseJson(jsonText);
  } catch (const JsonError& error) {
    throw SpecError(std::string("graph spec is not valid JSON: ") + error.what());
  }
  return graphSpecFromJson(document);
}

}  // namespace netlens
