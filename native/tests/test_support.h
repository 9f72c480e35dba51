// Shared by the engine's C++ tests: a failure counter, reading files and golden tensors, and
// tensor comparison with a stated tolerance.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "netlens/json.h"
#include "netlens/tensor.h"

namespace netlens::test {

inline int failures = 0;
/** The largest relative error any checkClose saw, for the summary line. */
inline double worstRelativeError = 0.0;

inline void check(bool condition, const std::string& what) {
  if (!condition) {
    ++failures;
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  }
}

template <typename Body>
void expectThrows(Body body, const std::string& fragment, const std::string& what) {
  try {
    body();
  } catch (const std::exception& error) {
    const std::string message = error.what();
    check(message.find(fragment) != std::string::npos,
          what + ": message \"" + message + "\" should contain \"" + fragment + "\"");
    return;
  }
  check(false, what + ": expected an error containing \"" + fragment + "\"");
}

inline std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline Tensor tensorFromJson(const JsonValue& json) {
  Shape shape;
  for (const JsonValue& extent : json.at("shape").asArray()) shape.push_back(extent.asInt());
  std::vector<float> data;
  for (const JsonValue& value : json.at("data").asArray()) data.push_back(static_cast<float>(value.asNumber()));
  if (shape.empty()) return Tensor({}, std::move(data));
  return Tensor(std::move(shape), std::move(data));
}

/**
 * Relative error against the expected tensor's scale: max|actual − expected| / (max|expected| + tiny).
 * Element-wise relative error is meaningless for values near zero, so the scale is the tensor's.
 */
inline double relativeError(const Tensor& actual, const Tensor& expected) {
  if (actual.numel() != expected.numel()) return INFINITY;
  double worst = 0.0;
  double scale = 0.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(actual.data[i]) - expected.data[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(expected.data[i])));
  }
  return worst / (scale + 1e-12);
}

inline void checkClose(const Tensor& actual, const Tensor& expected, double tolerance, const std::string& what) {
  if (actual.shape != expected.shape && !(actual.numel() == 1 && expected.numel() == 1)) {
    check(false, what + ": shape " + formatShape(actual.shape) + ", expected " + formatShape(expected.shape));
    return;
  }
  const double error = relativeError(actual, expected);
  worstRelativeError = std::max(worstRelativeError, error);
  check(error <= tolerance, what + ": relative error " + std::to_string(error) + " > " + std::to_string(tolerance));
}

inline int finish(const char* name) {
  if (failures == 0) {
    std::printf("%s: all checks passed\n", name);
    return 0;
  }
  std::fprintf(stderr, "%s: %d failure(s)\n", name, failures);
  return 1;
}

}  // namespace netlens::test
