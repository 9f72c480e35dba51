// Element-wise activations with the derivatives PyTorch's autograd uses (including its choices at
// the kinks: relu and relu6 pass no gradient at the boundary, hardswish uses (2x+3)/6 on [-3, 3]).
#include <cmath>

#include "kernels.h"

namespace netlens::cpu {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kGeluTanhCubic = 0.044715f;

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float forwardOne(Activation kind, float slope, float x) {
  switch (kind) {
    // Written so NaN propagates, as PyTorch's clamp does (fmin/fmax would drop it).
    case Activation::Relu: return x < 0.0f ? 0.0f : x;
    case Activation::Relu6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case Activation::LeakyRelu: return x > 0.0f ? x : x * slope;
    case Activation::Gelu: return 0.5f * x * (1.0f + std::erf(x * kSqrtHalf));
    case Activation::GeluTanh: {
      const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(inner));
    }
    case Activation::Silu: return x * sigmoid(x);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Tanh: return std::tanh(x);
    case Activation::Hardswish: return x * std::fmin(std::fmax(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  }
  return x;
}

float derivative(Activation kind, float slope, float x) {
  switch (kind) {
    case Activation::Relu: return x > 0.0f ? 1.0f : 0.0f;
    case Activation::Relu6: return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
    case Activation::LeakyRelu: return x > 0.0f ? 1.0f : slope;
    case Activation::Gelu: {
      const float cdf = 0.5f * (1.0f + std::erf(x * kSqrtHalf));
      const float pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case Activation::GeluTanh: {
      const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      const float t = std::tanh(inner);
      const float dInner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x * x);
      return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dInner;
    }
    case Activation::Silu: {
      const float s = sigmoid(x);
      return s * (1.0f + x * (1.0f - s));
    }
    case Activation::Sigmoid: {
      const float s = sigmoid(x);
      return s * (1.0f - s);
    }
    case Activation::Tanh: {
      const float t = std::tanh(x);
      return 1.0f - t * t;
    }
    case Activation::Hardswish:
      if (x < -3.0f) return 0.0f;
      if (x <= 3.0f) return x / 3.0f + 0.5f;
      return 1.0f;
  }
  return 1.0f;
}

// One loop per kind (the kind is a template argument), so the switch is resolved outside the loop
// and the simple kinds vectorize.
template <Activation Kind>
void forwardLoop(float slope, int64_t begin, int64_t end, const float* x, float* y) {
  for (int64_t i = begin; i < end; ++i) y[i] = forwardOne(Kind, slope, x[i]);
}
template <Activation Kind>
void backwardLoop(float slope, int64_t begin, int64_t end, const float* x, const float* dy, float* dx) {
  for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * derivative(Kind, slope, x[i]);
}

template <template <Activation> class Body, typename... Args>
void dispatch(Activation kind, Args&&... args) {
  switch (kind) {
    case Activation::Relu: Body<Activation::Relu>::run(args...); break;
    case Activation::Relu6: Body<Activation::Relu6>::run(args...); break;
    case Activation::LeakyRelu: Body<Activation::LeakyRelu>::run(args...); break;
    case Activation::Gelu: Body<Activation::Gelu>::run(args...); break;
    case Activation::GeluTanh: Body<Activation::GeluTanh>::run(args...); break;
    case Activation::Silu: Body<Activation::Silu>::run(args...); break;
    case Activation::Sigmoid: Body<Activation::Sigmoid>::run(args...); break;
    case Activation::Tanh: Body<Activation::Tanh>::run(args...); break;
    case Activation::Hardswish: Body<Activation::Hardswish>::run(args...); break;
  }
}

template <Activation Kind>
struct Forward {
  static void run(float slope, int64_t begin, int64_t end, const float* x, float* y) {
    forwardLoop<Kind>(slope, begin, end, x, y);
  }
};
template <Activation Kind>
struct Backward {
  static void run(float slope, int64_t begin, int64_t end, const float* x, const float* dy, float* dx) {
    backwardLoop<Kind>(slope, begin, end, x, dy, dx);
  }
};

}  // namespace

void activationForward(Activation kind, float slope, int64_t count, const float* x, float* y) {
  parallelFor(count, 1 << 14, [&](int64_t begin, int64_t end, int) { dispatch<Forward>(kind, slope, begin, end, x, y); });
}

void activationBackward(Activation kind, float slope, int64_t count, const float* x, const float* dy, float* dx) {
  parallelFor(count, 1 << 14,
              [&](int64_t begin, int64_t end, int) { dispatch<Backward>(kind, slope, begin, end, x, dy, dx); });
}

}  // namespace netlens::cpu
