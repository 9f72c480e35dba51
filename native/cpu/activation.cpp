// Element-wise activations with the derivatives PyTorch's autograd uses (including its choices at
// the kinks: relu and relu6 pass no gradient at the boundary, hardswish uses (2x+3)/6 on [-3, 3],
// hardtanh and hardsigmoid pass none at their bounds, the shrinks none on [-lambda, lambda], clamp
// passes it at its bounds, abs has 0 at 0). Element-wise math (exp, log, sqrt, pow, …) lives here too.
// Each kind reads at most two parameters, a and b (see kernels.h).
#include <cmath>

#include "kernels.h"

namespace netlens::cpu {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kGeluTanhCubic = 0.044715f;
// SELU's constants as PyTorch writes them (Klambauer et al. 2017).
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// log(1 + e^x) without overflow for large x.
float softplusOne(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

float forwardOne(Activation kind, float a, float b, float x) {
  switch (kind) {
    // Written so NaN propagates, as PyTorch's clamp does (fmin/fmax would drop it).
    case Activation::Relu: return x < 0.0f ? 0.0f : x;
    case Activation::Relu6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case Activation::LeakyRelu: return x > 0.0f ? x : x * a;
    case Activation::Gelu: return 0.5f * x * (1.0f + std::erf(x * kSqrtHalf));
    case Activation::GeluTanh: {
      const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(inner));
    }
    case Activation::Silu: return x * sigmoid(x);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Tanh: return std::tanh(x);
    case Activation::Hardswish: return x * std::fmin(std::fmax(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Activation::Elu: return x > 0.0f ? x : a * std::expm1(x);
    case Activation::Selu: return x > 0.0f ? kSeluScale * x : kSeluScale * kSeluAlpha * std::expm1(x);
    case Activation::Celu: return x > 0.0f ? x : a * std::expm1(x / a);
    case Activation::Softplus: return x * a > b ? x : std::log1p(std::exp(x * a)) / a;
    case Activation::Hardsigmoid: return x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : x / 6.0f + 0.5f);
    case Activation::Hardtanh: return x < a ? a : (x > b ? b : x);
    case Activation::Mish: return x * std::tanh(softplusOne(x));
    case Activation::Softsign: return x / (1.0f + std::fabs(x));
    case Activation::LogSigmoid: return std::fmin(x, 0.0f) - std::log1p(std::exp(-std::fabs(x)));
    case Activation::Tanhshrink: return x - std::tanh(x);
    case Activation::Softshrink: return x > a ? x - a : (x < -a ? x + a : 0.0f);
    case Activation::Hardshrink: return (x > a || x < -a) ? x : 0.0f;
    case Activation::Exp: return std::exp(x);
    case Activation::Log: return std::log(x);
    case Activation::Sqrt: return std::sqrt(x);
    case Activation::Rsqrt: return 1.0f / std::sqrt(x);
    case Activation::Abs: return std::fabs(x);
    case Activation::Pow: return a == 2.0f ? x * x : std::pow(x, a);
    case Activation::Clamp: return x < a ? a : (x > b ? b : x);
  }
  return x;
}

float derivative(Activation kind, float a, float b, float x) {
  switch (kind) {
    case Activation::Relu: return x > 0.0f ? 1.0f : 0.0f;
    case Activation::Relu6: return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
    case Activation::LeakyRelu: return x > 0.0f ? 1.0f : a;
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
    case Activation::Elu: return x > 0.0f ? 1.0f : a * std::exp(x);
    case Activation::Selu: return x > 0.0f ? kSeluScale : kSeluScale * kSeluAlpha * std::exp(x);
    case Activation::Celu: return x > 0.0f ? 1.0f : std::exp(x / a);
    case Activation::Softplus: {
      if (x * a > b) return 1.0f;
      const float z = std::exp(x * a);
      return z / (z + 1.0f);
    }
    case Activation::Hardsigmoid: return (x > -3.0f && x < 3.0f) ? 1.0f / 6.0f : 0.0f;
    case Activation::Hardtanh: return (x <= a || x >= b) ? 0.0f : 1.0f;
    case Activation::Mish: {
      const float t = std::tanh(softplusOne(x));
      return t + x * sigmoid(x) * (1.0f - t * t);
    }
    case Activation::Softsign: {
      const float d = 1.0f + std::fabs(x);
      return 1.0f / (d * d);
    }
    case Activation::LogSigmoid: return sigmoid(-x);
    case Activation::Tanhshrink: {
      const float t = std::tanh(x);
      return t * t;
    }
    case Activation::Softshrink:
    case Activation::Hardshrink: return (x >= -a && x <= a) ? 0.0f : 1.0f;
    case Activation::Exp: return std::exp(x);
    case Activation::Log: return 1.0f / x;
    case Activation::Sqrt: return 0.5f / std::sqrt(x);
    case Activation::Rsqrt: {
      const float r = 1.0f / std::sqrt(x);
      return -0.5f * r * r * r;
    }
    case Activation::Abs: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case Activation::Pow: return a == 0.0f ? 0.0f : a * std::pow(x, a - 1.0f);
    // clamp passes the gradient on the closed interval [min, max] (unlike hardtanh's open one).
    case Activation::Clamp: return (x >= a && x <= b) ? 1.0f : 0.0f;
  }
  return 1.0f;
}

// One loop per kind (the kind is a template argument), so the switch is resolved outside the loop
// and the simple kinds vectorize.
template <Activation Kind>
void forwardLoop(float a, float b, int64_t begin, int64_t end, const float* x, float* y) {
  for (int64_t i = begin; i < end; ++i) y[i] = forwardOne(Kind, a, b, x[i]);
}
template <Activation Kind>
void backwardLoop(float a, float b, int64_t begin, int64_t end, const float* x, const float* dy, float* dx) {
  for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * derivative(Kind, a, b, x[i]);
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
    case Activation::Elu: Body<Activation::Elu>::run(args...); break;
    case Activation::Selu: Body<Activation::Selu>::run(args...); break;
    case Activation::Celu: Body<Activation::Celu>::run(args...); break;
    case Activation::Softplus: Body<Activation::Softplus>::run(args...); break;
    case Activation::Hardsigmoid: Body<Activation::Hardsigmoid>::run(args...); break;
    case Activation::Hardtanh: Body<Activation::Hardtanh>::run(args...); break;
    case Activation::Mish: Body<Activation::Mish>::run(args...); break;
    case Activation::Softsign: Body<Activation::Softsign>::run(args...); break;
    case Activation::LogSigmoid: Body<Activation::LogSigmoid>::run(args...); break;
    case Activation::Tanhshrink: Body<Activation::Tanhshrink>::run(args...); break;
    case Activation::Softshrink: Body<Activation::Softshrink>::run(args...); break;
    case Activation::Hardshrink: Body<Activation::Hardshrink>::run(args...); break;
    case Activation::Exp: Body<Activation::Exp>::run(args...); break;
    case Activation::Log: Body<Activation::Log>::run(args...); break;
    case Activation::Sqrt: Body<Activation::Sqrt>::run(args...); break;
    case Activation::Rsqrt: Body<Activation::Rsqrt>::run(args...); break;
    case Activation::Abs: Body<Activation::Abs>::run(args...); break;
    case Activation::Pow: Body<Activation::Pow>::run(args...); break;
    case Activation::Clamp: Body<Activation::Clamp>::run(args...); break;
  }
}

template <Activation Kind>
struct Forward {
  static void run(float a, float b, int64_t begin, int64_t end, const float* x, float* y) {
    forwardLoop<Kind>(a, b, begin, end, x, y);
  }
};
template <Activation Kind>
struct Backward {
  static void run(float a, float b, int64_t begin, int64_t end, const float* x, const float* dy, float* dx) {
    backwardLoop<Kind>(a, b, begin, end, x, dy, dx);
  }
};

}  // namespace

void activationForward(Activation kind, float a, float b, int64_t count, const float* x, float* y) {
  parallelFor(count, 1 << 14, [&](int64_t begin, int64_t end, int) { dispatch<Forward>(kind, a, b, begin, end, x, y); });
}

void activationBackward(Activation kind, float a, float b, int64_t count, const float* x, const float* dy, float* dx) {
  parallelFor(count, 1 << 14,
              [&](int64_t begin, int64_t end, int) { dispatch<Backward>(kind, a, b, begin, end, x, dy, dx); });
}

}  // namespace netlens::cpu
