// From the graph spec's optimizer to what the fused optimizer kernel reads: its configuration (once)
// and the step's parameters (before each step). Host-only; shared by the CUDA executor and
// optimizer_math_test, which replays the kernel's element update on the CPU against the Optimizer.
#pragma once

#include <cmath>
#include <cstdint>

#include "netlens/graph_spec.h"
#include "netlens/optimizer.h"
#include "optimizer_math.h"

namespace netlens::cuda::kernels {

inline OptimizerConfig optimizerConfigFor(const OptimizerSpec& spec) {
  OptimizerConfig config{};
  config.kind = spec.type == "sgd"     ? OptimizerKind::Sgd
                : spec.type == "adam"  ? OptimizerKind::Adam
                : spec.type == "adamw" ? OptimizerKind::AdamW
                                       : OptimizerKind::RmsProp;
  config.momentum = static_cast<float>(spec.momentum);
  config.dampening = static_cast<float>(spec.dampening);
  config.weightDecay = static_cast<float>(spec.weightDecay);
  config.beta1 = static_cast<float>(spec.beta1);
  config.beta2 = static_cast<float>(spec.beta2);
  config.eps = static_cast<float>(spec.eps);
  config.nesterov = spec.nesterov;
  config.alpha = static_cast<float>(spec.alpha);
  config.centered = spec.centered;
  return config;
}

/** The parameters of the step with 0-based index `stepsTaken`. */
inline OptimizerStep optimizerStepFor(const OptimizerSpec& spec, int64_t stepsTaken) {
  OptimizerStep step{};
  const double t = static_cast<double>(stepsTaken + 1);
  step.lr = static_cast<float>(scheduledLearningRate(spec, stepsTaken));
  step.correction1 = static_cast<float>(1.0 - std::pow(spec.beta1, t));
  step.correction2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(spec.beta2, t)));
  step.firstStep = stepsTaken == 0 ? 1 : 0;
  return step;
}

}  // namespace netlens::cuda::kernels
