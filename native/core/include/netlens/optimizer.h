// Optimizers with PyTorch's exact update formulas (torch.optim SGD, Adam, AdamW, RMSprop, for
// the default single-tensor path) and learning-rate schedules indexed by optimizer step.
#pragma once

#include <map>
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

 private:
  struct State {
    Tensor first;   // momentum buffer / exp_avg / square_avg
    Tensor second;  // exp_avg_sq / rmsprop grad_avg (centered) / rmsprop momentum buffer
    Tensor third;   // rmsprop momentum buffer when centered
    int64_t steps = 0;
  };
  void sgd(State& state, Tensor& value, const Tensor& gradient, double lr);
  void adam(State& state, Tensor& value, const Tensor& gradient, double lr, bool decoupled);
  void rmsprop(State& state, Tensor& value, const Tensor& gradient, double lr);

  OptimizerSpec spec_;
  std::map<std::string, State> state_;
  int64_t steps_ = 0;
};

}  // namespace netlens
