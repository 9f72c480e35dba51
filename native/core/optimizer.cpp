#include "netlens/optimizer.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace netlens {
namespace {
constexpr double kPi = 3.14159265358979323846;
}

double scheduledLearningRate(const OptimizerSpec& spec, int64_t step) {
  const ScheduleSpec& schedule = spec.schedule;
  const double base = spec.lr;
  // Warm-up as torch.optim.lr_scheduler.LinearLR(start_factor, total_iters=warmupSteps), then the
  // schedule restarts its own count, as SequentialLR does at its milestone.
  if (step < schedule.warmupSteps) {
    const double progress = static_cast<double>(step) / static_cast<double>(schedule.warmupSteps);
    return base * (schedule.warmupStartFactor + (1.0 - schedule.warmupStartFactor) * progress);
  }
  const int64_t t = step - schedule.warmupSteps;
  if (schedule.type == "step") {
    return base * std::pow(schedule.gamma, static_cast<double>(t / schedule.stepSize));
  }
  if (schedule.type == "cosine") {
    // CosineAnnealingLR's closed form (it keeps oscillating past t_max, as PyTorch's does).
    return schedule.etaMin + (base - schedule.etaMin) *
                                 (1.0 + std::cos(kPi * static_cast<double>(t) / static_cast<double>(schedule.tMax))) / 2.0;
  }
  return base;
}

Optimizer::Optimizer(OptimizerSpec spec) : spec_(std::move(spec)) {
  const std::string& type = spec_.type;
  if (type != "sgd" && type != "adam" && type != "adamw" && type != "rmsprop") {
    throw SpecError("optimizer: unknown type \"" + type + "\" (sgd, adam, adamw, rmsprop)");
  }
  if (!(spec_.lr >= 0.0)) throw SpecError("optimizer: lr must not be negative");
  if (spec_.momentum < 0.0) throw SpecError("optimizer: momentum must not be negative");
  if (spec_.weightDecay < 0.0) throw SpecError("optimizer: weight_decay must not be negative");
  if (spec_.nesterov && (spec_.momentum <= 0.0 || spec_.dampening != 0.0)) {
    throw SpecError("optimizer: nesterov momentum requires a momentum and zero dampening");
  }
  if (spec_.beta1 < 0.0 || spec_.beta1 >= 1.0 || spec_.beta2 < 0.0 || spec_.beta2 >= 1.0) {
    throw SpecError("optimizer: betas must be in [0, 1)");
  }
}

void Optimizer::step(const std::vector<ParameterUpdate>& parameters) {
  const double lr = learningRate();
  for (const ParameterUpdate& parameter : parameters) {
    State& state = state_[*parameter.name];
    if (spec_.type == "sgd") {
      sgd(state, *parameter.value, *parameter.gradient, lr);
    } else if (spec_.type == "adam") {
      adam(state, *parameter.value, *parameter.gradient, lr, false);
    } else if (spec_.type == "adamw") {
      adam(state, *parameter.value, *parameter.gradient, lr, true);
    } else {
      rmsprop(state, *parameter.value, *parameter.gradient, lr);
    }
  }
  ++steps_;
}

std::vector<std::string> Optimizer::slotNames() const {
  if (spec_.type == "sgd") return spec_.momentum != 0.0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  if (spec_.type == "adam" || spec_.type == "adamw") return {"exp_avg", "exp_avg_sq"};
  std::vector<std::string> slots = {"square_avg"};
  if (spec_.centered) slots.push_back("grad_avg");
  if (spec_.momentum > 0.0) slots.push_back("momentum_buffer");
  return slots;
}

// The State fields each slot lives in (see the comments on State and in sgd/adam/rmsprop).
Tensor& Optimizer::slot(State& state, const std::string& name) {
  if (name == "exp_avg_sq" || name == "grad_avg") return state.second;
  if (name == "momentum_buffer" && !state.third.data.empty()) return state.third;
  return state.first;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::exportState() const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  const std::vector<std::string> slots = slotNames();
  for (const auto& [name, state] : state_) {
    if (state.steps == 0) continue;
    State copy = state;
    for (const std::string& slotName : slots) tensors.emplace_back(name + "." + slotName, slot(copy, slotName));
    tensors.emplace_back(name + ".step", Tensor({1}, {static_cast<float>(state.steps)}));
  }
  return tensors;
}

void Optimizer::importState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps,
                            const std::map<std::string, Shape>& shapes) {
  if (steps < 0) throw std::invalid_argument("optimizer state: the step count is negative");
  const std::vector<std::string> slots = slotNames();
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : tensors) given[name] = &tensor;
  std::map<std::string, State> restored;
  std::set<std::string> used;
  for (const auto& [parameter, shape] : shapes) {
    const auto stepFound = given.find(parameter + ".step");
    if (stepFound == given.end()) {
      // A parameter with no state has not been stepped; only possible before the first step.
      if (steps > 0) throw std::invalid_argument("optimizer state has no \"" + parameter + ".step\"; it belongs to another model or optimizer");
      continue;
    }
    used.insert(stepFound->first);
    State state;
    if (stepFound->second->numel() != 1 || !(stepFound->second->data[0] >= 1.0f)) {
      throw std::invalid_argument("optimizer state: \"" + parameter + ".step\" must be one positive count");
    }
    state.steps = static_cast<int64_t>(stepFound->second->data[0]);
    // RMSprop keeps its momentum buffer in `third`; mark it so slot() finds it there.
    if (spec_.type == "rmsprop" && spec_.momentum > 0.0) state.third = Tensor(shape);
    for (const std::string& slotName : slots) {
      const std::string key = parameter + "." + slotName;
      const auto found = given.find(key);
      if (found == given.end()) throw std::invalid_argument("optimizer state has no \"" + key + "\"; it belongs to another model or optimizer (" + spec_.type + ")");
      if (found->second->numel() != shapeNumel(shape)) {
        throw std::invalid_argument("optimizer state: \"" + key + "\" is " + formatShape(found->second->shape) + ", the parameter is " + formatShape(shape));
      }
      Tensor value(shape);
      value.data = found->second->data;
      slot(state, slotName) = std::move(value);
      used.insert(key);
    }
    restored[parameter] = std::move(state);
  }
  for (const auto& [name, tensor] : given) {
    if (used.count(name) == 0) throw std::invalid_argument("optimizer state: \"" + name + "\" is not state of this model's " + spec_.type + " optimizer");
  }
  state_ = std::move(restored);
  steps_ = steps;
}

// torch.optim.SGD: d = g + wd·p; buf = d on the first step, else μ·buf + (1−τ)·d;
// nesterov: d = d + μ·buf, else d = buf; p −= lr·d.
void Optimizer::sgd(State& state, Tensor& value, const Tensor& gradient, double lr) {
  const float weightDecay = static_cast<float>(spec_.weightDecay);
  const float momentum = static_cast<float>(spec_.momentum);
  const float dampening = static_cast<float>(spec_.dampening);
  const float rate = static_cast<float>(lr);
  const bool first = state.steps == 0;
  if (momentum != 0.0f && first) state.first = Tensor(value.shape);
  float* p = value.ptr();
  const float* g = gradient.ptr();
  float* buffer = momentum != 0.0f ? state.first.ptr() : nullptr;
  for (int64_t i = 0; i < value.numel(); ++i) {
    float d = g[i];
    if (weightDecay != 0.0f) d += weightDecay * p[i];
    if (buffer != nullptr) {
      buffer[i] = first ? d : momentum * buffer[i] + (1.0f - dampening) * d;
      d = spec_.nesterov ? d + momentum * buffer[i] : buffer[i];
    }
    p[i] -= rate * d;
  }
  ++state.steps;
}

// torch.optim.Adam / AdamW: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε). Adam adds wd·p to g; AdamW first scales p by (1 − lr·wd).
void Optimizer::adam(State& state, Tensor& value, const Tensor& gradient, double lr, bool decoupled) {
  if (state.steps == 0) {
    state.first = Tensor(value.shape);
    state.second = Tensor(value.shape);
  }
  ++state.steps;
  const double t = static_cast<double>(state.steps);
  const double correction1 = 1.0 - std::pow(spec_.beta1, t);
  const double correction2Sqrt = std::sqrt(1.0 - std::pow(spec_.beta2, t));
  const float stepSize = static_cast<float>(lr / correction1);
  const float beta1 = static_cast<float>(spec_.beta1);
  const float beta2 = static_cast<float>(spec_.beta2);
  const float eps = static_cast<float>(spec_.eps);
  const float weightDecay = static_cast<float>(spec_.weightDecay);
  const float decay = static_cast<float>(1.0 - lr * spec_.weightDecay);
  const float root2 = static_cast<float>(correction2Sqrt);
  float* p = value.ptr();
  const float* g = gradient.ptr();
  float* m = state.first.ptr();
  float* v = state.second.ptr();
  for (int64_t i = 0; i < value.numel(); ++i) {
    float grad = g[i];
    if (decoupled) {
      p[i] *= decay;
    } else if (weightDecay != 0.0f) {
      grad += weightDecay * p[i];
    }
    m[i] += (grad - m[i]) * (1.0f - beta1);
    v[i] = v[i] * beta2 + (1.0f - beta2) * grad * grad;
    const float denom = std::sqrt(v[i]) / root2 + eps;
    p[i] -= stepSize * (m[i] / denom);
  }
}

// torch.optim.RMSprop: g += wd·p; s = α·s + (1−α)·g²; centered: a = α·a + (1−α)·g, avg = √(s − a²) + ε,
// else avg = √s + ε; momentum: buf = μ·buf + g/avg, p −= lr·buf; else p −= lr·g/avg.
void Optimizer::rmsprop(State& state, Tensor& value, const Tensor& gradient, double lr) {
  const bool useMomentum = spec_.momentum > 0.0;
  if (state.steps == 0) {
    state.first = Tensor(value.shape);
    if (spec_.centered) state.second = Tensor(value.shape);
    if (useMomentum) state.third = Tensor(value.shape);
  }
  ++state.steps;
  const float alpha = static_cast<float>(spec_.alpha);
  const float eps = static_cast<float>(spec_.eps);
  const float weightDecay = static_cast<float>(spec_.weightDecay);
  const float momentum = static_cast<float>(spec_.momentum);
  const float rate = static_cast<float>(lr);
  float* p = value.ptr();
  const float* g = gradient.ptr();
  float* square = state.first.ptr();
  float* average = spec_.centered ? state.second.ptr() : nullptr;
  float* buffer = useMomentum ? state.third.ptr() : nullptr;
  for (int64_t i = 0; i < value.numel(); ++i) {
    float grad = g[i];
    if (weightDecay != 0.0f) grad += weightDecay * p[i];
    square[i] = square[i] * alpha + (1.0f - alpha) * grad * grad;
    float avg;
    if (average != nullptr) {
      average[i] += (grad - average[i]) * (1.0f - alpha);
      avg = std::sqrt(square[i] - average[i] * average[i]) + eps;
    } else {
      avg = std::sqrt(square[i]) + eps;
    }
    if (buffer != nullptr) {
      buffer[i] = buffer[i] * momentum + grad / avg;
      p[i] -= rate * buffer[i];
    } else {
      p[i] -= rate * grad / avg;
    }
  }
}

}  // namespace netlens
