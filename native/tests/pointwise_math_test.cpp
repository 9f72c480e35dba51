// The CUDA executor's element-wise, shape and normalization math (native/cuda/pointwise_math.h),
// compiled for the host without nvcc, against the CPU engine: every activation's value and derivative
// (cpu::activationForward/Backward) over a grid with the thresholds, zero and huge values; and each
// kernel's loop replayed here over the same index maps the executor plans (broadcasting binary ops and
// their reduced gradients, mean/sum, permute, cat, narrow, select, PReLU, softmax, layer norm) against
// the CPU ops of native/core/ops.cpp, forward and backward. Runs in CI; the GPU harness
// (cuda_parity_test) checks the kernels themselves.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "netlens/json.h"
#include "ops.h"
#include "pointwise_math.h"
#include "math_test_support.h"

using namespace netlens;
using namespace netlens::test;
namespace math = netlens::cuda::math;

namespace {


// Same bits, or both NaN: the formulas are the CPU's term for term, so the host build must agree exactly.
bool sameFloat(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  uint32_t x = 0, y = 0;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y;
}

Tensor randomTensor(const Shape& shape, Rng& rng, float low = -1.0f, float high = 1.0f) { return uniformTensor(shape, rng, low, high); }

// ---- activations ----------------------------------------------------------------------------------

struct ActivationCase {
  const char* name;
  int kind;  // the cpu::Activation / math::Pointwise index
  float a, b;
};

void activations() {
  const float inf = std::numeric_limits<float>::infinity();
  // ops.cpp's defaults, and non-default parameters where the kind reads them.
  const std::vector<ActivationCase> cases = {
      {"relu", 0, 0, 0},           {"relu6", 1, 0, 0},           {"leaky_relu", 2, 0.01f, 0},   {"leaky_relu 0.2", 2, 0.2f, 0},
      {"gelu", 3, 0, 0},           {"gelu tanh", 4, 0, 0},       {"silu", 5, 0, 0},             {"sigmoid", 6, 0, 0},
      {"tanh", 7, 0, 0},           {"hardswish", 8, 0, 0},       {"elu", 9, 1.0f, 0},           {"elu 0.5", 9, 0.5f, 0},
      {"selu", 10, 0, 0},          {"celu", 11, 1.0f, 0},        {"celu 2", 11, 2.0f, 0},       {"softplus", 12, 1.0f, 20.0f},
      {"softplus beta 2", 12, 2.0f, 5.0f}, {"hardsigmoid", 13, 0, 0}, {"hardtanh", 14, -1.0f, 1.0f}, {"hardtanh 0..6", 14, 0.0f, 6.0f},
      {"mish", 15, 0, 0},          {"softsign", 16, 0, 0},       {"logsigmoid", 17, 0, 0},      {"tanhshrink", 18, 0, 0},
      {"softshrink", 19, 0.5f, 0}, {"softshrink 1", 19, 1.0f, 0}, {"hardshrink", 20, 0.5f, 0},  {"exp", 21, 0, 0},
      {"log", 22, 0, 0},           {"sqrt", 23, 0, 0},           {"rsqrt", 24, 0, 0},           {"abs", 25, 0, 0},
      {"pow 2", 26, 2.0f, 0},      {"pow 3", 26, 3.0f, 0},       {"pow 0.5", 26, 0.5f, 0},      {"pow 0", 26, 0.0f, 0},
      {"clamp", 27, -0.5f, 0.5f},  {"clamp min only", 27, 0.0f, inf}, {"clamp max only", 27, -inf, 2.0f},
  };
  // Zero, signed tiny values, every kink and threshold (±0.5 and ±1 shrink/hardtanh bounds, ±3
  // hardswish/hardsigmoid, 6 relu6, 20 softplus/mish), then large and huge magnitudes, then random.
  std::vector<float> grid = {0.0f, -0.0f, 1e-7f, -1e-7f, 1e-30f, 0.25f, 2.0f, 2.5f, 5.0f, 6.0f, 10.0f, 20.0f, 21.0f, 30.0f,
                             50.0f, 88.0f, 89.0f, 100.0f, 1e4f, 1e30f, 3.0f, 0.5f, 1.0f, inf};
  const size_t named = grid.size();
  for (size_t i = 0; i < named; ++i) {
    grid.push_back(-grid[i]);
    grid.push_back(std::nextafter(grid[i], inf));
    grid.push_back(std::nextafter(grid[i], -inf));
  }
  Rng rng(3);
  for (int i = 0; i < 400; ++i) grid.push_back(rng.uniform(-8.0f, 8.0f));
  std::vector<float> dy(grid.size());
  for (float& value : dy) value = rng.uniform(-2.0f, 2.0f);
  const int64_t count = static_cast<int64_t>(grid.size());
  for (const ActivationCase& c : cases) {
    const auto cpuKind = static_cast<cpu::Activation>(c.kind);
    const auto gpuKind = static_cast<math::Pointwise>(c.kind);
    std::vector<float> cpuY(grid.size()), cpuDx(grid.size());
    cpu::activationForward(cpuKind, c.a, c.b, count, grid.data(), cpuY.data());
    cpu::activationBackward(cpuKind, c.a, c.b, count, grid.data(), dy.data(), cpuDx.data());
    int valueMismatches = 0, derivativeMismatches = 0;
    float firstBad = 0.0f;
    for (size_t i = 0; i < grid.size(); ++i) {
      // What pointwiseForward/BackwardKernel write for element i.
      const float y = math::pointwiseValue(gpuKind, c.a, c.b, grid[i]);
      const float dx = dy[i] * math::pointwiseDerivative(gpuKind, c.a, c.b, grid[i]);
      if (!sameFloat(y, cpuY[i])) {
        if (valueMismatches++ == 0) firstBad = grid[i];
      }
      if (!sameFloat(dx, cpuDx[i])) {
        if (derivativeMismatches++ == 0 && valueMismatches == 0) firstBad = grid[i];
      }
    }
    expect(valueMismatches == 0, std::string(c.name) + ": value equals the CPU's at all " + std::to_string(grid.size()) + " points (" +
                                     std::to_string(valueMismatches) + " differ, first at x=" + std::to_string(firstBad) + ")");
    expect(derivativeMismatches == 0, std::string(c.name) + ": gradient equals the CPU's (" + std::to_string(derivativeMismatches) +
                                          " differ, first at x=" + std::to_string(firstBad) + ")");
  }
}

// ---- the CPU ops as the reference ---------------------------------------------------------------

struct OpRun {
  Tensor out;
  std::vector<Tensor> gradInputs, gradParams;
};

/** Runs the CPU op `op` forward and backward (gradOut given) on these inputs and parameters. */
OpRun runCpuOp(const std::string& op, const std::string& attrs, const std::vector<Tensor>& inputs, const std::vector<Tensor>& params,
               const Tensor* gradOut) {
  NodeSpec node;
  node.id = "n";
  node.op = op;
  node.attrs = parseJson(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back("x" + std::to_string(i));
  const std::unique_ptr<Op> cpuOp = createOp(node);
  std::vector<Shape> shapes;
  std::vector<const Tensor*> in;
  for (const Tensor& input : inputs) {
    shapes.push_back(input.shape);
    in.push_back(&input);
  }
  std::vector<Tensor> paramCopies = params;
  std::vector<Tensor*> paramPointers;
  for (Tensor& param : paramCopies) paramPointers.push_back(&param);
  OpRun run;
  run.out = Tensor(cpuOp->outputShape(shapes));
  Rng rng(1);
  OpContext context;
  context.rng = &rng;
  cpuOp->forward(in, paramPointers, run.out, context);
  if (gradOut == nullptr) return run;
  std::vector<Tensor*> gradIn, gradParam;
  for (const Tensor& input : inputs) run.gradInputs.emplace_back(input.shape);
  for (const Tensor& param : params) run.gradParams.emplace_back(param.shape);
  for (Tensor& grad : run.gradInputs) gradIn.push_back(&grad);
  for (Tensor& grad : run.gradParams) gradParam.push_back(&grad);
  cpuOp->backward(in, paramPointers, run.out, *gradOut, gradIn, gradParam, context);
  return run;
}

// Replays of the kernels' loops (cuda_kernels_pointwise.cu) on the host.
void replayReduce(const math::ReduceMap& map, math::ReduceTerm term, math::Binary op, float alpha, const float* source,
                  const float* companion, float scalar, const float* self, float scale, float* target) {
  for (int64_t j = 0; j < map.targets; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < map.count; ++r) {
      int64_t first = 0, second = 0;
      math::reduceOffsets(map, j, r, &first, &second);
      sum += math::reduceTerm(term, op, alpha, source[first], companion ? companion[second] : scalar, self ? self[j] : 0.0f);
    }
    target[j] = static_cast<float>(sum * scale);
  }
}

void replayGather(const math::StridedMap& map, int64_t count, const float* x, float scale, float* y) {
  for (int64_t i = 0; i < count; ++i) {
    int64_t first = 0, second = 0;
    math::mapOffsets(map, i, &first, &second);
    y[i] = scale * x[first];
  }
}

void replayBand(const math::Band& band, const float* source, float* target) {
  for (int64_t i = 0; i < band.outer * band.piece; ++i) {
    int64_t from = 0, to = 0;
    math::bandOffsets(band, i, &from, &to);
    target[to] = source[from];
  }
}

// Strict fp32 agreement: the same formulas, summed in double here and in double or serially on the CPU.
constexpr double kTolerance = 1e-6;

void binaryOps() {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> shapes = {{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},       {{2, 1, 4}, {3, 1}},       {{5}, {2, 3, 5}},
                                    {{1}, {3, 4}},          {{2, 3, 1, 5}, {1, 3, 4, 1}}, {{4, 1, 6, 1, 2}, {3, 1, 5, 1}}, {{3, 4}, {}}};
  const char* names[] = {"add", "sub", "mul", "div"};
  Rng rng(9);
  for (const Case& c : shapes) {
    // The output shape and the naive broadcast index against the CPU's and a direct computation.
    const math::Dims out = math::broadcastShape(c.a, c.b);
    for (int op = 0; op < 4; ++op) {
      for (const float alpha : {1.0f, -0.5f}) {
        if (op >= 2 && alpha != 1.0f) continue;
        const std::string label = std::string(names[op]) + " " + formatShape(c.a) + " with " + formatShape(c.b) +
                                  (alpha != 1.0f ? " alpha=-0.5" : "");
        const Tensor a = randomTensor(c.a, rng, 0.5f, 1.5f), b = randomTensor(c.b, rng, 0.5f, 1.5f);
        const Tensor gradOut = randomTensor(out, rng);
        const std::string attrs = alpha != 1.0f ? "{\"alpha\":-0.5}" : "{}";
        const OpRun cpu = runCpuOp(names[op], attrs, {a, b}, {}, &gradOut);
        expect(cpu.out.shape == Shape(out), label + ": broadcast shape " + formatShape(out) + " is the CPU op's " + formatShape(cpu.out.shape));
        // binaryForwardKernel
        const math::StridedMap map = math::stridedMap(out, math::broadcastStrides(c.a, out), math::broadcastStrides(c.b, out));
        Tensor y(out);
        for (int64_t i = 0; i < y.numel(); ++i) {
          int64_t first = 0, second = 0;
          math::mapOffsets(map, i, &first, &second);
          y.data[i] = math::binaryValue(static_cast<math::Binary>(op), alpha, a.data[first], b.data[second]);
        }
        expectClose(y, cpu.out, 0.0, label + ": forward");
        // The gradients: reductions of dy over each operand's broadcast dimensions.
        Tensor da(c.a), db(c.b);
        replayReduce(math::binaryGradientMap(c.a, c.b, out), math::ReduceTerm::BinaryA, static_cast<math::Binary>(op), alpha,
                     gradOut.ptr(), b.ptr(), 0.0f, a.ptr(), 1.0f, da.ptr());
        replayReduce(math::binaryGradientMap(c.b, c.a, out), math::ReduceTerm::BinaryB, static_cast<math::Binary>(op), alpha,
                     gradOut.ptr(), a.ptr(), 0.0f, b.ptr(), 1.0f, db.ptr());
        expectClose(da, cpu.gradInputs[0], kTolerance, label + ": gradient of a");
        expectClose(db, cpu.gradInputs[1], kTolerance, label + ": gradient of b");
      }
    }
  }
  // A tensor and a number, either order (x - 2, 2 - x, x / 2, 2 / x, …).
  for (int op = 0; op < 4; ++op) {
    for (const bool reverse : {false, true}) {
      const std::string label = std::string(names[op]) + (reverse ? " number-first" : " with a number");
      const Shape shape{3, 5};
      const Tensor x = randomTensor(shape, rng, 0.5f, 1.5f), gradOut = randomTensor(shape, rng);
      const float scalar = 1.75f;
      const OpRun cpu = runCpuOp(names[op], "{\"other\":1.75,\"reverse\":" + std::string(reverse ? "true" : "false") + "}", {x}, {}, &gradOut);
      const math::StridedMap map = math::stridedMap(shape, math::contiguousStrides(shape), math::contiguousStrides(shape));
      Tensor y(shape), dx(shape);
      for (int64_t i = 0; i < y.numel(); ++i) {
        int64_t first = 0, second = 0;
        math::mapOffsets(map, i, &first, &second);
        y.data[i] = reverse ? math::binaryValue(static_cast<math::Binary>(op), 1.0f, scalar, x.data[second])
                            : math::binaryValue(static_cast<math::Binary>(op), 1.0f, x.data[first], scalar);
      }
      replayReduce(math::binaryGradientMap(shape, {}, shape), reverse ? math::ReduceTerm::BinaryB : math::ReduceTerm::BinaryA,
                   static_cast<math::Binary>(op), 1.0f, gradOut.ptr(), nullptr, scalar, x.ptr(), 1.0f, dx.ptr());
      expectClose(y, cpu.out, 0.0, label + ": forward");
      expectClose(dx, cpu.gradInputs[0], kTolerance, label + ": gradient");
    }
  }
  // The broadcast index against a direct multi-index computation, on a shape with every kind of dimension.
  const Shape a{4, 1, 6, 1, 2}, b{3, 1, 5, 1};
  const math::Dims out = math::broadcastShape(a, b);
  const math::StridedMap map = math::stridedMap(out, math::broadcastStrides(a, out), math::broadcastStrides(b, out));
  bool matches = true;
  int64_t index = 0;
  for (int64_t i0 = 0; i0 < 4; ++i0)
    for (int64_t i1 = 0; i1 < 3; ++i1)
      for (int64_t i2 = 0; i2 < 6; ++i2)
        for (int64_t i3 = 0; i3 < 5; ++i3)
          for (int64_t i4 = 0; i4 < 2; ++i4, ++index) {
            int64_t first = 0, second = 0;
            math::mapOffsets(map, index, &first, &second);
            matches = matches && first == ((i0 * 1 + 0) * 6 + i2) * 2 + i4 && second == (i1 * 5 + i3) * 1;
          }
  expect(matches && index == 4 * 3 * 6 * 5 * 2, "broadcast offsets of [4,1,6,1,2] with [3,1,5,1] match the naive multi-index");
  expect(map.rank <= 5, "unit dimensions are dropped from the walk");
  bool refused = false;
  try {
    math::broadcastShape({2, 3}, {4, 3});
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  expect(refused, "incompatible shapes are refused");
}

void reductions() {
  Rng rng(4);
  const Shape x{2, 3, 4, 5};
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"{\"dim\":1}", {1}}, {"{\"dim\":[0,2]}", {0, 2}}, {"{\"dim\":-1,\"keepdim\":true}", {-1}}, {"{}", {}}, {"{\"dim\":[1,3]}", {1, 3}}};
  for (const bool sum : {false, true}) {
    for (const auto& [attrs, dims] : cases) {
      const std::string label = std::string(sum ? "sum " : "mean ") + attrs;
      const Tensor input = randomTensor(x, rng);
      const OpRun shapeOnly = runCpuOp(sum ? "sum" : "mean", attrs, {input}, {}, nullptr);
      const Tensor gradOut = randomTensor(shapeOnly.out.shape, rng);
      const OpRun cpu = runCpuOp(sum ? "sum" : "mean", attrs, {input}, {}, &gradOut);
      const std::vector<bool> reduced = math::reducedDims(x, dims);
      const math::ReduceMap map = math::reduceMap(x, reduced, math::Dims(x.size(), 0));
      expect(map.targets == std::max<int64_t>(1, cpu.out.numel()), label + ": one target per output value");
      const float scale = sum ? 1.0f : static_cast<float>(1.0 / static_cast<double>(map.count));
      Tensor y(cpu.out.shape);
      if (y.data.empty()) y.data.assign(1, 0.0f);
      replayReduce(map, math::ReduceTerm::Sum, math::Binary::Add, 1.0f, input.ptr(), nullptr, 0.0f, nullptr, scale, y.ptr());
      expectClose(y, cpu.out, kTolerance, label + ": forward");
      Tensor dx(x);
      replayGather(math::reducedGatherMap(x, reduced), dx.numel(), gradOut.ptr(), scale, dx.ptr());
      expectClose(dx, cpu.gradInputs[0], kTolerance, label + ": backward");
    }
  }
}

void copies() {
  Rng rng(5);
  // permute, forward and (through the inverse permutation) backward.
  const std::vector<std::vector<int64_t>> orders = {{0, 2, 1}, {2, 0, 1}, {1, 0, 2}, {0, 1, 2}};
  for (const auto& order : orders) {
    const Shape x{3, 4, 5};
    std::string list;
    for (const int64_t d : order) list += (list.empty() ? "" : ",") + std::to_string(d);
    const std::string label = "permute [" + list + "]";
    const Tensor input = randomTensor(x, rng);
    Shape outShape;
    for (const int64_t d : order) outShape.push_back(x[static_cast<size_t>(d)]);
    const Tensor gradOut = randomTensor(outShape, rng);
    const OpRun cpu = runCpuOp("permute", "{\"dims\":[" + list + "]}", {input}, {}, &gradOut);
    Tensor y(outShape), dx(x);
    replayGather(math::permuteMap(x, order), y.numel(), input.ptr(), 1.0f, y.ptr());
    replayGather(math::permuteMap(outShape, math::inversePermutation(order)), dx.numel(), gradOut.ptr(), 1.0f, dx.ptr());
    expectClose(y, cpu.out, 0.0, label + ": forward");
    expectClose(dx, cpu.gradInputs[0], 0.0, label + ": backward (inverse permutation)");
  }
  {
    // A 4-D NCHW → NHWC permutation with a negative dim.
    const Shape x{2, 3, 4, 5};
    const Tensor input = randomTensor(x, rng);
    const Tensor gradOut = randomTensor({2, 4, 5, 3}, rng);
    const OpRun cpu = runCpuOp("permute", "{\"dims\":[0,2,-1,1]}", {input}, {}, &gradOut);
    const std::vector<int64_t> order{0, 2, 3, 1};
    Tensor y({2, 4, 5, 3}), dx(x);
    replayGather(math::permuteMap(x, order), y.numel(), input.ptr(), 1.0f, y.ptr());
    replayGather(math::permuteMap({2, 4, 5, 3}, math::inversePermutation(order)), dx.numel(), gradOut.ptr(), 1.0f, dx.ptr());
    expectClose(y, cpu.out, 0.0, "permute [0,2,-1,1]: forward");
    expectClose(dx, cpu.gradInputs[0], 0.0, "permute [0,2,-1,1]: backward");
  }
  // cat along each dimension, three inputs of different extents.
  for (const int64_t dim : {0, 1, 2, -1}) {
    const std::string label = "cat dim " + std::to_string(dim);
    std::vector<Tensor> inputs;
    Shape outShape{2, 3, 4};
    const size_t axis = math::resolveDim(dim, 3);
    outShape[axis] = 0;
    for (const int64_t extent : {1, 2, 3}) {
      Shape shape{2, 3, 4};
      shape[axis] = extent;
      outShape[axis] += extent;
      inputs.push_back(randomTensor(shape, rng));
    }
    const Tensor gradOut = randomTensor(outShape, rng);
    const OpRun cpu = runCpuOp("cat", "{\"dim\":" + std::to_string(dim) + "}", inputs, {}, &gradOut);
    Tensor y(outShape);
    int64_t offset = 0;
    bool backward = true;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const int64_t extent = inputs[k].shape[axis];
      const math::Band band = math::catBand(outShape, dim, offset, extent);
      replayBand(band, inputs[k].ptr(), y.ptr());
      Tensor dx(inputs[k].shape);
      replayBand(math::reversedBand(band), gradOut.ptr(), dx.ptr());
      backward = backward && relativeError(dx, cpu.gradInputs[k]) == 0.0;
      offset += extent;
    }
    expectClose(y, cpu.out, 0.0, label + ": forward");
    expect(backward, label + ": every input's gradient is its band of the output gradient");
  }
  // narrow and select: the band, and the backward zero elsewhere.
  for (const int64_t dim : {0, 1, -1}) {
    const Shape x{4, 5, 6};
    const size_t axis = math::resolveDim(dim, 3);
    for (const bool select : {false, true}) {
      const int64_t start = 1, length = select ? 1 : 3;
      const std::string label = std::string(select ? "select" : "narrow") + " dim " + std::to_string(dim);
      Shape outShape = x;
      if (select) {
        outShape.erase(outShape.begin() + static_cast<std::ptrdiff_t>(axis));
      } else {
        outShape[axis] = length;
      }
      const Tensor input = randomTensor(x, rng);
      const Tensor gradOut = randomTensor(outShape, rng);
      const std::string attrs = select ? "{\"dim\":" + std::to_string(dim) + ",\"index\":1}"
                                       : "{\"dim\":" + std::to_string(dim) + ",\"start\":1,\"length\":3}";
      const OpRun cpu = runCpuOp(select ? "select" : "narrow", attrs, {input}, {}, &gradOut);
      const math::Band band = math::sliceBand(x, dim, start, length);
      Tensor y(outShape), dx(x);
      replayBand(band, input.ptr(), y.ptr());
      replayBand(math::reversedBand(band), gradOut.ptr(), dx.ptr());  // dx starts zeroed, as the executor clears it
      expectClose(y, cpu.out, 0.0, label + ": forward");
      expectClose(dx, cpu.gradInputs[0], 0.0, label + ": backward");
    }
  }
}

void prelu() {
  Rng rng(6);
  for (const int64_t weights : {1, 3}) {
    const Shape x{2, 3, 4, 5};
    const std::string label = "prelu with " + std::to_string(weights) + " weight(s)";
    const Tensor input = randomTensor(x, rng), w = randomTensor({weights}, rng, 0.1f, 0.4f);
    const Tensor gradOut = randomTensor(x, rng);
    const OpRun cpu = runCpuOp("prelu", "{\"num_parameters\":" + std::to_string(weights) + "}", {input}, {w}, &gradOut);
    Tensor y(x), dx(x), dw({weights});
    for (int64_t i = 0; i < input.numel(); ++i) {
      const float slope = w.data[math::preluWeightIndex(i, 3, 20, weights)];
      y.data[i] = math::preluValue(input.data[i], slope);
      dx.data[i] = math::preluInputGradient(input.data[i], slope, gradOut.data[i]);
    }
    const std::vector<bool> reduced{true, weights == 1, true, true};
    replayReduce(math::reduceMap(x, reduced, math::contiguousStrides(x)), math::ReduceTerm::PReluWeight, math::Binary::Add, 1.0f,
                 gradOut.ptr(), input.ptr(), 0.0f, nullptr, 1.0f, dw.ptr());
    expectClose(y, cpu.out, 0.0, label + ": forward");
    expectClose(dx, cpu.gradInputs[0], 0.0, label + ": input gradient");
    expectClose(dw, cpu.gradParams[0], kTolerance, label + ": weight gradient (a reduction)");
  }
}

void softmaxAndLayerNorm() {
  Rng rng(7);
  for (const bool logSoftmax : {false, true}) {
    for (const int64_t dim : {0, 1, -1}) {
      const Shape x{3, 4, 5};
      const std::string label = std::string(logSoftmax ? "log_softmax" : "softmax") + " dim " + std::to_string(dim);
      const Tensor input = randomTensor(x, rng, -3.0f, 3.0f), gradOut = randomTensor(x, rng);
      const OpRun cpu = runCpuOp(logSoftmax ? "log_softmax" : "softmax", "{\"dim\":" + std::to_string(dim) + "}", {input}, {}, &gradOut);
      const math::AxisSplit split = math::axisSplit(x, dim);
      Tensor y(x), dx(x);
      // softmaxForwardKernel / softmaxBackwardKernel for each line (one warp each on the GPU).
      for (int64_t line = 0; line < split.outer * split.inner; ++line) {
        const int64_t base = math::axisLineBase(line, split.extent, split.inner);
        float peak = -INFINITY;
        for (int64_t i = 0; i < split.extent; ++i) peak = std::fmax(peak, input.data[base + i * split.inner]);
        double sum = 0.0;
        for (int64_t i = 0; i < split.extent; ++i) sum += std::exp(static_cast<double>(input.data[base + i * split.inner] - peak));
        for (int64_t i = 0; i < split.extent; ++i) {
          const int64_t at = base + i * split.inner;
          y.data[at] = logSoftmax ? input.data[at] - peak - static_cast<float>(std::log(sum))
                                  : static_cast<float>(std::exp(static_cast<double>(input.data[at] - peak)) * (1.0 / sum));
        }
        double dot = 0.0;
        for (int64_t i = 0; i < split.extent; ++i) {
          const int64_t at = base + i * split.inner;
          dot += logSoftmax ? gradOut.data[at] : static_cast<double>(gradOut.data[at]) * y.data[at];
        }
        for (int64_t i = 0; i < split.extent; ++i) {
          const int64_t at = base + i * split.inner;
          dx.data[at] = math::softmaxInputGradient(logSoftmax, y.data[at], gradOut.data[at], static_cast<float>(dot));
        }
      }
      expectClose(y, cpu.out, kTolerance, label + ": forward");
      expectClose(dx, cpu.gradInputs[0], kTolerance, label + ": backward");
    }
  }
  for (const bool affine : {true, false}) {
    const Shape x{6, 8}, normalized{8};
    const std::string label = std::string("layer_norm") + (affine ? "" : " without affine");
    const Tensor input = randomTensor({3, 2, 8}, rng, -2.0f, 2.0f), gradOut = randomTensor({3, 2, 8}, rng);
    std::vector<Tensor> params;
    if (affine) params = {randomTensor(normalized, rng, 0.5f, 1.5f), randomTensor(normalized, rng)};
    const OpRun cpu = runCpuOp("layer_norm", std::string("{\"normalized_shape\":[8],\"elementwise_affine\":") + (affine ? "true" : "false") + "}",
                               {input}, params, &gradOut);
    const int64_t rows = 6, cols = 8;
    const float eps = 1e-5f;
    Tensor y({3, 2, 8}), dx({3, 2, 8}), dgamma(normalized), dbeta(normalized);
    std::vector<float> mean(rows), invStd(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = input.ptr() + r * cols;
      double sum = 0.0;
      for (int64_t i = 0; i < cols; ++i) sum += in[i];
      const double m = sum / static_cast<double>(cols);
      double squares = 0.0;
      for (int64_t i = 0; i < cols; ++i) squares += (in[i] - m) * (in[i] - m);
      const double s = math::layerNormInvStd(squares, static_cast<double>(cols), eps);
      mean[r] = static_cast<float>(m);
      invStd[r] = static_cast<float>(s);
      for (int64_t i = 0; i < cols; ++i) {
        y.data[r * cols + i] = math::layerNormValue(in[i], m, s, affine ? params[0].data[i] : 1.0f, affine ? params[1].data[i] : 0.0f);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = input.ptr() + r * cols;
      const float* grad = gradOut.ptr() + r * cols;
      const double m = mean[r], s = invStd[r];
      double sumG = 0.0, sumGXhat = 0.0;
      for (int64_t i = 0; i < cols; ++i) {
        const double g = static_cast<double>(grad[i]) * (affine ? params[0].data[i] : 1.0f);
        sumG += g;
        sumGXhat += g * (in[i] - m) * s;
      }
      for (int64_t i = 0; i < cols; ++i) {
        const double g = static_cast<double>(grad[i]) * (affine ? params[0].data[i] : 1.0f);
        dx.data[r * cols + i] = math::layerNormInputGradient(g, (in[i] - m) * s, sumG, sumGXhat, static_cast<double>(cols), s);
      }
    }
    for (int64_t c = 0; c < cols; ++c) {
      double gammaSum = 0.0, betaSum = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        const float grad = gradOut.data[r * cols + c];
        gammaSum += static_cast<double>(grad) * (input.data[r * cols + c] - mean[r]) * invStd[r];
        betaSum += grad;
      }
      dgamma.data[c] = static_cast<float>(gammaSum);
      dbeta.data[c] = static_cast<float>(betaSum);
    }
    expectClose(y, cpu.out, kTolerance, label + ": forward");
    expectClose(dx, cpu.gradInputs[0], kTolerance, label + ": input gradient");
    if (affine) {
      expectClose(dgamma, cpu.gradParams[0], kTolerance, label + ": weight gradient");
      expectClose(dbeta, cpu.gradParams[1], kTolerance, label + ": bias gradient");
    }
  }
}

}  // namespace

int main() {
  activations();
  binaryOps();
  reductions();
  copies();
  prelu();
  softmaxAndLayerNorm();
  return finishMath("pointwise_math", "pointwise_math_test");
}
