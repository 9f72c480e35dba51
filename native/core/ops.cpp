#include "ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>

#include "kernels.h"

namespace netlens {
namespace {

using cpu::Activation;

// ---- attribute reading ----------------------------------------------------------------------------

class Attrs {
 public:
  explicit Attrs(const NodeSpec& node) : node_(node) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw SpecError("node \"" + node_.id + "\" (" + node_.op + "): " + message);
  }
  const JsonValue* find(const std::string& key) const {
    const JsonValue* value = node_.attrs.find(key);
    return (value == nullptr || value->isNull()) ? nullptr : value;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }

  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    const JsonValue* value = find(key);
    if (value == nullptr) {
      if (!fallback) fail("attribute \"" + key + "\" is required");
      return *fallback;
    }
    if (!value->isNumber() || std::trunc(value->asNumber()) != value->asNumber()) {
      fail("attribute \"" + key + "\" must be an integer");
    }
    return value->asInt();
  }
  double number(const std::string& key, double fallback) const {
    const JsonValue* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->isNumber()) fail("attribute \"" + key + "\" must be a number");
    return value->asNumber();
  }
  float real(const std::string& key, double fallback) const { return static_cast<float>(number(key, fallback)); }
  bool flag(const std::string& key, bool fallback) const {
    const JsonValue* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->isBool()) fail("attribute \"" + key + "\" must be true or false");
    return value->asBool();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    const JsonValue* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->isString()) fail("attribute \"" + key + "\" must be a string");
    return value->asString();
  }
  /** An int or a list of ints (PyTorch's `int | tuple` arguments). */
  std::vector<int64_t> ints(const std::string& key, std::optional<std::vector<int64_t>> fallback = std::nullopt) const {
    const JsonValue* value = find(key);
    if (value == nullptr) {
      if (!fallback) fail("attribute \"" + key + "\" is required");
      return *fallback;
    }
    std::vector<int64_t> result;
    if (value->isNumber()) {
      result.push_back(integer(key));
      return result;
    }
    if (!value->isArray()) fail("attribute \"" + key + "\" must be an integer or a list of integers");
    for (const JsonValue& item : value->asArray()) {
      if (!item.isNumber() || std::trunc(item.asNumber()) != item.asNumber()) {
        fail("attribute \"" + key + "\" must be an integer or a list of integers");
      }
      result.push_back(item.asInt());
    }
    return result;
  }
  /** A 2-D pair: an int applies to both dimensions. */
  std::pair<int64_t, int64_t> pair(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    std::vector<int64_t> values =
        fallback && !has(key) ? std::vector<int64_t>{*fallback} : ints(key);
    if (values.size() == 1) return {values[0], values[0]};
    if (values.size() != 2) fail("attribute \"" + key + "\" must be an integer or a pair");
    return {values[0], values[1]};
  }
  const NodeSpec& node() const { return node_; }

 private:
  const NodeSpec& node_;
};

std::string where(const NodeSpec& node) { return "node \"" + node.id + "\" (" + node.op + "): "; }

[[noreturn]] void shapeError(const std::string& prefix, const std::string& message) { throw SpecError(prefix + message); }

int64_t normalizeDim(int64_t dim, int64_t rank, const std::string& prefix) {
  const int64_t resolved = dim < 0 ? dim + rank : dim;
  if (resolved < 0 || resolved >= rank) {
    shapeError(prefix, "dimension " + std::to_string(dim) + " is out of range for a rank-" + std::to_string(rank) +
                           " input");
  }
  return resolved;
}

// ---- convolution ---------------------------------------------------------------------------------

struct Conv2dAttrs {
  int64_t inChannels, outChannels, groups;
  std::pair<int64_t, int64_t> kernel, stride, padding, dilation, outputPadding;
  bool bias;
};

Conv2dAttrs readConv(const Attrs& attrs, bool transposed) {
  Conv2dAttrs conv{};
  conv.inChannels = attrs.integer("in_channels");
  conv.outChannels = attrs.integer("out_channels");
  conv.groups = attrs.integer("groups", 1);
  conv.kernel = attrs.pair("kernel_size");
  conv.stride = attrs.pair("stride", 1);
  conv.dilation = attrs.pair("dilation", 1);
  conv.outputPadding = transposed ? attrs.pair("output_padding", 0) : std::pair<int64_t, int64_t>{0, 0};
  conv.bias = attrs.flag("bias", true);
  if (attrs.text("padding_mode", "zeros") != "zeros") attrs.fail("only padding_mode \"zeros\" is supported");
  const JsonValue* padding = attrs.find("padding");
  if (padding != nullptr && padding->isString()) {
    const std::string& mode = padding->asString();
    if (transposed) attrs.fail("padding must be numeric");
    if (mode == "valid") {
      conv.padding = {0, 0};
    } else if (mode == "same") {
      const int64_t totalH = conv.dilation.first * (conv.kernel.first - 1);
      const int64_t totalW = conv.dilation.second * (conv.kernel.second - 1);
      if (conv.stride.first != 1 || conv.stride.second != 1) attrs.fail("padding \"same\" needs stride 1");
      if (totalH % 2 != 0 || totalW % 2 != 0) attrs.fail("padding \"same\" with an even kernel extent pads unevenly; not supported");
      conv.padding = {totalH / 2, totalW / 2};
    } else {
      attrs.fail("padding \"" + mode + "\" is not supported (valid, same, or integers)");
    }
  } else {
    conv.padding = attrs.pair("padding", 0);
  }
  if (conv.inChannels <= 0 || conv.outChannels <= 0 || conv.groups <= 0) attrs.fail("channels and groups must be positive");
  if (conv.inChannels % conv.groups != 0 || conv.outChannels % conv.groups != 0) {
    attrs.fail("in_channels and out_channels must be divisible by groups");
  }
  if (conv.kernel.first <= 0 || conv.kernel.second <= 0 || conv.stride.first <= 0 || conv.stride.second <= 0 ||
      conv.dilation.first <= 0 || conv.dilation.second <= 0 || conv.padding.first < 0 || conv.padding.second < 0) {
    attrs.fail("kernel_size, stride and dilation must be positive and padding non-negative");
  }
  if (conv.outputPadding.first < 0 || conv.outputPadding.second < 0 ||
      (conv.outputPadding.first >= conv.stride.first && conv.outputPadding.first >= conv.dilation.first) ||
      (conv.outputPadding.second >= conv.stride.second && conv.outputPadding.second >= conv.dilation.second)) {
    attrs.fail("output_padding must be smaller than either stride or dilation");
  }
  return conv;
}

class Conv2dOp : public Op {
 public:
  explicit Conv2dOp(const Attrs& attrs) : prefix_(where(attrs.node())), a_(readConv(attrs, false)) {}

  std::vector<ParamDecl> params() const override {
    const int64_t fanIn = a_.inChannels / a_.groups * a_.kernel.first * a_.kernel.second;
    std::vector<ParamDecl> decls{
        {"weight", {a_.outChannels, a_.inChannels / a_.groups, a_.kernel.first, a_.kernel.second}, Init::KaimingUniform, fanIn, false}};
    if (a_.bias) decls.push_back({"bias", {a_.outChannels}, Init::FanInUniform, fanIn, false});
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() != 4) shapeError(prefix_, "expects a 4-D input (N, C, H, W), got " + formatShape(x));
    if (x[1] != a_.inChannels) {
      shapeError(prefix_, "expects " + std::to_string(a_.inChannels) + " input channels, got " + formatShape(x));
    }
    const cpu::ConvGeometry g = geometry(x);
    if (g.outH < 1 || g.outW < 1) shapeError(prefix_, "input " + formatShape(x) + " is smaller than the kernel");
    return {x[0], a_.outChannels, g.outH, g.outW};
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out,
               OpContext&) override {
    const cpu::ConvGeometry g = geometry(in[0]->shape);
    cpu::convForward(g, in[0]->ptr(), params[0]->ptr(), out.ptr());
    if (a_.bias) cpu::addChannelBias(g.batch, g.outChannels, g.outH * g.outW, params[1]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const cpu::ConvGeometry g = geometry(in[0]->shape);
    if (gradIn[0]) cpu::convBackwardData(g, gradOut.ptr(), params[0]->ptr(), gradIn[0]->ptr());
    if (gradParams[0]) cpu::convBackwardWeight(g, in[0]->ptr(), gradOut.ptr(), gradParams[0]->ptr());
    if (a_.bias && gradParams[1]) cpu::channelSum(g.batch, g.outChannels, g.outH * g.outW, gradOut.ptr(), gradParams[1]->ptr());
  }

 private:
  cpu::ConvGeometry geometry(const Shape& x) const {
    cpu::ConvGeometry g;
    g.batch = x[0];
    g.inChannels = a_.inChannels;
    g.inH = x[2];
    g.inW = x[3];
    g.outChannels = a_.outChannels;
    g.kernelH = a_.kernel.first;
    g.kernelW = a_.kernel.second;
    g.strideH = a_.stride.first;
    g.strideW = a_.stride.second;
    g.padH = a_.padding.first;
    g.padW = a_.padding.second;
    g.dilationH = a_.dilation.first;
    g.dilationW = a_.dilation.second;
    g.groups = a_.groups;
    g.outH = (g.inH + 2 * g.padH - g.dilationH * (g.kernelH - 1) - 1) / g.strideH + 1;
    g.outW = (g.inW + 2 * g.padW - g.dilationW * (g.kernelW - 1) - 1) / g.strideW + 1;
    if (g.inH + 2 * g.padH - g.dilationH * (g.kernelH - 1) - 1 < 0) g.outH = 0;
    if (g.inW + 2 * g.padW - g.dilationW * (g.kernelW - 1) - 1 < 0) g.outW = 0;
    return g;
  }
  std::string prefix_;
  Conv2dAttrs a_;
};

// A transposed convolution is the input-gradient of the convolution whose input is its output:
// that convolution maps (out_channels, outH, outW) to (in_channels, H, W) with the same weight.
class ConvTranspose2dOp : public Op {
 public:
  explicit ConvTranspose2dOp(const Attrs& attrs) : prefix_(where(attrs.node())), a_(readConv(attrs, true)) {}

  std::vector<ParamDecl> params() const override {
    // PyTorch computes fan_in from weight.size(1), which is out_channels / groups here.
    const int64_t fanIn = a_.outChannels / a_.groups * a_.kernel.first * a_.kernel.second;
    std::vector<ParamDecl> decls{
        {"weight", {a_.inChannels, a_.outChannels / a_.groups, a_.kernel.first, a_.kernel.second}, Init::KaimingUniform, fanIn, false}};
    if (a_.bias) decls.push_back({"bias", {a_.outChannels}, Init::FanInUniform, fanIn, false});
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() != 4) shapeError(prefix_, "expects a 4-D input (N, C, H, W), got " + formatShape(x));
    if (x[1] != a_.inChannels) {
      shapeError(prefix_, "expects " + std::to_string(a_.inChannels) + " input channels, got " + formatShape(x));
    }
    const cpu::ConvGeometry g = geometry(x);
    if (g.inH < 1 || g.inW < 1) shapeError(prefix_, "output of input " + formatShape(x) + " would be empty");
    return {x[0], a_.outChannels, g.inH, g.inW};
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out,
               OpContext&) override {
    const cpu::ConvGeometry g = geometry(in[0]->shape);
    cpu::convBackwardData(g, in[0]->ptr(), params[0]->ptr(), out.ptr());
    if (a_.bias) cpu::addChannelBias(g.batch, a_.outChannels, g.inH * g.inW, params[1]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const cpu::ConvGeometry g = geometry(in[0]->shape);
    if (gradIn[0]) cpu::convForward(g, gradOut.ptr(), params[0]->ptr(), gradIn[0]->ptr());
    if (gradParams[0]) cpu::convBackwardWeight(g, gradOut.ptr(), in[0]->ptr(), gradParams[0]->ptr());
    if (a_.bias && gradParams[1]) cpu::channelSum(g.batch, a_.outChannels, g.inH * g.inW, gradOut.ptr(), gradParams[1]->ptr());
  }

 private:
  // The geometry of the equivalent forward convolution (its "in" is this op's output).
  cpu::ConvGeometry geometry(const Shape& x) const {
    cpu::ConvGeometry g;
    g.batch = x[0];
    g.inChannels = a_.outChannels;
    g.outChannels = a_.inChannels;
    g.outH = x[2];
    g.outW = x[3];
    g.kernelH = a_.kernel.first;
    g.kernelW = a_.kernel.second;
    g.strideH = a_.stride.first;
    g.strideW = a_.stride.second;
    g.padH = a_.padding.first;
    g.padW = a_.padding.second;
    g.dilationH = a_.dilation.first;
    g.dilationW = a_.dilation.second;
    g.groups = a_.groups;
    g.inH = (x[2] - 1) * g.strideH - 2 * g.padH + g.dilationH * (g.kernelH - 1) + a_.outputPadding.first + 1;
    g.inW = (x[3] - 1) * g.strideW - 2 * g.padW + g.dilationW * (g.kernelW - 1) + a_.outputPadding.second + 1;
    return g;
  }
  std::string prefix_;
  Conv2dAttrs a_;
};

// ---- linear --------------------------------------------------------------------------------------

class LinearOp : public Op {
 public:
  explicit LinearOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        in_(attrs.integer("in_features")),
        out_(attrs.integer("out_features")),
        bias_(attrs.flag("bias", true)) {
    if (in_ <= 0 || out_ <= 0) attrs.fail("in_features and out_features must be positive");
  }
  std::vector<ParamDecl> params() const override {
    std::vector<ParamDecl> decls{{"weight", {out_, in_}, Init::KaimingUniform, in_, false}};
    if (bias_) decls.push_back({"bias", {out_}, Init::FanInUniform, in_, false});
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.empty() || x.back() != in_) {
      shapeError(prefix_, "expects inputs whose last dimension is " + std::to_string(in_) + ", got " + formatShape(x));
    }
    Shape out = x;
    out.back() = out_;
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out,
               OpContext&) override {
    const int64_t rows = in[0]->numel() / in_;
    cpu::gemm(false, true, rows, out_, in_, in[0]->ptr(), in_, params[0]->ptr(), in_, 0.0f, out.ptr(), out_, true);
    if (bias_) cpu::addChannelBias(rows, out_, 1, params[1]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const int64_t rows = in[0]->numel() / in_;
    if (gradIn[0]) {
      cpu::gemm(false, false, rows, in_, out_, gradOut.ptr(), out_, params[0]->ptr(), in_, 0.0f, gradIn[0]->ptr(), in_, true);
    }
    if (gradParams[0]) {
      cpu::gemm(true, false, out_, in_, rows, gradOut.ptr(), out_, in[0]->ptr(), in_, 0.0f, gradParams[0]->ptr(), in_, true);
    }
    if (bias_ && gradParams[1]) cpu::channelSum(rows, out_, 1, gradOut.ptr(), gradParams[1]->ptr());
  }

 private:
  std::string prefix_;
  int64_t in_, out_;
  bool bias_;
};

// ---- activations ---------------------------------------------------------------------------------

class ActivationOp : public Op {
 public:
  ActivationOp(Activation kind, float a = 0.0f, float b = 0.0f) : kind_(kind), a_(a), b_(b) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override { return inputs[0]; }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    cpu::activationForward(kind_, a_, b_, in[0]->numel(), in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) cpu::activationBackward(kind_, a_, b_, in[0]->numel(), in[0]->ptr(), gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  Activation kind_;
  float a_, b_;
};

// ---- pooling -------------------------------------------------------------------------------------

Shape pooledShape(const Shape& x, int64_t outH, int64_t outW, const std::string& prefix) {
  if (x.size() != 3 && x.size() != 4) shapeError(prefix, "expects a 3-D or 4-D input, got " + formatShape(x));
  if (outH < 1 || outW < 1) shapeError(prefix, "output of input " + formatShape(x) + " would be empty");
  Shape out = x;
  out[out.size() - 2] = outH;
  out[out.size() - 1] = outW;
  return out;
}

struct WindowAttrs {
  std::pair<int64_t, int64_t> kernel, stride, padding, dilation;
  bool ceilMode;
};

WindowAttrs readWindow(const Attrs& attrs, bool withDilation) {
  WindowAttrs w{};
  w.kernel = attrs.pair("kernel_size");
  w.stride = attrs.has("stride") && !(attrs.find("stride")->isArray() && attrs.find("stride")->asArray().empty())
                 ? attrs.pair("stride")
                 : w.kernel;
  w.padding = attrs.pair("padding", 0);
  w.dilation = withDilation ? attrs.pair("dilation", 1) : std::pair<int64_t, int64_t>{1, 1};
  w.ceilMode = attrs.flag("ceil_mode", false);
  if (w.kernel.first <= 0 || w.kernel.second <= 0 || w.stride.first <= 0 || w.stride.second <= 0 ||
      w.dilation.first <= 0 || w.dilation.second <= 0) {
    attrs.fail("kernel_size, stride and dilation must be positive");
  }
  if (w.padding.first < 0 || w.padding.second < 0 || w.padding.first * 2 > w.kernel.first ||
      w.padding.second * 2 > w.kernel.second) {
    attrs.fail("padding must be at most half the kernel size");
  }
  return w;
}

cpu::PoolGeometry windowGeometry(const WindowAttrs& w, const Shape& x) {
  cpu::PoolGeometry g;
  g.inH = x[x.size() - 2];
  g.inW = x[x.size() - 1];
  g.planes = shapeNumel(x) / (g.inH * g.inW);
  g.kernelH = w.kernel.first;
  g.kernelW = w.kernel.second;
  g.strideH = w.stride.first;
  g.strideW = w.stride.second;
  g.padH = w.padding.first;
  g.padW = w.padding.second;
  g.dilationH = w.dilation.first;
  g.dilationW = w.dilation.second;
  g.outH = cpu::pooledExtent(g.inH, g.kernelH, g.padH, g.strideH, g.dilationH, w.ceilMode);
  g.outW = cpu::pooledExtent(g.inW, g.kernelW, g.padW, g.strideW, g.dilationW, w.ceilMode);
  return g;
}

class MaxPool2dOp : public Op {
 public:
  explicit MaxPool2dOp(const Attrs& attrs) : prefix_(where(attrs.node())), w_(readWindow(attrs, true)) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (inputs[0].size() < 3) shapeError(prefix_, "expects a 3-D or 4-D input, got " + formatShape(inputs[0]));
    const cpu::PoolGeometry g = windowGeometry(w_, inputs[0]);
    return pooledShape(inputs[0], g.outH, g.outW, prefix_);
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const cpu::PoolGeometry g = windowGeometry(w_, in[0]->shape);
    indices_.resize(static_cast<size_t>(out.numel()));
    cpu::maxPoolForward(g, in[0]->ptr(), out.ptr(), indices_.data());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) cpu::maxPoolBackward(windowGeometry(w_, in[0]->shape), gradOut.ptr(), indices_.data(), gradIn[0]->ptr());
  }
  /** Flat positions within each input plane of the last forward's maxima. */
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::string prefix_;
  WindowAttrs w_;
  std::vector<int64_t> indices_;
};

class AvgPool2dOp : public Op {
 public:
  explicit AvgPool2dOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        w_(readWindow(attrs, false)),
        countIncludePad_(attrs.flag("count_include_pad", true)),
        divisorOverride_(attrs.integer("divisor_override", 0)) {
    if (divisorOverride_ < 0) attrs.fail("divisor_override must be positive");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (inputs[0].size() < 3) shapeError(prefix_, "expects a 3-D or 4-D input, got " + formatShape(inputs[0]));
    const cpu::PoolGeometry g = windowGeometry(w_, inputs[0]);
    return pooledShape(inputs[0], g.outH, g.outW, prefix_);
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    cpu::avgPoolForward(windowGeometry(w_, in[0]->shape), countIncludePad_, divisorOverride_, in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) {
      cpu::avgPoolBackward(windowGeometry(w_, in[0]->shape), countIncludePad_, divisorOverride_, gradOut.ptr(),
                           gradIn[0]->ptr());
    }
  }

 private:
  std::string prefix_;
  WindowAttrs w_;
  bool countIncludePad_;
  int64_t divisorOverride_;
};

/** Adaptive pooling's output_size: an int or a pair; 0 stands for None (keep the input's extent). */
std::pair<int64_t, int64_t> readOutputSize(const Attrs& attrs) {
  const JsonValue* size = attrs.find("output_size");
  if (size == nullptr) attrs.fail("attribute \"output_size\" is required");
  auto extent = [&](const JsonValue& value) -> int64_t {
    if (value.isNull()) return 0;
    if (!value.isNumber() || value.asNumber() < 1 || std::trunc(value.asNumber()) != value.asNumber()) {
      attrs.fail("output_size entries must be positive integers or null");
    }
    return value.asInt();
  };
  if (size->isArray()) {
    if (size->asArray().size() != 2) attrs.fail("output_size must be an integer or a pair");
    return {extent(size->asArray()[0]), extent(size->asArray()[1])};
  }
  return {extent(*size), extent(*size)};
}

class AdaptiveAvgPool2dOp : public Op {
 public:
  explicit AdaptiveAvgPool2dOp(const Attrs& attrs) : prefix_(where(attrs.node())) {
    const std::pair<int64_t, int64_t> size = readOutputSize(attrs);
    outH_ = size.first;
    outW_ = size.second;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() < 3) shapeError(prefix_, "expects a 3-D or 4-D input, got " + formatShape(x));
    return pooledShape(x, outH_ ? outH_ : x[x.size() - 2], outW_ ? outW_ : x[x.size() - 1], prefix_);
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    cpu::adaptiveAvgPoolForward(geometry(in[0]->shape, out.shape), in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) cpu::adaptiveAvgPoolBackward(geometry(in[0]->shape, out.shape), gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  static cpu::PoolGeometry geometry(const Shape& x, const Shape& y) {
    cpu::PoolGeometry g;
    g.inH = x[x.size() - 2];
    g.inW = x[x.size() - 1];
    g.outH = y[y.size() - 2];
    g.outW = y[y.size() - 1];
    g.planes = shapeNumel(x) / (g.inH * g.inW);
    return g;
  }
  std::string prefix_;
  int64_t outH_ = 0, outW_ = 0;
};

// inputs: [values, the max_pool2d node whose indices place them]
class MaxUnpool2dOp : public Op {
 public:
  explicit MaxUnpool2dOp(const Attrs& attrs) : prefix_(where(attrs.node())) {
    kernel_ = attrs.pair("kernel_size");
    stride_ = attrs.has("stride") ? attrs.pair("stride") : kernel_;
    padding_ = attrs.pair("padding", 0);
    if (attrs.has("output_size")) {
      std::vector<int64_t> size = attrs.ints("output_size");
      if (size.size() < 2) attrs.fail("output_size must end with (H, W)");
      outputSize_ = {size[size.size() - 2], size[size.size() - 1]};
    }
  }
  int arity() const override { return 2; }
  bool differentiable(size_t input) const override { return input == 0; }
  void bindProducers(const std::vector<Op*>& producers) override {
    pool_ = dynamic_cast<MaxPool2dOp*>(producers.size() > 1 ? producers[1] : nullptr);
    if (pool_ == nullptr) shapeError(prefix_, "the second input must be the max_pool2d node whose indices it uses");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() < 3) shapeError(prefix_, "expects a 3-D or 4-D input, got " + formatShape(x));
    if (x != inputs[1]) {
      shapeError(prefix_, "values " + formatShape(x) + " and pooling indices " + formatShape(inputs[1]) + " differ in shape");
    }
    Shape out = x;
    const int64_t h = x[x.size() - 2], w = x[x.size() - 1];
    out[out.size() - 2] = outputSize_ ? outputSize_->first : (h - 1) * stride_.first - 2 * padding_.first + kernel_.first;
    out[out.size() - 1] = outputSize_ ? outputSize_->second : (w - 1) * stride_.second - 2 * padding_.second + kernel_.second;
    if (out[out.size() - 2] < 1 || out[out.size() - 1] < 1) shapeError(prefix_, "output would be empty");
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const std::vector<int64_t>& indices = pool_->indices();
    const int64_t outPlane = out.size(-2) * out.size(-1);
    for (const int64_t index : indices) {
      if (index < 0 || index >= outPlane) {
        shapeError(prefix_, "pooling index " + std::to_string(index) + " lies outside the " + formatShape(out.shape) + " output");
      }
    }
    const int64_t inPlane = in[0]->size(-2) * in[0]->size(-1);
    cpu::maxUnpoolForward(in[0]->numel() / inPlane, inPlane, outPlane, in[0]->ptr(), indices.data(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    const int64_t inPlane = in[0]->size(-2) * in[0]->size(-1);
    const int64_t outPlane = out.size(-2) * out.size(-1);
    cpu::maxUnpoolBackward(in[0]->numel() / inPlane, inPlane, outPlane, gradOut.ptr(), pool_->indices().data(),
                           gradIn[0]->ptr());
  }

 private:
  std::string prefix_;
  std::pair<int64_t, int64_t> kernel_, stride_, padding_;
  std::optional<std::pair<int64_t, int64_t>> outputSize_;
  MaxPool2dOp* pool_ = nullptr;
};

// ---- normalization -------------------------------------------------------------------------------

class BatchNormOp : public Op {
 public:
  BatchNormOp(const Attrs& attrs, bool twoD)
      : prefix_(where(attrs.node())),
        twoD_(twoD),
        features_(attrs.integer("num_features")),
        eps_(static_cast<float>(attrs.number("eps", 1e-5))),
        affine_(attrs.flag("affine", true)),
        track_(attrs.flag("track_running_stats", true)) {
    const JsonValue* momentum = attrs.node().attrs.find("momentum");
    if (momentum != nullptr && momentum->isNull()) {
      cumulative_ = true;  // momentum=None: running stats are a cumulative average
    } else {
      momentum_ = attrs.number("momentum", 0.1);
    }
    if (features_ <= 0) attrs.fail("num_features must be positive");
  }
  std::vector<ParamDecl> params() const override {
    std::vector<ParamDecl> decls;
    if (affine_) {
      decls.push_back({"weight", {features_}, Init::Ones, 1, false});
      decls.push_back({"bias", {features_}, Init::Zeros, 1, false});
    }
    if (track_) {
      decls.push_back({"running_mean", {features_}, Init::Zeros, 1, true});
      decls.push_back({"running_var", {features_}, Init::Ones, 1, true});
      decls.push_back({"num_batches_tracked", {}, Init::Zeros, 1, true});
    }
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    const bool rankOk = twoD_ ? x.size() == 4 : (x.size() == 2 || x.size() == 3);
    if (!rankOk) {
      shapeError(prefix_, std::string("expects a ") + (twoD_ ? "4-D" : "2-D or 3-D") + " input, got " + formatShape(x));
    }
    if (x[1] != features_) {
      shapeError(prefix_, "expects " + std::to_string(features_) + " channels, got " + formatShape(x));
    }
    return x;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out,
               OpContext& context) override {
    const Tensor& x = *in[0];
    const int64_t batch = x.shape[0];
    const int64_t inner = x.numel() / (batch * features_);
    const float* gamma = affine_ ? params[0]->ptr() : nullptr;
    const float* beta = affine_ ? params[1]->ptr() : nullptr;
    const size_t bufferBase = affine_ ? 2 : 0;
    mean_.assign(static_cast<size_t>(features_), 0.0f);
    invStd_.assign(static_cast<size_t>(features_), 0.0f);
    usedBatchStats_ = context.training || !track_;
    if (usedBatchStats_) {
      if (batch * inner <= 1) shapeError(prefix_, "needs more than one value per channel in training, got " + formatShape(x.shape));
      std::vector<float> unbiased(static_cast<size_t>(features_));
      cpu::batchNormForwardTrain(batch, features_, inner, x.ptr(), gamma, beta, eps_, out.ptr(), mean_.data(),
                                 invStd_.data(), unbiased.data());
      if (context.training && track_) {
        Tensor& runningMean = *params[bufferBase];
        Tensor& runningVar = *params[bufferBase + 1];
        Tensor& tracked = *params[bufferBase + 2];
        tracked.data[0] += 1.0f;
        const float factor = cumulative_ ? 1.0f / tracked.data[0] : static_cast<float>(momentum_);
        for (int64_t c = 0; c < features_; ++c) {
          runningMean.data[c] = (1.0f - factor) * runningMean.data[c] + factor * mean_[c];
          runningVar.data[c] = (1.0f - factor) * runningVar.data[c] + factor * unbiased[c];
        }
      }
      return;
    }
    const Tensor& runningMean = *params[bufferBase];
    const Tensor& runningVar = *params[bufferBase + 1];
    for (int64_t c = 0; c < features_; ++c) {
      mean_[c] = runningMean.data[c];
      invStd_[c] = 1.0f / std::sqrt(runningVar.data[c] + eps_);
    }
    cpu::batchNormForwardEval(batch, features_, inner, x.ptr(), gamma, beta, mean_.data(), invStd_.data(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const Tensor& x = *in[0];
    const int64_t batch = x.shape[0];
    const int64_t inner = x.numel() / (batch * features_);
    cpu::batchNormBackward(batch, features_, inner, usedBatchStats_, x.ptr(), affine_ ? params[0]->ptr() : nullptr,
                           mean_.data(), invStd_.data(), gradOut.ptr(), gradIn[0] ? gradIn[0]->ptr() : nullptr,
                           affine_ && gradParams[0] ? gradParams[0]->ptr() : nullptr,
                           affine_ && gradParams[1] ? gradParams[1]->ptr() : nullptr);
  }

 private:
  std::string prefix_;
  bool twoD_;
  int64_t features_;
  float eps_;
  double momentum_ = 0.1;
  bool cumulative_ = false;
  bool affine_, track_;
  bool usedBatchStats_ = true;
  std::vector<float> mean_, invStd_;
};

class LayerNormOp : public Op {
 public:
  explicit LayerNormOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        normalized_(attrs.ints("normalized_shape")),
        eps_(static_cast<float>(attrs.number("eps", 1e-5))),
        affine_(attrs.flag("elementwise_affine", true)),
        bias_(attrs.flag("bias", true)) {
    if (normalized_.empty()) attrs.fail("normalized_shape must not be empty");
    for (const int64_t extent : normalized_) {
      if (extent <= 0) attrs.fail("normalized_shape must hold positive integers");
    }
  }
  std::vector<ParamDecl> params() const override {
    std::vector<ParamDecl> decls;
    if (affine_) {
      decls.push_back({"weight", normalized_, Init::Ones, 1, false});
      if (bias_) decls.push_back({"bias", normalized_, Init::Zeros, 1, false});
    }
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    const bool matches = x.size() >= normalized_.size() &&
                         std::equal(normalized_.begin(), normalized_.end(), x.end() - static_cast<std::ptrdiff_t>(normalized_.size()));
    if (!matches) shapeError(prefix_, "input " + formatShape(x) + " does not end with " + formatShape(normalized_));
    return x;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out, OpContext&) override {
    const int64_t cols = shapeNumel(normalized_);
    const int64_t rows = in[0]->numel() / cols;
    mean_.resize(static_cast<size_t>(rows));
    invStd_.resize(static_cast<size_t>(rows));
    cpu::layerNormForward(rows, cols, in[0]->ptr(), affine_ ? params[0]->ptr() : nullptr,
                          affine_ && bias_ ? params[1]->ptr() : nullptr, eps_, out.ptr(), mean_.data(), invStd_.data());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const int64_t cols = shapeNumel(normalized_);
    const int64_t rows = in[0]->numel() / cols;
    cpu::layerNormBackward(rows, cols, in[0]->ptr(), affine_ ? params[0]->ptr() : nullptr, mean_.data(), invStd_.data(),
                           gradOut.ptr(), gradIn[0] ? gradIn[0]->ptr() : nullptr,
                           affine_ && gradParams[0] ? gradParams[0]->ptr() : nullptr,
                           affine_ && bias_ && gradParams[1] ? gradParams[1]->ptr() : nullptr);
  }

 private:
  std::string prefix_;
  Shape normalized_;
  float eps_;
  bool affine_, bias_;
  std::vector<float> mean_, invStd_;
};

// ---- dropout -------------------------------------------------------------------------------------

class DropoutOp : public Op {
 public:
  explicit DropoutOp(const Attrs& attrs) : p_(attrs.number("p", 0.5)), always_(attrs.flag("always", false)) {
    if (p_ < 0.0 || p_ > 1.0) attrs.fail("p must be in [0, 1]");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override { return inputs[0]; }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext& context) override {
    // `always`: F.dropout's default training=True drops in eval mode too.
    active_ = (context.training || always_) && p_ > 0.0;
    if (!active_) {
      out.data = in[0]->data;
      return;
    }
    // Each kept value is scaled by 1/(1−p), so the expectation is unchanged (PyTorch's inverted dropout).
    const float keptScale = p_ >= 1.0 ? 0.0f : static_cast<float>(1.0 / (1.0 - p_));
    const float p = static_cast<float>(p_);
    mask_.resize(static_cast<size_t>(in[0]->numel()));
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      mask_[i] = context.rng->uniform01() >= p ? keptScale : 0.0f;
      out.data[i] = in[0]->data[i] * mask_[i];
    }
  }
  void backward(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    for (int64_t i = 0; i < gradOut.numel(); ++i) gradIn[0]->data[i] = active_ ? gradOut.data[i] * mask_[i] : gradOut.data[i];
  }

 private:
  double p_;
  bool always_;
  bool active_ = false;
  std::vector<float> mask_;
};

// ---- shape and combination ops -------------------------------------------------------------------

class ViewOp : public Op {
 public:
  using ShapeRule = std::function<Shape(const Shape&)>;
  explicit ViewOp(ShapeRule rule) : rule_(std::move(rule)) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override { return rule_(inputs[0]); }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    out.data = in[0]->data;
  }
  void backward(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) gradIn[0]->data = gradOut.data;
  }

 private:
  ShapeRule rule_;
};

std::unique_ptr<Op> makeFlatten(const Attrs& attrs) {
  const int64_t start = attrs.integer("start_dim", 1);
  const int64_t end = attrs.integer("end_dim", -1);
  const std::string prefix = where(attrs.node());
  return std::make_unique<ViewOp>([=](const Shape& x) {
    if (x.empty()) return Shape{1};
    const int64_t rank = static_cast<int64_t>(x.size());
    const int64_t first = normalizeDim(start, rank, prefix);
    const int64_t last = normalizeDim(end, rank, prefix);
    if (first > last) shapeError(prefix, "start_dim comes after end_dim");
    Shape out(x.begin(), x.begin() + first);
    int64_t merged = 1;
    for (int64_t d = first; d <= last; ++d) merged *= x[d];
    out.push_back(merged);
    out.insert(out.end(), x.begin() + last + 1, x.end());
    return out;
  });
}

std::unique_ptr<Op> makeReshape(const Attrs& attrs) {
  const std::vector<int64_t> target = attrs.ints("shape");
  const std::string prefix = where(attrs.node());
  if (std::count(target.begin(), target.end(), -1) > 1) attrs.fail("shape may hold at most one -1");
  for (const int64_t extent : target) {
    if (extent < -1 || extent == 0) attrs.fail("shape entries must be positive or -1");
  }
  return std::make_unique<ViewOp>([=](const Shape& x) {
    Shape out = target;
    int64_t known = 1;
    for (const int64_t extent : target) known *= extent == -1 ? 1 : extent;
    const int64_t total = shapeNumel(x);
    for (int64_t& extent : out) {
      if (extent == -1) {
        if (total % known != 0) shapeError(prefix, "cannot view " + formatShape(x) + " as " + formatShape(target));
        extent = total / known;
      }
    }
    if (shapeNumel(out) != total) shapeError(prefix, "cannot view " + formatShape(x) + " as " + formatShape(target));
    return out;
  });
}

class CatOp : public Op {
 public:
  explicit CatOp(const Attrs& attrs) : prefix_(where(attrs.node())), dim_(attrs.integer("dim", 0)) {}
  int arity() const override { return -1; }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    Shape out = inputs[0];
    const int64_t dim = normalizeDim(dim_, static_cast<int64_t>(out.size()), prefix_);
    for (size_t k = 1; k < inputs.size(); ++k) {
      const Shape& shape = inputs[k];
      bool compatible = shape.size() == out.size();
      for (size_t d = 0; compatible && d < shape.size(); ++d) {
        compatible = static_cast<int64_t>(d) == dim || shape[d] == out[d];
      }
      if (!compatible) shapeError(prefix_, "cannot concatenate " + formatShape(inputs[0]) + " and " + formatShape(shape));
      out[dim] += shape[dim];
    }
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const Layout layout = layoutOf(out.shape);
    int64_t offset = 0;
    for (const Tensor* input : in) {
      const int64_t row = input->shape[layout.dim] * layout.inner;
      for (int64_t o = 0; o < layout.outer; ++o) {
        std::copy(input->ptr() + o * row, input->ptr() + (o + 1) * row, out.ptr() + o * layout.outRow + offset);
      }
      offset += row;
    }
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    const Layout layout = layoutOf(out.shape);
    int64_t offset = 0;
    for (size_t k = 0; k < in.size(); ++k) {
      const int64_t row = in[k]->shape[layout.dim] * layout.inner;
      if (gradIn[k]) {
        for (int64_t o = 0; o < layout.outer; ++o) {
          const float* source = gradOut.ptr() + o * layout.outRow + offset;
          std::copy(source, source + row, gradIn[k]->ptr() + o * row);
        }
      }
      offset += row;
    }
  }

 private:
  // The output seen as [outer, extent along dim × inner]; each input fills a column band of it.
  struct Layout {
    size_t dim;
    int64_t outer, inner, outRow;
  };
  Layout layoutOf(const Shape& outShape) const {
    const int64_t rank = static_cast<int64_t>(outShape.size());
    Layout layout{static_cast<size_t>(normalizeDim(dim_, rank, prefix_)), 1, 1, 0};
    for (size_t d = 0; d < layout.dim; ++d) layout.outer *= outShape[d];
    for (size_t d = layout.dim + 1; d < outShape.size(); ++d) layout.inner *= outShape[d];
    layout.outRow = outShape[layout.dim] * layout.inner;
    return layout;
  }
  std::string prefix_;
  int64_t dim_;
};

// mean, or sum (`sum`: the same reduction without dividing by the count).
class MeanOp : public Op {
 public:
  explicit MeanOp(const Attrs& attrs, bool sum = false)
      : prefix_(where(attrs.node())), keepDim_(attrs.flag("keepdim", false)), sum_(sum) {
    if (attrs.has("dim")) dims_ = attrs.ints("dim");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const std::vector<bool> reduced = reducedDims(inputs[0]);
    Shape out;
    for (size_t d = 0; d < inputs[0].size(); ++d) {
      if (!reduced[d]) out.push_back(inputs[0][d]);
      else if (keepDim_) out.push_back(1);
    }
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const std::vector<int64_t> target = targets(in[0]->shape);
    std::vector<double> sums(static_cast<size_t>(out.numel()), 0.0);
    for (int64_t i = 0; i < in[0]->numel(); ++i) sums[static_cast<size_t>(target[i])] += in[0]->data[i];
    const double count = sum_ ? 1.0 : static_cast<double>(in[0]->numel()) / static_cast<double>(std::max<int64_t>(1, out.numel()));
    for (int64_t o = 0; o < out.numel(); ++o) out.data[o] = static_cast<float>(sums[o] / count);
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    const std::vector<int64_t> target = targets(in[0]->shape);
    const float scale = sum_ ? 1.0f
                             : static_cast<float>(static_cast<double>(std::max<int64_t>(1, out.numel())) /
                                                  static_cast<double>(in[0]->numel()));
    for (int64_t i = 0; i < in[0]->numel(); ++i) gradIn[0]->data[i] = gradOut.data[target[i]] * scale;
  }

 private:
  std::vector<bool> reducedDims(const Shape& x) const {
    std::vector<bool> reduced(x.size(), dims_.empty());
    for (const int64_t dim : dims_) reduced[static_cast<size_t>(normalizeDim(dim, static_cast<int64_t>(x.size()), prefix_))] = true;
    return reduced;
  }
  // For each input element, the flat index of the output element it contributes to.
  std::vector<int64_t> targets(const Shape& x) const {
    const std::vector<bool> reduced = reducedDims(x);
    const int64_t rank = static_cast<int64_t>(x.size());
    std::vector<int64_t> outStride(x.size(), 0);
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (!reduced[d]) {
        outStride[d] = stride;
        stride *= x[d];
      }
    }
    std::vector<int64_t> result(static_cast<size_t>(shapeNumel(x)));
    std::vector<int64_t> index(x.size(), 0);
    int64_t target = 0;
    for (size_t i = 0; i < result.size(); ++i) {
      result[i] = target;
      for (int64_t d = rank - 1; d >= 0; --d) {
        ++index[d];
        target += outStride[d];
        if (index[d] < x[d]) break;
        target -= outStride[d] * index[d];
        index[d] = 0;
      }
    }
    return result;
  }
  std::string prefix_;
  std::vector<int64_t> dims_;
  bool keepDim_;
  bool sum_;
};

// ---- PReLU, softmax ------------------------------------------------------------------------------

// weight [num_parameters] (PyTorch's default 0.25 each); with more than one, one per channel (dim 1).
class PReluOp : public Op {
 public:
  explicit PReluOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        weights_(attrs.integer("num_parameters", 1)),
        init_(static_cast<float>(attrs.number("init", 0.25))) {
    if (weights_ <= 0) attrs.fail("num_parameters must be positive");
  }
  std::vector<ParamDecl> params() const override {
    ParamDecl weight{"weight", {weights_}, Init::Constant, 1, false};
    weight.constant = init_;
    return {weight};
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (weights_ > 1 && (x.size() < 2 || x[1] != weights_)) {
      shapeError(prefix_, "has " + std::to_string(weights_) + " weights, one per channel, but the input is " + formatShape(x));
    }
    return x;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out, OpContext&) override {
    const Layout l = layout(in[0]->shape);
    cpu::preluForward(l.batch, l.channels, l.inner, in[0]->ptr(), params[0]->ptr(), weights_, out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const Layout l = layout(in[0]->shape);
    cpu::preluBackward(l.batch, l.channels, l.inner, in[0]->ptr(), params[0]->ptr(), weights_, gradOut.ptr(),
                       gradIn[0] ? gradIn[0]->ptr() : nullptr, gradParams[0] ? gradParams[0]->ptr() : nullptr);
  }

 private:
  struct Layout {
    int64_t batch, channels, inner;
  };
  Layout layout(const Shape& x) const {
    const int64_t total = shapeNumel(x);
    if (x.size() < 2) return {1, 1, total};
    return {x[0], x[1], total / std::max<int64_t>(1, x[0] * x[1])};
  }
  std::string prefix_;
  int64_t weights_;
  float init_;
};

// The tensor seen as [outer, extent, inner] around dimension `dim`.
struct AxisLayout {
  int64_t outer = 1, extent = 1, inner = 1;
};
AxisLayout axisLayout(const Shape& x, int64_t dim, const std::string& prefix) {
  AxisLayout l;
  if (x.empty()) return l;
  const size_t axis = static_cast<size_t>(normalizeDim(dim, static_cast<int64_t>(x.size()), prefix));
  for (size_t d = 0; d < axis; ++d) l.outer *= x[d];
  l.extent = x[axis];
  for (size_t d = axis + 1; d < x.size(); ++d) l.inner *= x[d];
  return l;
}

class SoftmaxOp : public Op {
 public:
  SoftmaxOp(const Attrs& attrs, bool logSoftmax)
      : prefix_(where(attrs.node())), dim_(attrs.integer("dim")), log_(logSoftmax) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (!inputs[0].empty()) normalizeDim(dim_, static_cast<int64_t>(inputs[0].size()), prefix_);
    return inputs[0];
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const AxisLayout l = axisLayout(in[0]->shape, dim_, prefix_);
    cpu::softmaxForward(log_, l.outer, l.extent, l.inner, in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    const AxisLayout l = axisLayout(in[0]->shape, dim_, prefix_);
    cpu::softmaxBackward(log_, l.outer, l.extent, l.inner, out.ptr(), gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  std::string prefix_;
  int64_t dim_;
  bool log_;
};

// ---- adaptive max pooling, local response norm ---------------------------------------------------

class AdaptiveMaxPool2dOp : public Op {
 public:
  explicit AdaptiveMaxPool2dOp(const Attrs& attrs) : prefix_(where(attrs.node())) {
    const std::pair<int64_t, int64_t> size = readOutputSize(attrs);
    outH_ = size.first;
    outW_ = size.second;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() < 3) shapeError(prefix_, "expects a 3-D or 4-D input, got " + formatShape(x));
    return pooledShape(x, outH_ ? outH_ : x[x.size() - 2], outW_ ? outW_ : x[x.size() - 1], prefix_);
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    indices_.resize(static_cast<size_t>(out.numel()));
    cpu::adaptiveMaxPoolForward(geometry(in[0]->shape, out.shape), in[0]->ptr(), out.ptr(), indices_.data());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) cpu::maxPoolBackward(geometry(in[0]->shape, out.shape), gradOut.ptr(), indices_.data(), gradIn[0]->ptr());
  }

 private:
  static cpu::PoolGeometry geometry(const Shape& x, const Shape& y) {
    cpu::PoolGeometry g;
    g.inH = x[x.size() - 2];
    g.inW = x[x.size() - 1];
    g.outH = y[y.size() - 2];
    g.outW = y[y.size() - 1];
    g.planes = shapeNumel(x) / (g.inH * g.inW);
    return g;
  }
  std::string prefix_;
  int64_t outH_ = 0, outW_ = 0;
  std::vector<int64_t> indices_;
};

class LocalResponseNormOp : public Op {
 public:
  explicit LocalResponseNormOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        size_(attrs.integer("size")),
        alpha_(static_cast<float>(attrs.number("alpha", 1e-4))),
        beta_(static_cast<float>(attrs.number("beta", 0.75))),
        k_(static_cast<float>(attrs.number("k", 1.0))) {
    if (size_ <= 0) attrs.fail("size must be positive");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (inputs[0].size() < 3) shapeError(prefix_, "expects an input of 3 or more dimensions (N, C, …), got " + formatShape(inputs[0]));
    return inputs[0];
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const Shape& x = in[0]->shape;
    scale_.resize(static_cast<size_t>(in[0]->numel()));
    cpu::lrnForward(x[0], x[1], in[0]->numel() / (x[0] * x[1]), size_, alpha_, beta_, k_, in[0]->ptr(), out.ptr(), scale_.data());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    const Shape& x = in[0]->shape;
    cpu::lrnBackward(x[0], x[1], in[0]->numel() / (x[0] * x[1]), size_, alpha_, beta_, in[0]->ptr(), scale_.data(),
                     gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  std::string prefix_;
  int64_t size_;
  float alpha_, beta_, k_;
  std::vector<float> scale_;
};

// ---- permutation ---------------------------------------------------------------------------------

class PermuteOp : public Op {
 public:
  explicit PermuteOp(const Attrs& attrs) : prefix_(where(attrs.node())), dims_(attrs.ints("dims")) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const std::vector<int64_t> order = resolved(inputs[0]);
    Shape out;
    for (const int64_t d : order) out.push_back(inputs[0][static_cast<size_t>(d)]);
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    cpu::permute(in[0]->shape, resolved(in[0]->shape), in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor& out, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    // The gradient goes back through the inverse permutation.
    const std::vector<int64_t> order = resolved(in[0]->shape);
    std::vector<int64_t> inverse(order.size());
    for (size_t d = 0; d < order.size(); ++d) inverse[static_cast<size_t>(order[d])] = static_cast<int64_t>(d);
    cpu::permute(out.shape, inverse, gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  std::vector<int64_t> resolved(const Shape& x) const {
    const int64_t rank = static_cast<int64_t>(x.size());
    if (static_cast<int64_t>(dims_.size()) != rank) {
      shapeError(prefix_, "dims has " + std::to_string(dims_.size()) + " entries for a rank-" + std::to_string(rank) + " input");
    }
    std::vector<int64_t> order;
    std::vector<bool> seen(x.size(), false);
    for (const int64_t dim : dims_) {
      const int64_t d = normalizeDim(dim, rank, prefix_);
      if (seen[static_cast<size_t>(d)]) shapeError(prefix_, "dims repeats dimension " + std::to_string(dim));
      seen[static_cast<size_t>(d)] = true;
      order.push_back(d);
    }
    return order;
  }
  std::string prefix_;
  std::vector<int64_t> dims_;
};

// ---- element-wise arithmetic with broadcasting ---------------------------------------------------

// add/sub/mul/div of two tensors with NumPy broadcasting, or of one tensor and the number `other`
// (`reverse`: other comes first, as in 1 - x). add also takes several same-shaped tensors (residual
// sums). `alpha` scales the second operand of add/sub, as torch.add(a, b, alpha=…) does.
class ElementwiseOp : public Op {
 public:
  ElementwiseOp(const Attrs& attrs, cpu::Binary op)
      : prefix_(where(attrs.node())),
        op_(op),
        alpha_(static_cast<float>(attrs.number("alpha", 1.0))),
        reverse_(attrs.flag("reverse", false)) {
    if (attrs.has("other")) other_ = static_cast<float>(attrs.number("other", 0.0));
    if (attrs.has("alpha") && op != cpu::Binary::Add && op != cpu::Binary::Sub) attrs.fail("alpha applies to add and sub only");
  }
  int arity() const override { return -1; }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (other_) {
      if (inputs.size() != 1) shapeError(prefix_, "takes one tensor when \"other\" is a number, got " + std::to_string(inputs.size()));
      return inputs[0];
    }
    if (inputs.size() < 2) shapeError(prefix_, "needs two tensors, or one and the number \"other\"");
    if (inputs.size() > 2) {
      if (op_ != cpu::Binary::Add) shapeError(prefix_, "takes two tensors, got " + std::to_string(inputs.size()));
      for (const Shape& shape : inputs) {
        if (shape != inputs[0]) {
          shapeError(prefix_, "inputs " + formatShape(inputs[0]) + " and " + formatShape(shape) +
                                  " differ in shape (more than two inputs must match exactly)");
        }
      }
      return inputs[0];
    }
    return broadcast(inputs[0], inputs[1]).shape;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    if (other_) {
      const float scalar = *other_;
      const cpu::Broadcast b = reverse_ ? broadcast({}, in[0]->shape) : broadcast(in[0]->shape, {});
      cpu::binaryForward(op_, b, alpha_, reverse_ ? &scalar : in[0]->ptr(), reverse_ ? in[0]->ptr() : &scalar, out.ptr());
      return;
    }
    if (in.size() > 2 || (in[0]->shape == in[1]->shape && op_ == cpu::Binary::Add && alpha_ == 1.0f)) {
      out.data = in[0]->data;
      for (size_t k = 1; k < in.size(); ++k) {
        const float* term = in[k]->ptr();
        for (int64_t i = 0; i < out.numel(); ++i) out.data[i] += term[i];
      }
      return;
    }
    cpu::binaryForward(op_, broadcast(in[0]->shape, in[1]->shape), alpha_, in[0]->ptr(), in[1]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (other_) {
      if (!gradIn[0]) return;
      const float scalar = *other_;
      if (reverse_) {
        cpu::binaryBackward(op_, broadcast({}, in[0]->shape), alpha_, &scalar, in[0]->ptr(), gradOut.ptr(), nullptr, 0,
                            gradIn[0]->ptr(), gradIn[0]->numel());
      } else {
        cpu::binaryBackward(op_, broadcast(in[0]->shape, {}), alpha_, in[0]->ptr(), &scalar, gradOut.ptr(), gradIn[0]->ptr(),
                            gradIn[0]->numel(), nullptr, 0);
      }
      return;
    }
    if (in.size() > 2 || (in[0]->shape == in[1]->shape && op_ == cpu::Binary::Add && alpha_ == 1.0f)) {
      for (Tensor* grad : gradIn) {
        if (grad) grad->data = gradOut.data;
      }
      return;
    }
    cpu::binaryBackward(op_, broadcast(in[0]->shape, in[1]->shape), alpha_, in[0]->ptr(), in[1]->ptr(), gradOut.ptr(),
                        gradIn[0] ? gradIn[0]->ptr() : nullptr, in[0]->numel(), gradIn[1] ? gradIn[1]->ptr() : nullptr,
                        in[1]->numel());
  }

 private:
  cpu::Broadcast broadcast(const Shape& a, const Shape& b) const {
    const size_t rank = std::max(a.size(), b.size());
    cpu::Broadcast result;
    result.shape.assign(rank, 1);
    result.aStrides.assign(rank, 0);
    result.bStrides.assign(rank, 0);
    int64_t aStride = 1, bStride = 1;
    for (size_t back = 0; back < rank; ++back) {
      const size_t d = rank - 1 - back;
      const int64_t ae = back < a.size() ? a[a.size() - 1 - back] : 1;
      const int64_t be = back < b.size() ? b[b.size() - 1 - back] : 1;
      if (ae != be && ae != 1 && be != 1) {
        shapeError(prefix_, "cannot broadcast " + formatShape(a) + " with " + formatShape(b));
      }
      result.shape[d] = std::max(ae, be);
      result.aStrides[d] = ae == 1 ? 0 : aStride;
      result.bStrides[d] = be == 1 ? 0 : bStride;
      aStride *= ae;
      bStride *= be;
    }
    return result;
  }
  std::string prefix_;
  cpu::Binary op_;
  float alpha_;
  bool reverse_;
  std::optional<float> other_;
};

// ---- embedding, recurrent layers, indexing -------------------------------------------------------

// weight [num_embeddings, embedding_dim] ~ N(0, 1) with the padding_idx row zero (PyTorch's init);
// the input holds token ids (int64 in the spec, stored as float). That row never gets a gradient.
class EmbeddingOp : public Op {
 public:
  explicit EmbeddingOp(const Attrs& attrs)
      : prefix_(where(attrs.node())),
        count_(attrs.integer("num_embeddings")),
        dim_(attrs.integer("embedding_dim")),
        padding_(attrs.integer("padding_idx", -1)) {
    if (count_ <= 0 || dim_ <= 0) attrs.fail("num_embeddings and embedding_dim must be positive");
    if (attrs.has("padding_idx") && padding_ < 0) padding_ += count_;
    if (attrs.has("padding_idx") && (padding_ < 0 || padding_ >= count_)) attrs.fail("padding_idx must index a row of the table");
    if (attrs.has("max_norm")) attrs.fail("max_norm is not supported");
  }
  bool differentiable(size_t) const override { return false; }
  std::vector<ParamDecl> params() const override {
    ParamDecl weight{"weight", {count_, dim_}, Init::Normal, 1, false};
    weight.zeroRow = padding_;
    return {weight};
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    Shape out = inputs[0];
    out.push_back(dim_);
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out, OpContext&) override {
    const float* table = params[0]->ptr();
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const int64_t row = rowOf(in[0]->data[i]);
      std::copy(table + row * dim_, table + (row + 1) * dim_, out.ptr() + i * dim_);
    }
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>&, const std::vector<Tensor*>& gradParams, OpContext&) override {
    if (!gradParams[0]) return;
    float* grad = gradParams[0]->ptr();
    std::fill(grad, grad + count_ * dim_, 0.0f);
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const int64_t row = rowOf(in[0]->data[i]);
      if (row == padding_) continue;
      for (int64_t j = 0; j < dim_; ++j) grad[row * dim_ + j] += gradOut.data[i * dim_ + j];
    }
  }

 private:
  int64_t rowOf(float id) const {
    const int64_t row = static_cast<int64_t>(id);
    if (static_cast<float>(row) != id || row < 0 || row >= count_) {
      throw std::invalid_argument(prefix_ + "token id " + std::to_string(id) + " is not an integer in [0, " +
                                  std::to_string(count_) + ")");
    }
    return row;
  }
  std::string prefix_;
  int64_t count_, dim_, padding_;
};

// nn.LSTM / nn.GRU from a zero initial state. The node's value is `output`; the final states h_n
// (and c_n) are read by recurrent_state nodes, whose gradients come back through addStateGradient.
class RecurrentOp : public Op {
 public:
  RecurrentOp(const Attrs& attrs, cpu::RecurrentCell cell)
      : prefix_(where(attrs.node())),
        cell_(cell),
        inputSize_(attrs.integer("input_size")),
        hidden_(attrs.integer("hidden_size")),
        layers_(attrs.integer("num_layers", 1)),
        bias_(attrs.flag("bias", true)),
        batchFirst_(attrs.flag("batch_first", false)),
        dropout_(attrs.number("dropout", 0.0)),
        directions_(attrs.flag("bidirectional", false) ? 2 : 1) {
    if (inputSize_ <= 0 || hidden_ <= 0 || layers_ <= 0) attrs.fail("input_size, hidden_size and num_layers must be positive");
    if (attrs.integer("proj_size", 0) != 0) attrs.fail("proj_size is not supported");
    if (dropout_ < 0.0 || dropout_ >= 1.0) attrs.fail("dropout must be in [0, 1)");
  }
  std::vector<ParamDecl> params() const override {
    const int64_t gates = (cell_ == cpu::RecurrentCell::Lstm ? 4 : 3) * hidden_;
    std::vector<ParamDecl> decls;
    for (int64_t layer = 0; layer < layers_; ++layer) {
      for (int64_t direction = 0; direction < directions_; ++direction) {
        const std::string suffix = "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
        // Every weight and bias of PyTorch's recurrent layers is U(−1/√hidden, 1/√hidden).
        decls.push_back({"weight_ih" + suffix, {gates, layerInput(layer)}, Init::FanInUniform, hidden_, false});
        decls.push_back({"weight_hh" + suffix, {gates, hidden_}, Init::FanInUniform, hidden_, false});
        if (bias_) {
          decls.push_back({"bias_ih" + suffix, {gates}, Init::FanInUniform, hidden_, false});
          decls.push_back({"bias_hh" + suffix, {gates}, Init::FanInUniform, hidden_, false});
        }
      }
    }
    return decls;
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.size() != 3 || x[2] != inputSize_ || x[0] < 1 || x[1] < 1) {
      shapeError(prefix_, std::string("expects a 3-D input (") + (batchFirst_ ? "batch, steps" : "steps, batch") + ", " +
                              std::to_string(inputSize_) + ") with at least one step, got " + formatShape(x));
    }
    return {x[0], x[1], directions_ * hidden_};
  }
  /** h_n / c_n's shape for an input of this shape. */
  Shape stateShape(const Shape& output) const { return {layers_ * directions_, batchFirst_ ? output[0] : output[1], hidden_}; }
  const Tensor& state(bool cell) const { return cell ? cN_ : hN_; }
  void addStateGradient(bool cell, const Tensor& gradient) {
    Tensor& target = cell ? dcN_ : dhN_;
    for (int64_t i = 0; i < target.numel(); ++i) target.data[i] += gradient.data[i];
  }

  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& params, Tensor& out,
               OpContext& context) override {
    const Shape& x = in[0]->shape;
    steps_ = batchFirst_ ? x[1] : x[0];
    batch_ = batchFirst_ ? x[0] : x[1];
    const Shape state{layers_ * directions_, batch_, hidden_};
    hN_ = Tensor(state);
    cN_ = Tensor(state);
    dhN_ = Tensor(state);
    dcN_ = Tensor(state);
    layerInputs_.assign(static_cast<size_t>(layers_), Tensor());
    layerInputs_[0] = timeMajor(*in[0]);
    directionOutputs_.assign(static_cast<size_t>(layers_ * directions_), Tensor());
    saved_.assign(static_cast<size_t>(layers_ * directions_), cpu::RecurrentSaved());
    masks_.assign(static_cast<size_t>(layers_), std::vector<float>());
    const int64_t plane = batch_ * hidden_;
    Tensor layerOutput;
    for (int64_t layer = 0; layer < layers_; ++layer) {
      layerOutput = Tensor({steps_, batch_, directions_ * hidden_});
      for (int64_t direction = 0; direction < directions_; ++direction) {
        const size_t k = static_cast<size_t>(layer * directions_ + direction);
        Tensor& y = directionOutputs_[k];
        y = Tensor({steps_, batch_, hidden_});
        const Weights w = weights(params, layer, direction);
        cpu::recurrentForward(geometry(layer, direction), layerInputs_[layer].ptr(), w.ih, w.hh, w.bih, w.bhh, y.ptr(),
                              hN_.ptr() + k * plane, cN_.ptr() + k * plane, saved_[k]);
        interleave(y, direction, layerOutput);
      }
      if (layer + 1 < layers_) {
        // Dropout between layers, in training only (as nn.LSTM/nn.GRU's dropout argument).
        if (context.training && dropout_ > 0.0) {
          std::vector<float>& mask = masks_[static_cast<size_t>(layer)];
          mask.resize(static_cast<size_t>(layerOutput.numel()));
          const float keep = static_cast<float>(1.0 / (1.0 - dropout_));
          for (int64_t i = 0; i < layerOutput.numel(); ++i) {
            mask[i] = context.rng->uniform01() >= static_cast<float>(dropout_) ? keep : 0.0f;
            layerOutput.data[i] *= mask[i];
          }
        }
        layerInputs_[layer + 1] = std::move(layerOutput);
      }
    }
    fromTimeMajor(layerOutput, out);
  }

  void backward(const std::vector<const Tensor*>&, const std::vector<Tensor*>& params, const Tensor&,
                const Tensor& gradOut, const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>& gradParams,
                OpContext&) override {
    const int64_t plane = batch_ * hidden_;
    Tensor dLayerOutput = timeMajor(gradOut);
    for (int64_t layer = layers_ - 1; layer >= 0; --layer) {
      const Tensor& input = layerInputs_[static_cast<size_t>(layer)];
      Tensor dInput(input.shape);
      Tensor dDirection({steps_, batch_, hidden_});
      Tensor dPart(input.shape);
      for (int64_t direction = 0; direction < directions_; ++direction) {
        const size_t k = static_cast<size_t>(layer * directions_ + direction);
        const Weights w = weights(params, layer, direction);
        const size_t base = static_cast<size_t>(layer * directions_ + direction) * (bias_ ? 4 : 2);
        deinterleave(dLayerOutput, direction, dDirection);
        cpu::recurrentBackward(geometry(layer, direction), input.ptr(), w.ih, w.hh, directionOutputs_[k].ptr(), saved_[k],
                               dDirection.ptr(), dhN_.ptr() + k * plane,
                               cell_ == cpu::RecurrentCell::Lstm ? dcN_.ptr() + k * plane : nullptr, dPart.ptr(),
                               gradParams[base] ? gradParams[base]->ptr() : nullptr,
                               gradParams[base + 1] ? gradParams[base + 1]->ptr() : nullptr,
                               bias_ && gradParams[base + 2] ? gradParams[base + 2]->ptr() : nullptr,
                               bias_ && gradParams[base + 3] ? gradParams[base + 3]->ptr() : nullptr);
        for (int64_t i = 0; i < dInput.numel(); ++i) dInput.data[i] += dPart.data[i];
      }
      if (layer > 0) {
        const std::vector<float>& mask = masks_[static_cast<size_t>(layer - 1)];
        if (!mask.empty()) {
          for (int64_t i = 0; i < dInput.numel(); ++i) dInput.data[i] *= mask[i];
        }
        dLayerOutput = std::move(dInput);
      } else if (gradIn[0]) {
        fromTimeMajor(dInput, *gradIn[0]);
      }
    }
  }

 private:
  struct Weights {
    const float *ih, *hh, *bih, *bhh;
  };
  Weights weights(const std::vector<Tensor*>& params, int64_t layer, int64_t direction) const {
    const size_t base = static_cast<size_t>(layer * directions_ + direction) * (bias_ ? 4 : 2);
    return {params[base]->ptr(), params[base + 1]->ptr(), bias_ ? params[base + 2]->ptr() : nullptr,
            bias_ ? params[base + 3]->ptr() : nullptr};
  }
  int64_t layerInput(int64_t layer) const { return layer == 0 ? inputSize_ : directions_ * hidden_; }
  cpu::RecurrentGeometry geometry(int64_t layer, int64_t direction) const {
    cpu::RecurrentGeometry g;
    g.cell = cell_;
    g.steps = steps_;
    g.batch = batch_;
    g.inputSize = layerInput(layer);
    g.hiddenSize = hidden_;
    g.reverse = direction == 1;
    return g;
  }
  // [batch, steps, f] → [steps, batch, f] when batch_first (a copy otherwise).
  Tensor timeMajor(const Tensor& x) const {
    if (!batchFirst_) return x;
    Tensor result({x.shape[1], x.shape[0], x.shape[2]});
    cpu::permute(x.shape, {1, 0, 2}, x.ptr(), result.ptr());
    return result;
  }
  void fromTimeMajor(const Tensor& x, Tensor& out) const {
    if (!batchFirst_) {
      out.data = x.data;
      return;
    }
    cpu::permute(x.shape, {1, 0, 2}, x.ptr(), out.ptr());
  }
  // A direction's [steps, batch, hidden] is its half of [steps, batch, directions·hidden].
  void interleave(const Tensor& y, int64_t direction, Tensor& output) const {
    const int64_t rows = steps_ * batch_;
    for (int64_t r = 0; r < rows; ++r) {
      std::copy(y.ptr() + r * hidden_, y.ptr() + (r + 1) * hidden_, output.ptr() + r * directions_ * hidden_ + direction * hidden_);
    }
  }
  void deinterleave(const Tensor& output, int64_t direction, Tensor& y) const {
    const int64_t rows = steps_ * batch_;
    for (int64_t r = 0; r < rows; ++r) {
      const float* source = output.ptr() + r * directions_ * hidden_ + direction * hidden_;
      std::copy(source, source + hidden_, y.ptr() + r * hidden_);
    }
  }
  std::string prefix_;
  cpu::RecurrentCell cell_;
  int64_t inputSize_, hidden_, layers_;
  bool bias_, batchFirst_;
  double dropout_;
  int64_t directions_;
  int64_t steps_ = 0, batch_ = 0;
  Tensor hN_, cN_, dhN_, dcN_;
  std::vector<Tensor> layerInputs_, directionOutputs_;
  std::vector<cpu::RecurrentSaved> saved_;
  std::vector<std::vector<float>> masks_;
};

// input: the lstm/gru node; value: its h_n (state "h") or c_n (state "c").
class RecurrentStateOp : public Op {
 public:
  explicit RecurrentStateOp(const Attrs& attrs) : prefix_(where(attrs.node())), cell_(attrs.text("state", "h") == "c") {
    const std::string state = attrs.text("state", "h");
    if (state != "h" && state != "c") attrs.fail("state must be \"h\" or \"c\"");
  }
  void bindProducers(const std::vector<Op*>& producers) override {
    source_ = dynamic_cast<RecurrentOp*>(producers.empty() ? nullptr : producers[0]);
    if (source_ == nullptr) shapeError(prefix_, "the input must be an lstm or gru node");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override { return source_->stateShape(inputs[0]); }
  void forward(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    out.data = source_->state(cell_).data;
  }
  void backward(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    source_->addStateGradient(cell_, gradOut);
    // The recurrent node's own value (output) gets nothing from here, but its backward must run.
    if (gradIn[0]) gradIn[0]->fill(0.0f);
  }

 private:
  std::string prefix_;
  bool cell_;
  RecurrentOp* source_ = nullptr;
};

// x[..., index, ...] along `dim` (that dimension disappears), as integer indexing and torch.select.
class SelectOp : public Op {
 public:
  explicit SelectOp(const Attrs& attrs)
      : prefix_(where(attrs.node())), dim_(attrs.integer("dim", 0)), index_(attrs.integer("index")) {}
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.empty()) shapeError(prefix_, "cannot index a 0-D tensor");
    const size_t d = static_cast<size_t>(normalizeDim(dim_, static_cast<int64_t>(x.size()), prefix_));
    if (index_ < -x[d] || index_ >= x[d]) {
      shapeError(prefix_, "index " + std::to_string(index_) + " is out of range for dimension " + std::to_string(dim_) +
                              " of " + formatShape(x));
    }
    Shape out = x;
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(d));
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const Slab s = slab(in[0]->shape);
    for (int64_t o = 0; o < s.outer; ++o) {
      const float* source = in[0]->ptr() + (o * s.extent + s.index) * s.inner;
      std::copy(source, source + s.inner, out.ptr() + o * s.inner);
    }
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    gradIn[0]->fill(0.0f);
    const Slab s = slab(in[0]->shape);
    for (int64_t o = 0; o < s.outer; ++o) {
      std::copy(gradOut.ptr() + o * s.inner, gradOut.ptr() + (o + 1) * s.inner, gradIn[0]->ptr() + (o * s.extent + s.index) * s.inner);
    }
  }

 private:
  struct Slab {
    int64_t outer, extent, inner, index;
  };
  Slab slab(const Shape& x) const {
    const AxisLayout l = axisLayout(x, dim_, prefix_);
    return {l.outer, l.extent, l.inner, index_ < 0 ? index_ + l.extent : index_};
  }
  std::string prefix_;
  int64_t dim_, index_;
};

// F.interpolate / nn.Upsample on 4-D inputs: mode "nearest" or "bilinear" (align_corners), to
// `size` [H, W]; `scale_factor` [h, w], when the user gave one, maps coordinates as PyTorch does.
class InterpolateOp : public Op {
 public:
  explicit InterpolateOp(const Attrs& attrs) : prefix_(where(attrs.node())) {
    const std::string mode = attrs.text("mode", "nearest");
    if (mode != "nearest" && mode != "bilinear") attrs.fail("mode must be \"nearest\" or \"bilinear\"");
    bilinear_ = mode == "bilinear";
    alignCorners_ = attrs.flag("align_corners", false);
    if (alignCorners_ && !bilinear_) attrs.fail("align_corners applies to bilinear only");
    size_ = attrs.pair("size");
    if (size_.first <= 0 || size_.second <= 0) attrs.fail("size must be positive");
    if (attrs.has("scale_factor")) {
      const JsonValue& factor = *attrs.find("scale_factor");
      std::vector<double> values;
      if (factor.isNumber()) values = {factor.asNumber(), factor.asNumber()};
      if (factor.isArray()) {
        for (const JsonValue& item : factor.asArray()) values.push_back(item.isNumber() ? item.asNumber() : 0.0);
      }
      if (values.size() != 2 || values[0] <= 0.0 || values[1] <= 0.0) attrs.fail("scale_factor must be a positive number or pair");
      scale_ = {values[0], values[1]};
    }
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    if (inputs[0].size() != 4) shapeError(prefix_, "expects a 4-D input (N, C, H, W), got " + formatShape(inputs[0]));
    return pooledShape(inputs[0], size_.first, size_.second, prefix_);
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    cpu::resizeForward(geometry(in[0]->shape), in[0]->ptr(), out.ptr());
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (gradIn[0]) cpu::resizeBackward(geometry(in[0]->shape), gradOut.ptr(), gradIn[0]->ptr());
  }

 private:
  cpu::ResizeGeometry geometry(const Shape& x) const {
    cpu::ResizeGeometry g;
    g.bilinear = bilinear_;
    g.alignCorners = alignCorners_;
    g.planes = x[0] * x[1];
    g.inH = x[2];
    g.inW = x[3];
    g.outH = size_.first;
    g.outW = size_.second;
    g.scaleH = scale_.first;
    g.scaleW = scale_.second;
    return g;
  }
  std::string prefix_;
  bool bilinear_ = false, alignCorners_ = false;
  std::pair<int64_t, int64_t> size_;
  std::pair<double, double> scale_{0.0, 0.0};
};

// x.narrow(dim, start, length): the pieces of chunk and split.
class NarrowOp : public Op {
 public:
  explicit NarrowOp(const Attrs& attrs)
      : prefix_(where(attrs.node())), dim_(attrs.integer("dim", 0)), start_(attrs.integer("start")), length_(attrs.integer("length")) {
    if (start_ < 0 || length_ <= 0) attrs.fail("start must be non-negative and length positive");
  }
  Shape outputShape(const std::vector<Shape>& inputs) const override {
    const Shape& x = inputs[0];
    if (x.empty()) shapeError(prefix_, "cannot narrow a 0-D tensor");
    const size_t d = static_cast<size_t>(normalizeDim(dim_, static_cast<int64_t>(x.size()), prefix_));
    if (start_ + length_ > x[d]) {
      shapeError(prefix_, "[" + std::to_string(start_) + ", " + std::to_string(start_ + length_) + ") lies outside dimension " +
                              std::to_string(dim_) + " of " + formatShape(x));
    }
    Shape out = x;
    out[d] = length_;
    return out;
  }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const AxisLayout l = axisLayout(in[0]->shape, dim_, prefix_);
    const int64_t piece = length_ * l.inner;
    for (int64_t o = 0; o < l.outer; ++o) {
      const float* source = in[0]->ptr() + (o * l.extent + start_) * l.inner;
      std::copy(source, source + piece, out.ptr() + o * piece);
    }
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    if (!gradIn[0]) return;
    gradIn[0]->fill(0.0f);
    const AxisLayout l = axisLayout(in[0]->shape, dim_, prefix_);
    const int64_t piece = length_ * l.inner;
    for (int64_t o = 0; o < l.outer; ++o) {
      std::copy(gradOut.ptr() + o * piece, gradOut.ptr() + (o + 1) * piece, gradIn[0]->ptr() + (o * l.extent + start_) * l.inner);
    }
  }

 private:
  std::string prefix_;
  int64_t dim_, start_, length_;
};

// a @ b for tensors of rank ≥ 2: matrix products over the last two dimensions, the leading (batch)
// dimensions broadcast as torch.matmul does. 1-D operands are not supported.
class MatmulOp : public Op {
 public:
  explicit MatmulOp(const Attrs& attrs) : prefix_(where(attrs.node())) {}
  int arity() const override { return 2; }
  Shape outputShape(const std::vector<Shape>& inputs) const override { return plan(inputs[0], inputs[1]).out; }
  void forward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, Tensor& out, OpContext&) override {
    const Plan p = plan(in[0]->shape, in[1]->shape);
    for (int64_t k = 0; k < p.batches; ++k) {
      cpu::gemm(false, false, p.m, p.n, p.k, in[0]->ptr() + p.aOffset[k], p.k, in[1]->ptr() + p.bOffset[k], p.n, 0.0f,
                out.ptr() + k * p.m * p.n, p.n, p.m * p.n * p.k > 32768);
    }
  }
  void backward(const std::vector<const Tensor*>& in, const std::vector<Tensor*>&, const Tensor&, const Tensor& gradOut,
                const std::vector<Tensor*>& gradIn, const std::vector<Tensor*>&, OpContext&) override {
    const Plan p = plan(in[0]->shape, in[1]->shape);
    // A broadcast operand's matrices receive the sum over the batches that shared them.
    if (gradIn[0]) gradIn[0]->fill(0.0f);
    if (gradIn[1]) gradIn[1]->fill(0.0f);
    const bool parallel = p.m * p.n * p.k > 32768;
    for (int64_t k = 0; k < p.batches; ++k) {
      const float* dy = gradOut.ptr() + k * p.m * p.n;
      if (gradIn[0]) {
        cpu::gemm(false, true, p.m, p.k, p.n, dy, p.n, in[1]->ptr() + p.bOffset[k], p.n, 1.0f, gradIn[0]->ptr() + p.aOffset[k], p.k,
                  parallel);
      }
      if (gradIn[1]) {
        cpu::gemm(true, false, p.k, p.n, p.m, in[0]->ptr() + p.aOffset[k], p.k, dy, p.n, 1.0f, gradIn[1]->ptr() + p.bOffset[k], p.n,
                  parallel);
      }
    }
  }

 private:
  struct Plan {
    Shape out;
    int64_t m = 1, k = 1, n = 1, batches = 1;
    std::vector<int64_t> aOffset, bOffset;  // per output batch, the first element of each operand's matrix
  };
  Plan plan(const Shape& a, const Shape& b) const {
    if (a.size() < 2 || b.size() < 2) {
      shapeError(prefix_, "needs operands of 2 or more dimensions, got " + formatShape(a) + " and " + formatShape(b));
    }
    Plan p;
    p.m = a[a.size() - 2];
    p.k = a.back();
    p.n = b.back();
    if (b[b.size() - 2] != p.k) shapeError(prefix_, "cannot multiply " + formatShape(a) + " by " + formatShape(b));
    const Shape aBatch(a.begin(), a.end() - 2), bBatch(b.begin(), b.end() - 2);
    const size_t rank = std::max(aBatch.size(), bBatch.size());
    Shape batch(rank, 1);
    std::vector<int64_t> aStride(rank, 0), bStride(rank, 0);
    int64_t aStep = p.m * p.k, bStep = p.k * p.n;
    for (size_t back = 0; back < rank; ++back) {
      const size_t d = rank - 1 - back;
      const int64_t ae = back < aBatch.size() ? aBatch[aBatch.size() - 1 - back] : 1;
      const int64_t be = back < bBatch.size() ? bBatch[bBatch.size() - 1 - back] : 1;
      if (ae != be && ae != 1 && be != 1) shapeError(prefix_, "cannot broadcast the batches of " + formatShape(a) + " and " + formatShape(b));
      batch[d] = std::max(ae, be);
      aStride[d] = ae == 1 ? 0 : aStep;
      bStride[d] = be == 1 ? 0 : bStep;
      aStep *= ae;
      bStep *= be;
    }
    p.batches = shapeNumel(batch);
    std::vector<int64_t> index(rank, 0);
    for (int64_t k = 0; k < p.batches; ++k) {
      int64_t ao = 0, bo = 0;
      for (size_t d = 0; d < rank; ++d) {
        ao += index[d] * aStride[d];
        bo += index[d] * bStride[d];
      }
      p.aOffset.push_back(ao);
      p.bOffset.push_back(bo);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < batch[d]) break;
        index[d] = 0;
      }
    }
    p.out = batch;
    p.out.push_back(p.m);
    p.out.push_back(p.n);
    return p;
  }
  std::string prefix_;
};

// ---- registry ------------------------------------------------------------------------------------

using Factory = std::function<std::unique_ptr<Op>(const Attrs&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"conv2d", [](const Attrs& a) { return std::make_unique<Conv2dOp>(a); }},
      {"conv_transpose2d", [](const Attrs& a) { return std::make_unique<ConvTranspose2dOp>(a); }},
      {"linear", [](const Attrs& a) { return std::make_unique<LinearOp>(a); }},
      {"relu", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Relu); }},
      {"relu6", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Relu6); }},
      {"leaky_relu",
       [](const Attrs& a) {
         return std::make_unique<ActivationOp>(Activation::LeakyRelu, static_cast<float>(a.number("negative_slope", 0.01)));
       }},
      {"gelu",
       [](const Attrs& a) {
         const std::string approximate = a.text("approximate", "none");
         if (approximate != "none" && approximate != "tanh") a.fail("approximate must be \"none\" or \"tanh\"");
         return std::make_unique<ActivationOp>(approximate == "tanh" ? Activation::GeluTanh : Activation::Gelu, 0.0f);
       }},
      {"silu", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Silu); }},
      {"sigmoid", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Sigmoid); }},
      {"tanh", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Tanh); }},
      {"hardswish", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Hardswish); }},
      {"elu", [](const Attrs& a) { return std::make_unique<ActivationOp>(Activation::Elu, a.real("alpha", 1.0)); }},
      {"selu", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Selu); }},
      {"celu",
       [](const Attrs& a) {
         const float alpha = a.real("alpha", 1.0);
         if (alpha == 0.0f) a.fail("alpha must not be zero");
         return std::make_unique<ActivationOp>(Activation::Celu, alpha);
       }},
      {"softplus",
       [](const Attrs& a) {
         const float beta = a.real("beta", 1.0);
         if (beta == 0.0f) a.fail("beta must not be zero");
         return std::make_unique<ActivationOp>(Activation::Softplus, beta, a.real("threshold", 20.0));
       }},
      {"hardsigmoid", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Hardsigmoid); }},
      {"hardtanh",
       [](const Attrs& a) {
         const float low = a.real("min_val", -1.0), high = a.real("max_val", 1.0);
         if (low > high) a.fail("min_val must not exceed max_val");
         return std::make_unique<ActivationOp>(Activation::Hardtanh, low, high);
       }},
      {"mish", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Mish); }},
      {"softsign", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Softsign); }},
      {"logsigmoid", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::LogSigmoid); }},
      {"tanhshrink", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Tanhshrink); }},
      {"softshrink",
       [](const Attrs& a) {
         const float lambd = a.real("lambd", 0.5);
         if (lambd < 0.0f) a.fail("lambd must not be negative");
         return std::make_unique<ActivationOp>(Activation::Softshrink, lambd);
       }},
      {"hardshrink", [](const Attrs& a) { return std::make_unique<ActivationOp>(Activation::Hardshrink, a.real("lambd", 0.5)); }},
      {"exp", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Exp); }},
      {"log", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Log); }},
      {"sqrt", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Sqrt); }},
      {"rsqrt", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Rsqrt); }},
      {"abs", [](const Attrs&) { return std::make_unique<ActivationOp>(Activation::Abs); }},
      {"pow", [](const Attrs& a) { return std::make_unique<ActivationOp>(Activation::Pow, a.real("exponent", 1.0)); }},
      {"clamp",
       [](const Attrs& a) {
         const double infinity = std::numeric_limits<double>::infinity();
         const float low = a.real("min", -infinity), high = a.real("max", infinity);
         if (!a.has("min") && !a.has("max")) a.fail("needs min or max");
         return std::make_unique<ActivationOp>(Activation::Clamp, low, high);
       }},
      {"prelu", [](const Attrs& a) { return std::make_unique<PReluOp>(a); }},
      {"softmax", [](const Attrs& a) { return std::make_unique<SoftmaxOp>(a, false); }},
      {"log_softmax", [](const Attrs& a) { return std::make_unique<SoftmaxOp>(a, true); }},
      {"adaptive_max_pool2d", [](const Attrs& a) { return std::make_unique<AdaptiveMaxPool2dOp>(a); }},
      {"local_response_norm", [](const Attrs& a) { return std::make_unique<LocalResponseNormOp>(a); }},
      {"permute", [](const Attrs& a) { return std::make_unique<PermuteOp>(a); }},
      {"embedding", [](const Attrs& a) { return std::make_unique<EmbeddingOp>(a); }},
      {"lstm", [](const Attrs& a) { return std::make_unique<RecurrentOp>(a, cpu::RecurrentCell::Lstm); }},
      {"gru", [](const Attrs& a) { return std::make_unique<RecurrentOp>(a, cpu::RecurrentCell::Gru); }},
      {"recurrent_state", [](const Attrs& a) { return std::make_unique<RecurrentStateOp>(a); }},
      {"select", [](const Attrs& a) { return std::make_unique<SelectOp>(a); }},
      {"interpolate", [](const Attrs& a) { return std::make_unique<InterpolateOp>(a); }},
      {"max_pool2d", [](const Attrs& a) { return std::make_unique<MaxPool2dOp>(a); }},
      {"avg_pool2d", [](const Attrs& a) { return std::make_unique<AvgPool2dOp>(a); }},
      {"adaptive_avg_pool2d", [](const Attrs& a) { return std::make_unique<AdaptiveAvgPool2dOp>(a); }},
      {"max_unpool2d", [](const Attrs& a) { return std::make_unique<MaxUnpool2dOp>(a); }},
      {"batch_norm2d", [](const Attrs& a) { return std::make_unique<BatchNormOp>(a, true); }},
      {"batch_norm1d", [](const Attrs& a) { return std::make_unique<BatchNormOp>(a, false); }},
      {"layer_norm", [](const Attrs& a) { return std::make_unique<LayerNormOp>(a); }},
      {"dropout", [](const Attrs& a) { return std::make_unique<DropoutOp>(a); }},
      {"flatten", [](const Attrs& a) { return makeFlatten(a); }},
      {"reshape", [](const Attrs& a) { return makeReshape(a); }},
      {"identity", [](const Attrs&) { return std::make_unique<ViewOp>([](const Shape& x) { return x; }); }},
      {"add", [](const Attrs& a) { return std::make_unique<ElementwiseOp>(a, cpu::Binary::Add); }},
      {"sub", [](const Attrs& a) { return std::make_unique<ElementwiseOp>(a, cpu::Binary::Sub); }},
      {"mul", [](const Attrs& a) { return std::make_unique<ElementwiseOp>(a, cpu::Binary::Mul); }},
      {"div", [](const Attrs& a) { return std::make_unique<ElementwiseOp>(a, cpu::Binary::Div); }},
      {"cat", [](const Attrs& a) { return std::make_unique<CatOp>(a); }},
      {"mean", [](const Attrs& a) { return std::make_unique<MeanOp>(a); }},
      {"sum", [](const Attrs& a) { return std::make_unique<MeanOp>(a, true); }},
      {"narrow", [](const Attrs& a) { return std::make_unique<NarrowOp>(a); }},
      {"matmul", [](const Attrs& a) { return std::make_unique<MatmulOp>(a); }},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& supportedOps() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const auto& entry : factories()) result.push_back(entry.first);
    return result;
  }();
  return names;
}

std::unique_ptr<Op> createOp(const NodeSpec& node) {
  const auto& table = factories();
  const auto found = table.find(node.op);
  if (found == table.end()) {
    std::string known;
    for (const std::string& name : supportedOps()) known += (known.empty() ? "" : ", ") + name;
    throw SpecError("node \"" + node.id + "\": unknown op \"" + node.op + "\" (the engine runs: " + known + ")");
  }
  return found->second(Attrs(node));
}

}  // namespace netlens
