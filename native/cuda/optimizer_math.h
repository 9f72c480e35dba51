// The fused optimizer's per-element update (SGD, Adam, AdamW, RMSProp), shared by the CUDA kernel and
// a plain C++ test that checks it against the CPU Optimizer (native/tests/optimizer_math_test.cpp).
// The formulas are torch.optim's single-tensor paths, in the CPU Optimizer's float order.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace netlens::cuda::kernels {

enum class OptimizerKind { Sgd, Adam, AdamW, RmsProp };

struct OptimizerConfig {
  OptimizerKind kind;
  float momentum, dampening, weightDecay, beta1, beta2, eps;
  bool nesterov;
  float alpha;    // RMSProp smoothing
  bool centered;  // RMSProp: divide by the variance estimate (square_avg − grad_avg²)
};

/** What changes from step to step: read from device memory so a replayed CUDA graph sees it. */
struct OptimizerStep {
  float lr;
  float correction1;      // Adam: 1 − β1ᵗ
  float correction2Sqrt;  // Adam: √(1 − β2ᵗ)
  int32_t firstStep;      // SGD: the momentum buffer starts as the first gradient
  int32_t pad;
};

/**
 * One element's update. The slots are the optimizer's state for this element, null where the
 * configuration has none: SGD first = momentum_buffer; Adam/AdamW first = exp_avg, second =
 * exp_avg_sq; RMSProp first = square_avg, second = grad_avg (centered), third = momentum_buffer.
 */
NETLENS_HD float optimizerElement(const OptimizerConfig& config, const OptimizerStep& step, float value, float gradient,
                                  float* first, float* second, float* third) {
  float p = value;
  float grad = gradient;
  switch (config.kind) {
    case OptimizerKind::Sgd: {
      if (config.weightDecay != 0.0f) grad += config.weightDecay * p;
      if (first != nullptr) {
        const float buffer = step.firstStep ? grad : config.momentum * *first + (1.0f - config.dampening) * grad;
        *first = buffer;
        grad = config.nesterov ? grad + config.momentum * buffer : buffer;
      }
      return p - step.lr * grad;
    }
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      if (config.kind == OptimizerKind::AdamW) {
        p *= 1.0f - step.lr * config.weightDecay;
      } else if (config.weightDecay != 0.0f) {
        grad += config.weightDecay * p;
      }
      float m = *first;
      m += (grad - m) * (1.0f - config.beta1);
      const float v = *second * config.beta2 + (1.0f - config.beta2) * grad * grad;
      *first = m;
      *second = v;
      const float denom = std::sqrt(v) / step.correction2Sqrt + config.eps;
      return p - (step.lr / step.correction1) * (m / denom);
    }
    case OptimizerKind::RmsProp: {
      if (config.weightDecay != 0.0f) grad += config.weightDecay * p;
      const float square = *first * config.alpha + (1.0f - config.alpha) * grad * grad;
      *first = square;
      float average;
      if (second != nullptr) {
        const float mean = *second + (grad - *second) * (1.0f - config.alpha);
        *second = mean;
        average = std::sqrt(square - mean * mean) + config.eps;
      } else {
        average = std::sqrt(square) + config.eps;
      }
      if (third != nullptr) {
        const float buffer = *third * config.momentum + grad / average;
        *third = buffer;
        return p - step.lr * buffer;
      }
      return p - step.lr * grad / average;
    }
  }
  return p;
}

}  // namespace netlens::cuda::kernels
