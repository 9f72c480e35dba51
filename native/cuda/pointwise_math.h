// The per-element math and index mappings of the CUDA executor's element-wise, shape and
// normalization kernels (cuda_kernels_pointwise.cu, cuda_kernels_norm.cu). Every function here is
// NETLENS_HD: the kernels are thin loops and reductions around it, and pointwise_math_test (plain C++,
// no nvcc, runs in CI) checks it against the CPU reference (native/cpu, native/core/ops.cpp), which is
// the only check the GPU code can get on a machine without a GPU.
//
// Formulas mirror native/cpu/activation.cpp and tensor_ops.cpp term for term (same constants, same
// branch at each kink, float math functions), so on the host they agree with the CPU bit for bit.
#pragma once

#include <math.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "host_device.h"

namespace netlens::cuda::math {

// ---- activations ----------------------------------------------------------------------------------

/** The same kinds, in the same order, as cpu::Activation; a and b as cpu::activationForward reads them. */
enum class Pointwise {
  Relu, Relu6, LeakyRelu, Gelu, GeluTanh, Silu, Sigmoid, Tanh, Hardswish,
  Elu, Selu, Celu, Softplus, Hardsigmoid, Hardtanh, Mish, Softsign, LogSigmoid, Tanhshrink, Softshrink, Hardshrink,
  Exp, Log, Sqrt, Rsqrt, Abs, Pow, Clamp
};

NETLENS_HD float sigmoidOf(float x) { return 1.0f / (1.0f + expf(-x)); }
// log(1 + e^x) without overflow for large x (mish).
NETLENS_HD float softplusOne(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

NETLENS_HD float pointwiseValue(Pointwise kind, float a, float b, float x) {
  constexpr float kSqrtHalf = 0.70710678118654752f;
  constexpr float kSqrt2OverPi = 0.79788456080286536f;
  constexpr float kGeluTanhCubic = 0.044715f;
  constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
  constexpr float kSeluScale = 1.0507009873554804934193349852946f;
  switch (kind) {
    // Written so NaN propagates, as PyTorch's clamp does (fminf/fmaxf would drop it).
    case Pointwise::Relu: return x < 0.0f ? 0.0f : x;
    case Pointwise::Relu6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case Pointwise::LeakyRelu: return x > 0.0f ? x : x * a;
    case Pointwise::Gelu: return 0.5f * x * (1.0f + erff(x * kSqrtHalf));
    case Pointwise::GeluTanh: {
      const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case Pointwise::Silu: return x * sigmoidOf(x);
    case Pointwise::Sigmoid: return sigmoidOf(x);
    case Pointwise::Tanh: return tanhf(x);
    case Pointwise::Hardswish: return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Pointwise::Elu: return x > 0.0f ? x : a * expm1f(x);
    case Pointwise::Selu: return x > 0.0f ? kSeluScale * x : kSeluScale * kSeluAlpha * expm1f(x);
    case Pointwise::Celu: return x > 0.0f ? x : a * expm1f(x / a);
    case Pointwise::Softplus: return x * a > b ? x : log1pf(expf(x * a)) / a;
    case Pointwise::Hardsigmoid: return x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : x / 6.0f + 0.5f);
    case Pointwise::Hardtanh: return x < a ? a : (x > b ? b : x);
    case Pointwise::Mish: return x * tanhf(softplusOne(x));
    case Pointwise::Softsign: return x / (1.0f + fabsf(x));
    case Pointwise::LogSigmoid: return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
    case Pointwise::Tanhshrink: return x - tanhf(x);
    case Pointwise::Softshrink: return x > a ? x - a : (x < -a ? x + a : 0.0f);
    case Pointwise::Hardshrink: return (x > a || x < -a) ? x : 0.0f;
    case Pointwise::Exp: return expf(x);
    case Pointwise::Log: return logf(x);
    case Pointwise::Sqrt: return sqrtf(x);
    case Pointwise::Rsqrt: return 1.0f / sqrtf(x);
    case Pointwise::Abs: return fabsf(x);
    case Pointwise::Pow: return a == 2.0f ? x * x : powf(x, a);
    case Pointwise::Clamp: return x < a ? a : (x > b ? b : x);
  }
  return x;
}

/** f'(x) with PyTorch autograd's choice at every kink (see native/cpu/activation.cpp). */
NETLENS_HD float pointwiseDerivative(Pointwise kind, float a, float b, float x) {
  constexpr float kSqrtHalf = 0.70710678118654752f;
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  constexpr float kSqrt2OverPi = 0.79788456080286536f;
  constexpr float kGeluTanhCubic = 0.044715f;
  constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
  constexpr float kSeluScale = 1.0507009873554804934193349852946f;
  switch (kind) {
    case Pointwise::Relu: return x > 0.0f ? 1.0f : 0.0f;
    case Pointwise::Relu6: return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
    case Pointwise::LeakyRelu: return x > 0.0f ? 1.0f : a;
    case Pointwise::Gelu: {
      const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
      const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case Pointwise::GeluTanh: {
      const float inner = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      const float t = tanhf(inner);
      const float dInner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x * x);
      return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dInner;
    }
    case Pointwise::Silu: {
      const float s = sigmoidOf(x);
      return s * (1.0f + x * (1.0f - s));
    }
    case Pointwise::Sigmoid: {
      const float s = sigmoidOf(x);
      return s * (1.0f - s);
    }
    case Pointwise::Tanh: {
      const float t = tanhf(x);
      return 1.0f - t * t;
    }
    case Pointwise::Hardswish:
      if (x < -3.0f) return 0.0f;
      if (x <= 3.0f) return x / 3.0f + 0.5f;
      return 1.0f;
    case Pointwise::Elu: return x > 0.0f ? 1.0f : a * expf(x);
    case Pointwise::Selu: return x > 0.0f ? kSeluScale : kSeluScale * kSeluAlpha * expf(x);
    case Pointwise::Celu: return x > 0.0f ? 1.0f : expf(x / a);
    case Pointwise::Softplus: {
      if (x * a > b) return 1.0f;
      const float z = expf(x * a);
      return z / (z + 1.0f);
    }
    case Pointwise::Hardsigmoid: return (x > -3.0f && x < 3.0f) ? 1.0f / 6.0f : 0.0f;
    case Pointwise::Hardtanh: return (x <= a || x >= b) ? 0.0f : 1.0f;
    case Pointwise::Mish: {
      const float t = tanhf(softplusOne(x));
      return t + x * sigmoidOf(x) * (1.0f - t * t);
    }
    case Pointwise::Softsign: {
      const float d = 1.0f + fabsf(x);
      return 1.0f / (d * d);
    }
    case Pointwise::LogSigmoid: return sigmoidOf(-x);
    case Pointwise::Tanhshrink: {
      const float t = tanhf(x);
      return t * t;
    }
    case Pointwise::Softshrink:
    case Pointwise::Hardshrink: return (x >= -a && x <= a) ? 0.0f : 1.0f;
    case Pointwise::Exp: return expf(x);
    case Pointwise::Log: return 1.0f / x;
    case Pointwise::Sqrt: return 0.5f / sqrtf(x);
    case Pointwise::Rsqrt: {
      const float r = 1.0f / sqrtf(x);
      return -0.5f * r * r * r;
    }
    case Pointwise::Abs: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case Pointwise::Pow: return a == 0.0f ? 0.0f : a * powf(x, a - 1.0f);
    // clamp passes the gradient on the closed interval [min, max] (unlike hardtanh's open one).
    case Pointwise::Clamp: return (x >= a && x <= b) ? 1.0f : 0.0f;
  }
  return 1.0f;
}

// ---- binary arithmetic ------------------------------------------------------------------------------

/** The same kinds, in the same order, as cpu::Binary. `alpha` scales b for Add and Sub. */
enum class Binary { Add, Sub, Mul, Div };

NETLENS_HD float binaryValue(Binary op, float alpha, float a, float b) {
  switch (op) {
    case Binary::Add: return a + alpha * b;
    case Binary::Sub: return a - alpha * b;
    case Binary::Mul: return a * b;
    case Binary::Div: return a / b;
  }
  return a;
}

/** One output's contribution dy to the gradient of operand `operand` (0: a, 1: b), as cpu::binaryBackward. */
NETLENS_HD float binaryGradient(Binary op, int operand, float alpha, float dy, float a, float b) {
  switch (op) {
    case Binary::Add: return operand == 0 ? dy : alpha * dy;
    case Binary::Sub: return operand == 0 ? dy : -alpha * dy;
    case Binary::Mul: return operand == 0 ? dy * b : dy * a;
    case Binary::Div: return operand == 0 ? dy / b : -dy * a / (b * b);
  }
  return dy;
}

// ---- strided index maps -----------------------------------------------------------------------------

constexpr int kMaxDims = 8;

/**
 * A walk over a row-major index space of `rank` dimensions with two strided views of it: element
 * `index` of the space sits at offset first/second in two other tensors (stride 0 along a dimension
 * one of them is broadcast over). Kernel arguments are passed by value, so fixed arrays.
 */
struct StridedMap {
  int rank = 0;
  int64_t extent[kMaxDims] = {};
  int64_t first[kMaxDims] = {};
  int64_t second[kMaxDims] = {};
};

/** The two offsets of element `index` of the map's index space. */
NETLENS_HD void mapOffsets(const StridedMap& map, int64_t index, int64_t* first, int64_t* second) {
  int64_t a = 0, b = 0;
  for (int d = map.rank - 1; d >= 0; --d) {
    const int64_t position = index % map.extent[d];
    index /= map.extent[d];
    a += position * map.first[d];
    b += position * map.second[d];
  }
  *first = a;
  *second = b;
}

/**
 * A reduction: target element j (row-major over `kept`) sums `count` source positions, the kept
 * offsets of j plus the reduced offsets of r = 0 … count−1. `first` strides run in the source (the
 * output gradient, or the tensor a mean reduces), `second` strides in a companion tensor (the other
 * operand of a binary op, PReLU's input).
 */
struct ReduceMap {
  StridedMap kept, reduced;
  int64_t targets = 1, count = 1;
};

NETLENS_HD void reduceOffsets(const ReduceMap& map, int64_t target, int64_t position, int64_t* first, int64_t* second) {
  int64_t keptFirst = 0, keptSecond = 0, reducedFirst = 0, reducedSecond = 0;
  mapOffsets(map.kept, target, &keptFirst, &keptSecond);
  mapOffsets(map.reduced, position, &reducedFirst, &reducedSecond);
  *first = keptFirst + reducedFirst;
  *second = keptSecond + reducedSecond;
}

/** What one reduced position contributes: `source` at the first offset, `companion` at the second, `self` the target's own value. */
enum class ReduceTerm {
  Sum,          // source
  BinaryA,      // binaryGradient(operand a): source = dy, companion = b, self = a
  BinaryB,      // binaryGradient(operand b): source = dy, companion = a, self = b
  PReluWeight,  // source = dy, companion = x: x·dy where x ≤ 0
};

NETLENS_HD float reduceTerm(ReduceTerm term, Binary op, float alpha, float source, float companion, float self) {
  switch (term) {
    case ReduceTerm::Sum: return source;
    case ReduceTerm::BinaryA: return binaryGradient(op, 0, alpha, source, self, companion);
    case ReduceTerm::BinaryB: return binaryGradient(op, 1, alpha, source, companion, self);
    case ReduceTerm::PReluWeight: return companion <= 0.0f ? companion * source : 0.0f;
  }
  return source;
}

// ---- PReLU, softmax, layer norm ---------------------------------------------------------------------

/** The weight element `index` of a [batch, channels, inner] tensor uses (one shared weight when weights = 1). */
NETLENS_HD int64_t preluWeightIndex(int64_t index, int64_t channels, int64_t inner, int64_t weights) {
  return weights == 1 ? 0 : (index / inner) % channels;
}

NETLENS_HD float preluValue(float x, float slope) { return x > 0.0f ? x : slope * x; }
NETLENS_HD float preluInputGradient(float x, float slope, float dy) { return x > 0.0f ? dy : slope * dy; }

/** Where line `line` of a tensor seen as [outer, extent, inner] starts; its elements are `inner` apart. */
NETLENS_HD int64_t axisLineBase(int64_t line, int64_t extent, int64_t inner) { return (line / inner) * extent * inner + line % inner; }

/** softmax: y·(dy − Σdy·y); log-softmax: dy − e^y·Σdy (`total` is Σdy·y, or Σdy). */
NETLENS_HD float softmaxInputGradient(bool logSoftmax, float y, float dy, float total) {
  return logSoftmax ? dy - expf(y) * total : y * (dy - total);
}

/** 1/sqrt(biased variance + eps) from the sum of squared deviations of n values. */
NETLENS_HD double layerNormInvStd(double squares, double n, float eps) { return 1.0 / sqrt(squares / n + eps); }

/** One output: x̂·γ + β with x̂ formed in double, as the CPU does. */
NETLENS_HD float layerNormValue(float x, double mean, double invStd, float gamma, float beta) {
  const float xhat = static_cast<float>((x - mean) * invStd);
  return xhat * gamma + beta;
}

/** dx of one element: s·(g − Σg/n − x̂·Σg·x̂/n), g = dy·γ, in double as the CPU computes it. */
NETLENS_HD float layerNormInputGradient(double g, double xhat, double sumG, double sumGXhat, double n, double invStd) {
  return static_cast<float>(invStd * (g - sumG / n - xhat * sumGXhat / n));
}

// ---- copies: bands (cat, narrow, select) ------------------------------------------------------------

/**
 * A tensor seen as `outer` rows; each row's band of `piece` values moves from `sourceOffset` in a
 * source row of `sourcePitch` to `targetOffset` in a target row of `targetPitch`.
 */
struct Band {
  int64_t outer = 1, piece = 1, sourcePitch = 1, sourceOffset = 0, targetPitch = 1, targetOffset = 0;
};

NETLENS_HD void bandOffsets(const Band& band, int64_t index, int64_t* source, int64_t* target) {
  const int64_t row = index / band.piece, column = index % band.piece;
  *source = row * band.sourcePitch + band.sourceOffset + column;
  *target = row * band.targetPitch + band.targetOffset + column;
}

// ---- host-side construction of the maps (the executor's plan; tested with them) ---------------------

using Dims = std::vector<int64_t>;

inline Dims contiguousStrides(const Dims& shape) {
  Dims strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

inline void requireRank(size_t rank, const std::string& what) {
  if (rank > static_cast<size_t>(kMaxDims)) {
    throw std::invalid_argument(what + " has " + std::to_string(rank) + " dimensions; the CUDA kernels take at most " +
                                std::to_string(kMaxDims));
  }
}

/** PyTorch's broadcast of a and b: the output shape, or throws naming both shapes. */
inline Dims broadcastShape(const Dims& a, const Dims& b) {
  const size_t rank = a.size() > b.size() ? a.size() : b.size();
  Dims out(rank, 1);
  for (size_t back = 0; back < rank; ++back) {
    const int64_t ae = back < a.size() ? a[a.size() - 1 - back] : 1;
    const int64_t be = back < b.size() ? b[b.size() - 1 - back] : 1;
    if (ae != be && ae != 1 && be != 1) throw std::invalid_argument("cannot broadcast the operands");
    out[rank - 1 - back] = ae > be ? ae : be;
  }
  return out;
}

/** `operand` (a shape broadcast to `out`) as strides in out's index space: 0 where it is broadcast. */
inline Dims broadcastStrides(const Dims& operand, const Dims& out) {
  Dims strides(out.size(), 0);
  const Dims own = contiguousStrides(operand);
  const size_t shift = out.size() - operand.size();
  for (size_t d = 0; d < operand.size(); ++d) strides[d + shift] = operand[d] == 1 ? 0 : own[d];
  return strides;
}

/** The walk over `out` with a's and b's offsets (unit dimensions dropped, contiguous runs merged). */
inline StridedMap stridedMap(const Dims& out, const Dims& first, const Dims& second) {
  StridedMap map;
  Dims extent, f, s;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    if (!extent.empty() && f.back() == first[d] * out[d] && s.back() == second[d] * out[d]) {
      extent.back() *= out[d];
      f.back() = first[d];
      s.back() = second[d];
      continue;
    }
    extent.push_back(out[d]);
    f.push_back(first[d]);
    s.push_back(second[d]);
  }
  requireRank(extent.size(), "the index space");
  map.rank = static_cast<int>(extent.size());
  for (size_t d = 0; d < extent.size(); ++d) {
    map.extent[d] = extent[d];
    map.first[d] = f[d];
    map.second[d] = s[d];
  }
  return map;
}

/**
 * The reduction of a tensor of shape `source` over the dimensions where `reduced[d]`: targets are
 * the kept dimensions in order (row-major), `first` strides run in the source, `second` strides are
 * given per source dimension (a companion tensor; zeros when there is none).
 */
inline ReduceMap reduceMap(const Dims& source, const std::vector<bool>& reduced, const Dims& second) {
  const Dims strides = contiguousStrides(source);
  Dims keptExtent, keptFirst, keptSecond, reducedExtent, reducedFirst, reducedSecond;
  for (size_t d = 0; d < source.size(); ++d) {
    if (source[d] == 1) continue;
    Dims& extent = reduced[d] ? reducedExtent : keptExtent;
    Dims& first = reduced[d] ? reducedFirst : keptFirst;
    Dims& companion = reduced[d] ? reducedSecond : keptSecond;
    extent.push_back(source[d]);
    first.push_back(strides[d]);
    companion.push_back(second[d]);
  }
  requireRank(keptExtent.size(), "the kept index space");
  requireRank(reducedExtent.size(), "the reduced index space");
  ReduceMap map;
  map.kept.rank = static_cast<int>(keptExtent.size());
  map.reduced.rank = static_cast<int>(reducedExtent.size());
  for (size_t d = 0; d < keptExtent.size(); ++d) {
    map.kept.extent[d] = keptExtent[d];
    map.kept.first[d] = keptFirst[d];
    map.kept.second[d] = keptSecond[d];
    map.targets *= keptExtent[d];
  }
  for (size_t d = 0; d < reducedExtent.size(); ++d) {
    map.reduced.extent[d] = reducedExtent[d];
    map.reduced.first[d] = reducedFirst[d];
    map.reduced.second[d] = reducedSecond[d];
    map.count *= reducedExtent[d];
  }
  return map;
}

/**
 * The gradient of a binary op's operand (`operand` 0: a, 1: b) as a reduction of dy (shape `out`)
 * over the dimensions the operand is broadcast along; the companion is the other operand (`other`,
 * empty for a number).
 */
inline ReduceMap binaryGradientMap(const Dims& self, const Dims& other, const Dims& out) {
  std::vector<bool> reduced(out.size(), false);
  const size_t shift = out.size() - self.size();
  for (size_t d = 0; d < out.size(); ++d) reduced[d] = out[d] != 1 && (d < shift || self[d - shift] == 1);
  return reduceMap(out, reduced, broadcastStrides(other, out));
}

/** y = x with its dimensions reordered (y's dimension d is x's dims[d]): y's walk with x's offsets. */
inline StridedMap permuteMap(const Dims& x, const Dims& dims) {
  const Dims strides = contiguousStrides(x);
  Dims out, first;
  for (const int64_t d : dims) {
    out.push_back(x[static_cast<size_t>(d)]);
    first.push_back(strides[static_cast<size_t>(d)]);
  }
  const Dims own = contiguousStrides(out);
  return stridedMap(out, first, own);
}

/** The permutation that undoes `dims`. */
inline Dims inversePermutation(const Dims& dims) {
  Dims inverse(dims.size(), 0);
  for (size_t d = 0; d < dims.size(); ++d) inverse[static_cast<size_t>(dims[d])] = static_cast<int64_t>(d);
  return inverse;
}

/** A dimension index as given (negative counts from the end); the CPU op has validated it. */
inline size_t resolveDim(int64_t dim, size_t rank) { return static_cast<size_t>(dim < 0 ? dim + static_cast<int64_t>(rank) : dim); }

/** The tensor seen as [outer, extent, inner] around dimension `dim` (a 0-D tensor is [1, 1, 1]). */
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};
inline AxisSplit axisSplit(const Dims& shape, int64_t dim) {
  AxisSplit split;
  if (shape.empty()) return split;
  const size_t axis = resolveDim(dim, shape.size());
  for (size_t d = 0; d < axis; ++d) split.outer *= shape[d];
  split.extent = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) split.inner *= shape[d];
  return split;
}

/** cat's forward for one input: its rows (`extent` along dim) into the output at `offset` along dim. */
inline Band catBand(const Dims& out, int64_t dim, int64_t offset, int64_t extent) {
  const AxisSplit split = axisSplit(out, dim);
  Band band;
  band.outer = split.outer;
  band.piece = extent * split.inner;
  band.sourcePitch = band.piece;
  band.targetPitch = split.extent * split.inner;
  band.targetOffset = offset * split.inner;
  return band;
}

/** narrow's (and select's, length 1) forward: [start, start + length) along dim of x into a packed output. */
inline Band sliceBand(const Dims& x, int64_t dim, int64_t start, int64_t length) {
  const AxisSplit split = axisSplit(x, dim);
  Band band;
  band.outer = split.outer;
  band.piece = length * split.inner;
  band.sourcePitch = split.extent * split.inner;
  band.sourceOffset = start * split.inner;
  band.targetPitch = band.piece;
  return band;
}

/** The same band moved back (a backward: the output gradient into the input gradient's band). */
inline Band reversedBand(const Band& band) {
  Band back = band;
  back.sourcePitch = band.targetPitch;
  back.sourceOffset = band.targetOffset;
  back.targetPitch = band.sourcePitch;
  back.targetOffset = band.sourceOffset;
  return back;
}

/** Which dimensions mean/sum reduce: `dims` (negative from the end), or all of them when empty. */
inline std::vector<bool> reducedDims(const Dims& x, const Dims& dims) {
  std::vector<bool> reduced(x.size(), dims.empty());
  for (const int64_t dim : dims) reduced[resolveDim(dim, x.size())] = true;
  return reduced;
}

/** mean/sum's backward: x's walk with the offset of the output element each value was reduced into. */
inline StridedMap reducedGatherMap(const Dims& x, const std::vector<bool>& reduced) {
  Dims outStrides(x.size(), 0);
  int64_t stride = 1;
  for (size_t d = x.size(); d-- > 0;) {
    if (reduced[d]) continue;
    outStrides[d] = stride;
    stride *= x[d];
  }
  return stridedMap(x, outStrides, contiguousStrides(x));
}

}  // namespace netlens::cuda::math
