// Losses with mean reduction, as nn.CrossEntropyLoss() and nn.MSELoss() default to.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels.h"

namespace netlens::cpu {

double softmaxCrossEntropy(int64_t rows, int64_t classes, const float* logits, const float* labels,
                           float labelSmoothing, float* dlogits) {
  double total = 0.0;
  const double smooth = labelSmoothing;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    const int64_t label = static_cast<int64_t>(labels[r]);
    if (label < 0 || label >= classes || static_cast<float>(label) != labels[r]) {
      throw std::invalid_argument("cross_entropy: label " + std::to_string(labels[r]) + " at row " +
                                  std::to_string(r) + " is not a class index in [0, " + std::to_string(classes) + ")");
    }
    const float peak = *std::max_element(row, row + classes);
    double sumExp = 0.0;
    for (int64_t c = 0; c < classes; ++c) sumExp += std::exp(static_cast<double>(row[c]) - peak);
    const double logSum = std::log(sumExp) + peak;
    double sumNegLogP = 0.0;
    for (int64_t c = 0; c < classes; ++c) sumNegLogP += logSum - row[c];
    total += (1.0 - smooth) * (logSum - row[label]) + smooth / static_cast<double>(classes) * sumNegLogP;
    if (dlogits) {
      float* grad = dlogits + r * classes;
      for (int64_t c = 0; c < classes; ++c) {
        const double p = std::exp(static_cast<double>(row[c]) - logSum);
        const double target = (c == label ? 1.0 - smooth : 0.0) + smooth / static_cast<double>(classes);
        grad[c] = static_cast<float>((p - target) / static_cast<double>(rows));
      }
    }
  }
  return total / static_cast<double>(rows);
}

double meanSquaredError(int64_t count, const float* prediction, const float* target, float* dprediction) {
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double d = static_cast<double>(prediction[i]) - target[i];
    total += d * d;
    if (dprediction) dprediction[i] = static_cast<float>(2.0 * d / static_cast<double>(count));
  }
  return total / static_cast<double>(count);
}

}  // namespace netlens::cpu
