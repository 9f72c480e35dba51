// The engine's tensor: float32, contiguous, row-major (NCHW for images). Integer data such as class
// labels is stored as float too; every integer below 2^24 is exact in float32.
#pragma once

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace netlens {

using Shape = std::vector<int64_t>;

inline int64_t shapeNumel(const Shape& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

std::string formatShape(const Shape& shape);

struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(Shape tensorShape, float fill = 0.0f)
      : shape(std::move(tensorShape)), data(static_cast<size_t>(shapeNumel(shape)), fill) {}
  Tensor(Shape tensorShape, std::vector<float> values) : shape(std::move(tensorShape)), data(std::move(values)) {
    if (static_cast<int64_t>(data.size()) != shapeNumel(shape)) {
      throw std::invalid_argument("tensor data has " + std::to_string(data.size()) + " values for shape " +
                                  formatShape(shape));
    }
  }

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /** Extent of dimension `index`; negative indices count from the end, as in PyTorch. */
  int64_t size(int64_t index) const { return shape.at(static_cast<size_t>(index < 0 ? index + rank() : index)); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
  void fill(float value) { data.assign(data.size(), value); }
};

/**
 * Deterministic generator for parameter initialization and dropout masks: std::mt19937_64 (its output
 * sequence is fixed by the C++ standard) with our own conversion to floats, because std::uniform_real_distribution differs between standard libraries.
 */
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  void reseed(uint64_t seed) { engine_.seed(seed); }
  uint64_t next() { return engine_(); }
  /** Uniform in [0, 1) with 24 random bits, exactly representable in float. */
  float uniform01() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float low, float high) { return low + (high - low) * uniform01(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace netlens
