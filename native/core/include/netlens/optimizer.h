// Optimizers with PyTorch's exact update formulas (torch.optim SGD, Adam, AdamW, RMSprop, for
// the default single-tensor path) and learning-rate schedules indexed by optimizer step.
#pragma once

#include <map>
#include <utility>
#include <string>
#include <vector>

#include "netlens/graph_spec.h"
#include "netlens/tensor.h"

namespace netlens {

/** Learning rate for the optimizer step with 0-based index `step`. */
double scheduledLearningRate(const OptimizerSpec& spec, int64_t step);

struct ParameterUpdate {
  const std::string* name;
  Tensor* value;
  const Tensor* gradient;
};

class Optimizer {
 public:
  /** Throws SpecError for an unknown type or an invalid hyperparameter. */
  explicit Optimizer(OptimizerSpec spec);

  const OptimizerSpec& spec() const { return spec_; }
  int64_t stepsTaken() const { return steps_; }
  /** The rate the next step() will use. */
  double learningRate() const { return scheduledLearningRate(spec_, steps_); }
  /** Applies one update to every parameter and advances the schedule. */
  void step(const std::vector<ParameterUpdate>& parameters);

  /**
   * The per-parameter state as "<parameter>.<slot>" tensors, slots named as in torch.optim's
   * state_dict (momentum_buffer; exp_avg, exp_avg_sq; square_avg, grad_avg) plus "<parameter>.step"
   * (a 1-element tensor). With stepsTaken() this is all a resumed run needs to continue exactly.
   */
  std::vector<std::pair<std::string, Tensor>> exportState() const;
  /**
   * Replaces the state with an exported one. `shapes` gives every trainable parameter's shape;
   * throws std::invalid_argument (naming the tensor) for a missing, unknown or misshapen tensor,
   * leaving the state as it was.
   */
  void importState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps,
                   const std::map<std::string, Shape>& shapes);

 private:
  struct State {
    Tensor first;   // momentum buffer / exp_avg / square_avg
    Tensor second;  // exp_avg_sq / rmsprop grad_avg (centered) / rmsprop momentum buffer
    Tensor third;   // rmsprop momentum buffer when centered
    int64_t steps = 0;
  };
  /** The slots this optimizer keeps for every parameter, given its hyperparameters. */
  std::vector<std::string> slotNames() const;
  static Tensor& slot(State& state, const std::string& name);
  void sgd(State& state, Tensor& value, const Tensor& gradient, double lr);
  void adam(State& state, Tensor& value, const Tensor& gradient, double lr, bool decoupled);
  void rmsprop(State& state, Tensor& value, const Tensor& gradient, double lr);

  OptimizerSpec spec_;
  std::map<std::string, State> state_;
  int64_t steps_ = 0;
};

}  // namespace netlens
