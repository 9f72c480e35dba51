// Shared by the *_math tests, which replay the CUDA kernels' NETLENS_HD math on the host: counted
// checks, and the summary line "<topic>: N checks passed" that tests/native/engineCore.test.ts reads.
#pragma once

#include <cstdio>
#include <string>

#include "netlens/tensor.h"
#include "test_support.h"

namespace netlens::test {

inline int mathChecks = 0;

inline void expect(bool condition, const std::string& what) {
  ++mathChecks;
  check(condition, what);
}

inline void expectClose(const Tensor& actual, const Tensor& expected, double tolerance, const std::string& what) {
  ++mathChecks;
  checkClose(actual, expected, tolerance, what);
}

inline Tensor uniformTensor(const Shape& shape, Rng& rng, float low = -1.0f, float high = 1.0f) {
  Tensor tensor(shape);
  for (float& value : tensor.data) value = rng.uniform(low, high);
  return tensor;
}

/** The summary line (only when nothing failed), then finish()'s verdict and exit code. */
inline int finishMath(const char* topic, const char* program) {
  if (failures == 0) std::printf("%s: %d checks passed\n", topic, mathChecks);
  return finish(program);
}

}  // namespace netlens::test
