// The CUDA executor (see cuda_executor.h). Host code only: kernels live in cuda_kernels.cu, cuDNN and
// cuBLAS are called through the dlopen'ed tables of cuda_libraries.h.
#include "cuda_executor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "cuda_backend.h"

#ifdef NETLENS_WITH_CUDNN

#include "autotune_cache.h"
#include "cuda_kernels.h"
#include "optimizer_setup.h"
#include "cuda_libraries.h"
#include "netlens/optimizer.h"
#include "ops.h"

namespace netlens::cuda {
namespace {

constexpr size_t kAlignment = 256;
constexpr uint64_t kCublasWorkspaceBytes = 32ull << 20;
constexpr int64_t kOptimizerChunk = 1 << 16;
constexpr uint64_t kDropoutStream = 0x9E3779B97F4A7C15ull;

std::string mib(uint64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

void check(cudaError_t status, const std::string& call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw CudaError(call + " failed: " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

void checkCudnn(cudnnStatus_t status, const std::string& call) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  throw CudaError(call + " failed: " + cudnnApi().getErrorString(status));
}

void checkCublas(int status, const std::string& call) {
  if (status == 0) return;
  throw CudaError(call + " failed: " + cublasApi().statusString(status));
}

// ---- attributes (the CPU op already validated them; these only read) -----------------------------

const JsonValue* attr(const NodeSpec& node, const std::string& key) {
  const JsonValue* value = node.attrs.find(key);
  return (value == nullptr || value->isNull()) ? nullptr : value;
}

std::vector<int64_t> attrInts(const NodeSpec& node, const std::string& key, std::vector<int64_t> fallback) {
  const JsonValue* value = attr(node, key);
  if (value == nullptr) return fallback;
  if (value->isNumber()) return {value->asInt()};
  std::vector<int64_t> result;
  if (value->isArray()) {
    for (const JsonValue& item : value->asArray()) result.push_back(item.asInt());
  }
  return result.empty() ? fallback : result;
}

std::pair<int, int> attrPair(const NodeSpec& node, const std::string& key, std::pair<int, int> fallback) {
  const std::vector<int64_t> values = attrInts(node, key, {fallback.first, fallback.second});
  if (values.size() == 1) return {static_cast<int>(values[0]), static_cast<int>(values[0])};
  return {static_cast<int>(values[0]), static_cast<int>(values[1])};
}

double attrNumber(const NodeSpec& node, const std::string& key, double fallback) {
  const JsonValue* value = attr(node, key);
  return value != nullptr && value->isNumber() ? value->asNumber() : fallback;
}

bool attrFlag(const NodeSpec& node, const std::string& key, bool fallback) {
  const JsonValue* value = attr(node, key);
  return value != nullptr && value->isBool() ? value->asBool() : fallback;
}

std::string attrText(const NodeSpec& node, const std::string& key, const std::string& fallback) {
  const JsonValue* value = attr(node, key);
  return value != nullptr && value->isString() ? value->asString() : fallback;
}

int64_t pooledExtent(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation, bool ceilMode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= in + pad) --out;
  return out;
}

enum class Kind { Conv, Linear, Activation, MaxPool, AvgPool, AdaptiveAvgPool, BatchNorm, View, Add, Dropout };

const std::map<std::string, Kind>& supportedKinds() {
  static const std::map<std::string, Kind> kinds{
      {"conv2d", Kind::Conv},         {"linear", Kind::Linear},         {"relu", Kind::Activation},
      {"relu6", Kind::Activation},    {"leaky_relu", Kind::Activation}, {"sigmoid", Kind::Activation},
      {"tanh", Kind::Activation},     {"silu", Kind::Activation},       {"gelu", Kind::Activation},
      {"max_pool2d", Kind::MaxPool},  {"avg_pool2d", Kind::AvgPool},    {"adaptive_avg_pool2d", Kind::AdaptiveAvgPool},
      {"batch_norm2d", Kind::BatchNorm}, {"batch_norm1d", Kind::BatchNorm}, {"flatten", Kind::View},
      {"reshape", Kind::View},        {"identity", Kind::View},         {"add", Kind::Add},
      {"dropout", Kind::Dropout}};
  return kinds;
}

std::string supportedList() {
  std::string list;
  for (const auto& [name, kind] : supportedKinds()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

struct ConvAlgorithms {
  cudnnConvolutionFwdAlgo_t forward{};
  cudnnConvolutionBwdDataAlgo_t backwardData{};
  cudnnConvolutionBwdFilterAlgo_t backwardFilter{};
  size_t forwardBytes = 0, backwardDataBytes = 0, backwardFilterBytes = 0;
  // The heuristics' math type per direction (restored when autotuning a direction fails), where each
  // choice came from ("heuristic", "timed", "cache") and cuDNN's timing of it.
  cudnnMathType_t heuristicMath[3] = {CUDNN_FMA_MATH, CUDNN_FMA_MATH, CUDNN_FMA_MATH};
  std::string source[3] = {"heuristic", "heuristic", "heuristic"};
  double milliseconds[3] = {0.0, 0.0, 0.0};
};

constexpr ConvolutionDirection kDirections[3] = {ConvolutionDirection::Forward, ConvolutionDirection::BackwardData,
                                                 ConvolutionDirection::BackwardFilter};
constexpr const char* kDirectionNames[3] = {"forward", "backward-data", "backward-filter"};

struct Value {
  std::string name;
  Shape shape;
  int64_t numel = 0;
  size_t data = 0;
  size_t grad = 0;
  bool hasGrad = false;
  bool graphInput = false;
  bool floatInput = false;
  int consumers = 0;
  int producer = -1;
  size_t hostStaging[2] = {0, 0};  // offsets of the two pinned staging slots (graph inputs)
  // bf16 mode: a value read by a convolution or linear layer keeps a bf16 copy, cast once after it is
  // produced and read again by that layer's weight gradient.
  size_t low = 0;
  bool hasLow = false;
};

struct StateTensor {
  std::string name;
  Shape shape;
  int64_t numel = 0;
  bool buffer = false;
  bool trainable = false;
  size_t data = 0;
  size_t grad = 0;
  size_t first = 0, second = 0, third = 0;  // optimizer slots, as kernels::OptimizerChunk names them
  bool hasFirst = false, hasSecond = false, hasThird = false;
  // bf16 mode: the bf16 copy of a conv/linear weight, cast from this fp32 master at each forward.
  size_t low = 0;
  bool hasLow = false;
};

struct Node {
  const NodeSpec* spec = nullptr;
  Kind kind = Kind::View;
  std::vector<int> inputs;
  int output = -1;
  std::vector<int> states;  // in the op's role order
  std::map<std::string, int> roles;
  bool reachesLoss = false;
  bool alias = false;  // a view sharing its input's buffers
  // convolution
  cudnnTensorDescriptor_t xDesc = nullptr, yDesc = nullptr, biasDesc = nullptr;
  cudnnFilterDescriptor_t wDesc = nullptr;
  cudnnConvolutionDescriptor_t forwardDesc = nullptr, dataDesc = nullptr, filterDesc = nullptr;
  // bf16 mode: the same shapes as bf16 tensors (cuDNN's legacy API wants x, w and y of one type);
  // the fp32 xDesc/yDesc above still describe the fp32 activations for the bias calls.
  cudnnTensorDescriptor_t xLowDesc = nullptr, yLowDesc = nullptr;
  cudnnFilterDescriptor_t wLowDesc = nullptr;
  ConvAlgorithms algorithms;
  ConvolutionKey convKey;  // the autotuning cache's key (direction set per query)
  // linear
  int64_t rows = 0, inFeatures = 0, outFeatures = 0;
  // A linear layer run as one cuBLASLt matmul with its bias (and a following ReLU) in the epilogue.
  uint32_t epilogue = 0;     // kLtEpilogue*, 0: not fused
  int fusedActivation = -1;  // the ReLU node the epilogue computes (its output buffer is this node's too)
  int fusedInto = -1;        // on that ReLU node: the linear layer that computes it
  bool ltReady = false;      // descriptors made and an algorithm found; else the unfused path runs
  std::string ltNote;
  CublasApi::LtMatmulDesc ltDesc = nullptr;
  CublasApi::LtLayout ltA = nullptr, ltB = nullptr, ltD = nullptr;
  CublasApi::LtAlgo ltAlgo{};
  // activation
  kernels::Activation activation = kernels::Activation::Relu;
  float parameter = 0.0f;
  // pooling
  kernels::Pool pool{};
  bool countIncludePad = true;
  int divisorOverride = 0;
  size_t indices = 0;
  // batch norm
  kernels::BatchNorm norm{};
  bool affine = false;
  size_t mean = 0, invStd = 0;
  // add
  float alpha = 1.0f;
  // dropout
  float p = 0.0f;
  bool always = false;
  size_t mask = 0;
  bool dropoutActive = false;  // the last forward's
};

}  // namespace

std::string MemoryPlan::describe() const {
  return "memory plan " + mib(total) + ": parameters " + mib(parameters) + ", gradients " + mib(gradients) + ", optimizer " +
         mib(optimizerState) + ", activations " + mib(activations) + ", activation gradients " + mib(activationGradients) +
         ", workspace " + mib(workspace) + ", other " + mib(other) + (bf16Copies != 0 ? ", bf16 copies " + mib(bf16Copies) : "");
}

struct CudaExecutor::Impl {
  GraphSpec spec;
  CudaOptions options;
  uint64_t seed = 0;
  std::vector<Value> values;
  std::map<std::string, int> valueIndex;
  std::vector<StateTensor> states;
  std::map<std::string, int> stateIndex;
  std::vector<std::string> stateNames;
  std::vector<Node> nodes;
  MemoryPlan plan;
  size_t arenaBytes = 0;
  char* arena = nullptr;
  char* pinned = nullptr;  // inputs, step parameters, loss and correct readback
  size_t pinnedBytes = 0;
  size_t pinnedStep = 0, pinnedLoss = 0, pinnedCorrect = 0;
  // loss and optimizer
  size_t workspace = 0, workspaceBytes = 0, cublasWorkspace = 0;
  size_t lossValue = 0, correctCount = 0, lossScratch = 0, lossScratchBytes = 0;
  size_t chunkTable = 0, stepParams = 0, dropoutCounter = 0;
  // bf16 mode: scratch shared by every conv/linear call in turn (one stream orders them): a layer's
  // bf16 output or output gradient, and a convolution's bf16 input or weight gradient.
  size_t lowOutput = 0, lowInput = 0;
  std::vector<kernels::OptimizerChunk> chunks;
  kernels::OptimizerConfig optimizerConfig{};
  int64_t steps = 0;
  int64_t lastCorrect = -1;
  bool inFlight = false;  // launchStep ran, finishStep has not
  // Two pinned staging slots, so the next batch is written while the GPU copies from the other one.
  int inFlightSlot = 0;
  int stagedSlot = 0;
  bool staged = false;
  bool training = true;
  bool hasDropout = false;
  // CUDA objects
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  CublasApi::Handle cublas = nullptr;
  CublasApi::LtHandle lt = nullptr;
  // Autotuning: where the cache lives ("" in memory only) and what came from where.
  std::string autotunePath;
  int fromCache = 0, timed = 0, heuristicFallbacks = 0;
  std::vector<std::string> notices;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t graphExec = nullptr;
  bool graphTraining = true;
  bool warmedUp = false;  // one eager step ran, so library initialization is not captured
  bool capturing = false;
  // NETLENS_CUDA_SYNC=1: wait after every node outside captures, so an asynchronous kernel fault
  // is reported against the node that caused it (debugging; the parity test runs with it).
  bool syncEachNode = false;

  template <typename T>
  T* at(size_t offset) const {
    return reinterpret_cast<T*>(arena + offset);
  }
  float* f(size_t offset) const { return at<float>(offset); }
  uint16_t* h(size_t offset) const { return at<uint16_t>(offset); }

  size_t reserve(uint64_t& category, uint64_t bytes) {
    const size_t offset = arenaBytes;
    const size_t rounded = (static_cast<size_t>(bytes) + kAlignment - 1) / kAlignment * kAlignment;
    arenaBytes += rounded == 0 ? kAlignment : rounded;
    category += rounded;
    return offset;
  }

  ~Impl() {
    if (stream) cudaStreamSynchronize(stream);  // nothing may still use the buffers freed below
    if (graphExec) cudaGraphExecDestroy(graphExec);
    if (graph) cudaGraphDestroy(graph);
    const CudnnApi& api = cudnnApi();
    for (Node& node : nodes) {
      if (node.xDesc) api.destroyTensorDescriptor(node.xDesc);
      if (node.yDesc) api.destroyTensorDescriptor(node.yDesc);
      if (node.biasDesc) api.destroyTensorDescriptor(node.biasDesc);
      if (node.wDesc) api.destroyFilterDescriptor(node.wDesc);
      if (node.forwardDesc) api.destroyConvolutionDescriptor(node.forwardDesc);
      if (node.dataDesc) api.destroyConvolutionDescriptor(node.dataDesc);
      if (node.filterDesc) api.destroyConvolutionDescriptor(node.filterDesc);
      if (node.xLowDesc) api.destroyTensorDescriptor(node.xLowDesc);
      if (node.yLowDesc) api.destroyTensorDescriptor(node.yLowDesc);
      if (node.wLowDesc) api.destroyFilterDescriptor(node.wLowDesc);
      const CublasApi& blas = cublasApi();
      if (node.ltDesc) blas.ltMatmulDescDestroy(node.ltDesc);
      for (CublasApi::LtLayout layout : {node.ltA, node.ltB, node.ltD}) {
        if (layout) blas.ltMatrixLayoutDestroy(layout);
      }
    }
    if (lt) cublasApi().ltDestroy(lt);
    if (cudnn) api.destroy(cudnn);
    if (cublas) cublasApi().destroy(cublas);
    if (arena) cudaFree(arena);
    if (pinned) cudaFreeHost(pinned);
    if (stream) cudaStreamDestroy(stream);
  }

  void build(uint64_t initSeed);
  void planNode(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape);
  void chooseAlgorithms(Node& node);
  DeviceIdentity deviceIdentity() const;
  void autotune();
  bool applyTuned(Node& node, int direction, const TunedAlgorithm& tuned);
  // Buffers cuDNN's find functions time on.
  struct Scratch {
    void* x = nullptr;
    void* w = nullptr;
    void* y = nullptr;
    void* workspace = nullptr;
    size_t workspaceBytes = 0;
  };
  bool timeDirection(Node& node, int direction, const Scratch& scratch, TunedAlgorithm* tuned);
  void planFusion();
  void setupEpilogues();
  bool setupEpilogue(Node& node);
  void allocate(const Executor& reference);
  void uploadInputs(const TensorMap& inputs, int slot);
  void enqueueInputs(int slot);
  void enqueueStepParameters();
  void enqueueForward();
  void enqueueLoss();
  void enqueueBackward(bool inputGradients);
  void enqueueOptimizer();
  void enqueueLowPrecisionCopies(const Value& value);
  void prepareStep();
  void forwardNode(Node& node);
  void backwardNode(Node& node, std::set<size_t>& written, bool inputGradients);
  Tensor download(size_t offset, const Shape& shape) const;
  float readLoss() const { return *reinterpret_cast<const float*>(pinned + pinnedLoss); }
};

void CudaExecutor::Impl::build(uint64_t initSeed) {
  // The CPU executor checks the spec with the same messages and initializes the parameters exactly
  // as the CPU path does; its values are uploaded once below and it is then dropped.
  const Executor reference(spec, initSeed);

  const std::string unsupported = CudaExecutor::unsupportedReason(spec);
  if (!unsupported.empty()) throw SpecError(unsupported);

  for (const InputSpec& input : spec.inputs) {
    Value value;
    value.name = input.name;
    value.shape = input.shape;
    value.numel = shapeNumel(input.shape);
    value.graphInput = true;
    value.floatInput = input.dtype == "float32";
    valueIndex[input.name] = static_cast<int>(values.size());
    values.push_back(value);
  }
  for (const std::string& name : reference.stateNames()) {
    StateTensor state;
    state.name = name;
    state.shape = reference.state(name).shape;
    state.numel = reference.state(name).numel();
    state.buffer = reference.isBuffer(name);
    state.trainable = reference.isTrainable(name);
    stateIndex[name] = static_cast<int>(states.size());
    states.push_back(state);
  }
  stateNames = reference.stateNames();

  nodes.reserve(spec.nodes.size());
  for (const NodeSpec& nodeSpec : spec.nodes) {
    Node node;
    node.spec = &nodeSpec;
    node.kind = supportedKinds().at(nodeSpec.op);
    std::vector<Shape> inputShapes;
    for (const std::string& name : nodeSpec.inputs) {
      const int index = valueIndex.at(name);
      node.inputs.push_back(index);
      values[index].consumers += 1;
      inputShapes.push_back(values[index].shape);
    }
    const std::unique_ptr<Op> op = createOp(nodeSpec);
    const Shape outputShape = op->outputShape(inputShapes);
    for (const ParamDecl& decl : op->params()) {
      std::string key = nodeSpec.id + "." + decl.role;
      for (const auto& [role, name] : nodeSpec.params) {
        if (role == decl.role) key = name;
      }
      node.roles[decl.role] = static_cast<int>(node.states.size());
      node.states.push_back(stateIndex.at(key));
    }
    Value value;
    value.name = nodeSpec.id;
    value.shape = outputShape;
    value.numel = shapeNumel(outputShape);
    value.producer = static_cast<int>(nodes.size());
    node.output = static_cast<int>(values.size());
    valueIndex[nodeSpec.id] = node.output;
    values.push_back(value);
    planNode(node, inputShapes, outputShape);
    nodes.push_back(std::move(node));
  }

  // Which nodes the loss depends on: only they run backward.
  if (spec.loss) {
    std::set<int> needed{valueIndex.at(spec.loss->input)};
    for (size_t n = nodes.size(); n-- > 0;) {
      if (needed.count(nodes[n].output) == 0) continue;
      nodes[n].reachesLoss = true;
      for (const int input : nodes[n].inputs) needed.insert(input);
    }
  }
  if (options.autotune) autotune();
  planFusion();
  if (spec.loss && spec.loss->op == "cross_entropy") {
    const Value& target = values[valueIndex.at(spec.loss->target)];
    const int64_t rows = values[valueIndex.at(spec.loss->input)].shape[0];
    if (target.numel != rows) {
      throw SpecError("loss: target \"" + spec.loss->target + "\" holds " + std::to_string(target.numel) + " labels for " +
                      std::to_string(rows) + " predictions");
    }
  }
  allocate(reference);
  setupEpilogues();
}

void CudaExecutor::Impl::planNode(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape) {
  const NodeSpec& s = *node.spec;
  const std::string where = "node \"" + s.id + "\" (" + s.op + "): ";
  const Shape& x = inputShapes[0];
  switch (node.kind) {
    case Kind::Conv: {
      if (x.size() != 4) throw SpecError(where + "the CUDA executor takes 4-D (N, C, H, W) inputs only, got " + formatShape(x));
      const CudnnApi& api = cudnnApi();
      const auto kernel = attrPair(s, "kernel_size", {1, 1});
      const auto stride = attrPair(s, "stride", {1, 1});
      const auto dilation = attrPair(s, "dilation", {1, 1});
      std::pair<int, int> padding{0, 0};
      const JsonValue* pad = attr(s, "padding");
      if (pad != nullptr && pad->isString()) {
        if (pad->asString() == "same") {
          padding = {dilation.first * (kernel.first - 1) / 2, dilation.second * (kernel.second - 1) / 2};
        }
      } else {
        padding = attrPair(s, "padding", {0, 0});
      }
      const int groups = static_cast<int>(attrNumber(s, "groups", 1));
      const int64_t outChannels = outputShape[1];
      // NCHW descriptors of the input, output, bias and weight, in fp32 and, for bf16, again in bf16.
      const auto tensor4d = [&](cudnnTensorDescriptor_t* desc, cudnnDataType_t type, const Shape& dims, const std::string& what) {
        checkCudnn(api.createTensorDescriptor(desc), where + "cudnnCreateTensorDescriptor");
        checkCudnn(api.setTensor4dDescriptor(*desc, CUDNN_TENSOR_NCHW, type, static_cast<int>(dims[0]), static_cast<int>(dims[1]),
                                             static_cast<int>(dims[2]), static_cast<int>(dims[3])),
                   where + "cudnnSetTensor4dDescriptor (" + what + ")");
      };
      const auto filter4d = [&](cudnnFilterDescriptor_t* desc, cudnnDataType_t type, const std::string& suffix) {
        checkCudnn(api.createFilterDescriptor(desc), where + "cudnnCreateFilterDescriptor");
        checkCudnn(api.setFilter4dDescriptor(*desc, type, CUDNN_TENSOR_NCHW, static_cast<int>(outChannels),
                                             static_cast<int>(x[1] / groups), kernel.first, kernel.second),
                   where + "cudnnSetFilter4dDescriptor" + suffix);
      };
      tensor4d(&node.xDesc, CUDNN_DATA_FLOAT, x, "input");
      tensor4d(&node.yDesc, CUDNN_DATA_FLOAT, outputShape, "output");
      tensor4d(&node.biasDesc, CUDNN_DATA_FLOAT, Shape{1, outChannels, 1, 1}, "bias");
      filter4d(&node.wDesc, CUDNN_DATA_FLOAT, "");
      if (options.bf16) {
        // cuDNN's BFLOAT16 configuration: bf16 x, w and y with an fp32 compute type (fp32 accumulation).
        tensor4d(&node.xLowDesc, CUDNN_DATA_BFLOAT16, x, "bf16 input");
        tensor4d(&node.yLowDesc, CUDNN_DATA_BFLOAT16, outputShape, "bf16 output");
        filter4d(&node.wLowDesc, CUDNN_DATA_BFLOAT16, " (bf16)");
      }
      const bool tensorCores = options.tf32 || options.bf16;
      ConvolutionKey& key = node.convKey;
      key.n = x[0];
      key.c = x[1];
      key.h = x[2];
      key.w = x[3];
      key.k = outChannels;
      key.r = kernel.first;
      key.s = kernel.second;
      key.padH = padding.first;
      key.padW = padding.second;
      key.strideH = stride.first;
      key.strideW = stride.second;
      key.dilationH = dilation.first;
      key.dilationW = dilation.second;
      key.groups = groups;
      key.dataType = options.bf16 ? "bfloat16" : "float";
      key.math = tensorCores ? "tensor_op" : "fma";
      for (cudnnConvolutionDescriptor_t* desc : {&node.forwardDesc, &node.dataDesc, &node.filterDesc}) {
        checkCudnn(api.createConvolutionDescriptor(desc), where + "cudnnCreateConvolutionDescriptor");
        checkCudnn(api.setConvolution2dDescriptor(*desc, padding.first, padding.second, stride.first, stride.second,
                                                  dilation.first, dilation.second, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                   where + "cudnnSetConvolution2dDescriptor");
        checkCudnn(api.setConvolutionGroupCount(*desc, groups), where + "cudnnSetConvolutionGroupCount");
        checkCudnn(api.setConvolutionMathType(*desc, tensorCores ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
                   where + "cudnnSetConvolutionMathType");
      }
      chooseAlgorithms(node);
      break;
    }
    case Kind::Linear:
      node.inFeatures = x.back();
      node.outFeatures = outputShape.back();
      node.rows = shapeNumel(x) / node.inFeatures;
      break;
    case Kind::Activation: {
      const std::string& op = s.op;
      if (op == "relu") node.activation = kernels::Activation::Relu;
      if (op == "relu6") node.activation = kernels::Activation::Relu6;
      if (op == "leaky_relu") {
        node.activation = kernels::Activation::LeakyRelu;
        node.parameter = static_cast<float>(attrNumber(s, "negative_slope", 0.01));
      }
      if (op == "sigmoid") node.activation = kernels::Activation::Sigmoid;
      if (op == "tanh") node.activation = kernels::Activation::Tanh;
      if (op == "silu") node.activation = kernels::Activation::Silu;
      if (op == "gelu") {
        node.activation = attrText(s, "approximate", "none") == "tanh" ? kernels::Activation::GeluTanh : kernels::Activation::Gelu;
      }
      break;
    }
    case Kind::MaxPool:
    case Kind::AvgPool:
    case Kind::AdaptiveAvgPool: {
      kernels::Pool& g = node.pool;
      g.inH = x[x.size() - 2];
      g.inW = x[x.size() - 1];
      g.planes = shapeNumel(x) / (g.inH * g.inW);
      g.outH = outputShape[outputShape.size() - 2];
      g.outW = outputShape[outputShape.size() - 1];
      if (node.kind != Kind::AdaptiveAvgPool) {
        const auto kernel = attrPair(s, "kernel_size", {1, 1});
        const JsonValue* strideValue = attr(s, "stride");
        const bool strideGiven = strideValue != nullptr && !(strideValue->isArray() && strideValue->asArray().empty());
        const auto stride = strideGiven ? attrPair(s, "stride", kernel) : kernel;
        const auto padding = attrPair(s, "padding", {0, 0});
        const auto dilation = node.kind == Kind::MaxPool ? attrPair(s, "dilation", {1, 1}) : std::pair<int, int>{1, 1};
        g.kernelH = kernel.first;
        g.kernelW = kernel.second;
        g.strideH = stride.first;
        g.strideW = stride.second;
        g.padH = padding.first;
        g.padW = padding.second;
        g.dilationH = dilation.first;
        g.dilationW = dilation.second;
        const bool ceil = attrFlag(s, "ceil_mode", false);
        if (pooledExtent(g.inH, g.kernelH, g.padH, g.strideH, g.dilationH, ceil) != g.outH ||
            pooledExtent(g.inW, g.kernelW, g.padW, g.strideW, g.dilationW, ceil) != g.outW) {
          throw SpecError(where + "the CUDA executor's window geometry disagrees with the output shape " + formatShape(outputShape));
        }
        node.countIncludePad = attrFlag(s, "count_include_pad", true);
        node.divisorOverride = static_cast<int>(attrNumber(s, "divisor_override", 0));
      }
      if (node.kind == Kind::MaxPool) node.indices = reserve(plan.other, sizeof(int32_t) * shapeNumel(outputShape));
      break;
    }
    case Kind::BatchNorm: {
      node.affine = attrFlag(s, "affine", true);
      node.norm.batch = x[0];
      node.norm.channels = x[1];
      node.norm.inner = shapeNumel(x) / (x[0] * x[1]);
      node.norm.eps = static_cast<float>(attrNumber(s, "eps", 1e-5));
      const JsonValue* momentum = s.attrs.find("momentum");
      node.norm.momentum = momentum != nullptr && momentum->isNull() ? -1.0f : static_cast<float>(attrNumber(s, "momentum", 0.1));
      node.norm.track = attrFlag(s, "track_running_stats", true);
      node.mean = reserve(plan.other, sizeof(float) * x[1]);
      node.invStd = reserve(plan.other, sizeof(float) * x[1]);
      break;
    }
    case Kind::View:
      break;
    case Kind::Add:
      if (attr(s, "other") != nullptr) throw SpecError(where + "adding a number is not supported by the CUDA executor yet");
      for (const Shape& shape : inputShapes) {
        if (shape != x) {
          throw SpecError(where + "broadcasting " + formatShape(x) + " and " + formatShape(shape) +
                          " is not supported by the CUDA executor yet (same shapes only)");
        }
      }
      if (inputShapes.size() > 8) throw SpecError(where + "the CUDA executor adds at most 8 tensors at once");
      node.alpha = static_cast<float>(attrNumber(s, "alpha", 1.0));
      break;
    case Kind::Dropout:
      node.p = static_cast<float>(attrNumber(s, "p", 0.5));
      node.always = attrFlag(s, "always", false);
      node.mask = reserve(plan.other, sizeof(float) * shapeNumel(x));
      hasDropout = true;
      break;
  }
}

namespace {

/**
 * The first of a cuDNN heuristic's ranked candidates that runs with the wanted math within the
 * workspace limit. Strict fp32 (no tensor cores) tries the candidates listed with FMA math first,
 * then any; with tensor cores (TF32, bf16) each candidate's own math type is set on the descriptor
 * before its workspace is asked for. Writes the choice and its workspace bytes; false when none fits.
 */
template <typename Perf, typename Algo, typename WorkspaceSize>
bool firstUsableAlgorithm(const CudnnApi& api, const Perf* results, int count, bool tensorCores,
                          cudnnConvolutionDescriptor_t desc, size_t limit, WorkspaceSize workspaceSize, Algo* algo,
                          size_t* algoBytes, cudnnMathType_t* algoMath) {
  for (int i = 0; i < 2 * count; ++i) {
    const Perf& candidate = results[i % count];
    if (candidate.status != CUDNN_STATUS_SUCCESS || (i < count && !tensorCores && candidate.mathType != CUDNN_FMA_MATH)) continue;
    if (tensorCores) api.setConvolutionMathType(desc, candidate.mathType);
    size_t bytes = 0;
    if (workspaceSize(candidate.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > limit) continue;
    *algo = candidate.algo;
    *algoBytes = bytes;
    *algoMath = tensorCores ? candidate.mathType : CUDNN_FMA_MATH;
    return true;
  }
  return false;
}

}  // namespace

void CudaExecutor::Impl::chooseAlgorithms(Node& node) {
  const CudnnApi& api = cudnnApi();
  const std::string where = "node \"" + node.spec->id + "\" (conv2d): ";
  constexpr int kCandidates = 8;
  const size_t limit = static_cast<size_t>(options.workspaceLimitBytes);
  // The heuristics rank algorithms by expected speed; the first that runs with this math mode within
  // the workspace limit is taken. The strict mode keeps FMA math whatever the heuristic suggests; TF32
  // and bf16 take the math type the heuristic lists with each algorithm. bf16 asks about the bf16
  // descriptors the calls will use.
  const bool tensorCores = options.tf32 || options.bf16;
  const cudnnTensorDescriptor_t xDesc = options.bf16 ? node.xLowDesc : node.xDesc;
  const cudnnTensorDescriptor_t yDesc = options.bf16 ? node.yLowDesc : node.yDesc;
  const cudnnFilterDescriptor_t wDesc = options.bf16 ? node.wLowDesc : node.wDesc;
  {
    cudnnConvolutionFwdAlgoPerf_t results[kCandidates];
    int count = 0;
    checkCudnn(api.forwardAlgorithms(cudnn, xDesc, wDesc, node.forwardDesc, yDesc, kCandidates, &count, results),
               where + "cudnnGetConvolutionForwardAlgorithm_v7");
    const bool found = firstUsableAlgorithm(
        api, results, count, tensorCores, node.forwardDesc, limit,
        [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
          return api.forwardWorkspaceSize(cudnn, xDesc, wDesc, node.forwardDesc, yDesc, algo, bytes);
        },
        &node.algorithms.forward, &node.algorithms.forwardBytes, &node.algorithms.heuristicMath[0]);
    if (!found) throw CudaError(where + "cuDNN offers no forward algorithm within the workspace limit of " + mib(limit));
  }
  {
    cudnnConvolutionBwdDataAlgoPerf_t results[kCandidates];
    int count = 0;
    checkCudnn(api.backwardDataAlgorithms(cudnn, wDesc, yDesc, node.dataDesc, xDesc, kCandidates, &count, results),
               where + "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    const bool found = firstUsableAlgorithm(
        api, results, count, tensorCores, node.dataDesc, limit,
        [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
          return api.backwardDataWorkspaceSize(cudnn, wDesc, yDesc, node.dataDesc, xDesc, algo, bytes);
        },
        &node.algorithms.backwardData, &node.algorithms.backwardDataBytes, &node.algorithms.heuristicMath[1]);
    if (!found) throw CudaError(where + "cuDNN offers no backward-data algorithm within the workspace limit of " + mib(limit));
  }
  {
    cudnnConvolutionBwdFilterAlgoPerf_t results[kCandidates];
    int count = 0;
    checkCudnn(api.backwardFilterAlgorithms(cudnn, xDesc, yDesc, node.filterDesc, wDesc, kCandidates, &count, results),
               where + "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    const bool found = firstUsableAlgorithm(
        api, results, count, tensorCores, node.filterDesc, limit,
        [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
          return api.backwardFilterWorkspaceSize(cudnn, xDesc, yDesc, node.filterDesc, wDesc, algo, bytes);
        },
        &node.algorithms.backwardFilter, &node.algorithms.backwardFilterBytes, &node.algorithms.heuristicMath[2]);
    if (!found) throw CudaError(where + "cuDNN offers no backward-filter algorithm within the workspace limit of " + mib(limit));
  }
  workspaceBytes = std::max({workspaceBytes, node.algorithms.forwardBytes, node.algorithms.backwardDataBytes,
                             node.algorithms.backwardFilterBytes});
}

DeviceIdentity CudaExecutor::Impl::deviceIdentity() const {
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  const size_t version = cudnnApi().getVersion();
  DeviceIdentity device;
  device.gpuName = properties.name;
  device.computeMajor = properties.major;
  device.computeMinor = properties.minor;
  device.cudnnVersion = std::to_string(version / 10000) + "." + std::to_string((version % 10000) / 100) + "." + std::to_string(version % 100);
  return device;
}

namespace {

// Math types a strict-fp32 convolution must not run with (tensor cores round the inputs).
bool tensorMath(cudnnMathType_t math) { return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

/** cuDNN's timings (fastest first): the first that ran, within the limit, with an allowed math type. */
template <typename Perf>
bool fastestUsable(const Perf* results, int count, bool tensorCores, size_t limit, TunedAlgorithm* tuned) {
  for (int i = 0; i < count; ++i) {
    const Perf& result = results[i];
    if (result.status != CUDNN_STATUS_SUCCESS || result.memory > limit || result.time < 0.0f) continue;
    if (!tensorCores && tensorMath(result.mathType)) continue;
    tuned->algorithm = static_cast<int>(result.algo);
    tuned->mathType = static_cast<int>(tensorCores ? result.mathType : CUDNN_FMA_MATH);
    tuned->workspaceBytes = result.memory;
    tuned->milliseconds = result.time;
    return true;
  }
  return false;
}

}  // namespace

bool CudaExecutor::Impl::applyTuned(Node& node, int direction, const TunedAlgorithm& tuned) {
  const CudnnApi& api = cudnnApi();
  const bool tensorCores = options.tf32 || options.bf16;
  const cudnnTensorDescriptor_t xDesc = options.bf16 ? node.xLowDesc : node.xDesc;
  const cudnnTensorDescriptor_t yDesc = options.bf16 ? node.yLowDesc : node.yDesc;
  const cudnnFilterDescriptor_t wDesc = options.bf16 ? node.wLowDesc : node.wDesc;
  cudnnConvolutionDescriptor_t desc = direction == 0 ? node.forwardDesc : direction == 1 ? node.dataDesc : node.filterDesc;
  const cudnnMathType_t math = static_cast<cudnnMathType_t>(tuned.mathType);
  // Strict fp32 keeps FMA math on its descriptors whatever an entry says.
  if (!tensorCores && tensorMath(math)) return false;
  if (tensorCores && api.setConvolutionMathType(desc, math) != CUDNN_STATUS_SUCCESS) return false;
  size_t bytes = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  if (direction == 0) {
    const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(tuned.algorithm);
    status = api.forwardWorkspaceSize(cudnn, xDesc, wDesc, desc, yDesc, algo, &bytes);
    if (status == CUDNN_STATUS_SUCCESS && bytes <= options.workspaceLimitBytes) {
      node.algorithms.forward = algo;
      node.algorithms.forwardBytes = bytes;
    }
  } else if (direction == 1) {
    const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(tuned.algorithm);
    status = api.backwardDataWorkspaceSize(cudnn, wDesc, yDesc, desc, xDesc, algo, &bytes);
    if (status == CUDNN_STATUS_SUCCESS && bytes <= options.workspaceLimitBytes) {
      node.algorithms.backwardData = algo;
      node.algorithms.backwardDataBytes = bytes;
    }
  } else {
    const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(tuned.algorithm);
    status = api.backwardFilterWorkspaceSize(cudnn, xDesc, yDesc, desc, wDesc, algo, &bytes);
    if (status == CUDNN_STATUS_SUCCESS && bytes <= options.workspaceLimitBytes) {
      node.algorithms.backwardFilter = algo;
      node.algorithms.backwardFilterBytes = bytes;
    }
  }
  if (status != CUDNN_STATUS_SUCCESS || bytes > options.workspaceLimitBytes) {
    // Not usable here (another limit, or an entry this cuDNN does not take): the heuristic's choice stays.
    if (tensorCores) api.setConvolutionMathType(desc, node.algorithms.heuristicMath[direction]);
    return false;
  }
  node.algorithms.milliseconds[direction] = tuned.milliseconds;
  return true;
}

bool CudaExecutor::Impl::timeDirection(Node& node, int direction, const Scratch& scratch, TunedAlgorithm* tuned) {
  const CudnnApi& api = cudnnApi();
  const bool tensorCores = options.tf32 || options.bf16;
  const cudnnTensorDescriptor_t xDesc = options.bf16 ? node.xLowDesc : node.xDesc;
  const cudnnTensorDescriptor_t yDesc = options.bf16 ? node.yLowDesc : node.yDesc;
  const cudnnFilterDescriptor_t wDesc = options.bf16 ? node.wLowDesc : node.wDesc;
  cudnnConvolutionDescriptor_t desc = direction == 0 ? node.forwardDesc : direction == 1 ? node.dataDesc : node.filterDesc;
  // Tensor-core modes let cuDNN time both math types; strict fp32 times FMA math only.
  if (tensorCores) api.setConvolutionMathType(desc, CUDNN_TENSOR_OP_MATH);
  constexpr int kRequested = 16;  // more than any direction has algorithms
  int count = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  bool found = false;
  const size_t limit = static_cast<size_t>(options.workspaceLimitBytes);
  if (direction == 0) {
    cudnnConvolutionFwdAlgoPerf_t results[kRequested];
    status = api.findForward(cudnn, xDesc, scratch.x, wDesc, scratch.w, desc, yDesc, scratch.y, kRequested, &count, results,
                             scratch.workspace, scratch.workspaceBytes);
    found = status == CUDNN_STATUS_SUCCESS && fastestUsable(results, count, tensorCores, limit, tuned);
  } else if (direction == 1) {
    cudnnConvolutionBwdDataAlgoPerf_t results[kRequested];
    status = api.findBackwardData(cudnn, wDesc, scratch.w, yDesc, scratch.y, desc, xDesc, scratch.x, kRequested, &count, results,
                                  scratch.workspace, scratch.workspaceBytes);
    found = status == CUDNN_STATUS_SUCCESS && fastestUsable(results, count, tensorCores, limit, tuned);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t results[kRequested];
    status = api.findBackwardFilter(cudnn, xDesc, scratch.x, yDesc, scratch.y, desc, wDesc, scratch.w, kRequested, &count, results,
                                    scratch.workspace, scratch.workspaceBytes);
    found = status == CUDNN_STATUS_SUCCESS && fastestUsable(results, count, tensorCores, limit, tuned);
  }
  cudaGetLastError();  // a failed trial must not poison the next CUDA call
  if (!found) {
    if (tensorCores) api.setConvolutionMathType(desc, node.algorithms.heuristicMath[direction]);
    notices.push_back("autotune: node \"" + node.spec->id + "\" " + kDirectionNames[direction] + ": " +
                      (status != CUDNN_STATUS_SUCCESS ? std::string("cudnnFind failed: ") + api.getErrorString(status)
                                                      : std::string("no timed algorithm within the workspace limit")) +
                      "; the heuristic's choice stays");
    return false;
  }
  return applyTuned(node, direction, *tuned);
}

void CudaExecutor::Impl::autotune() {
  const CudnnApi& api = cudnnApi();
  std::vector<Node*> convolutions;
  for (Node& node : nodes) {
    if (node.kind == Kind::Conv) convolutions.push_back(&node);
  }
  if (convolutions.empty()) return;
  if (!api.findAlgorithms) {
    notices.push_back("autotune: this cuDNN has no cudnnFindConvolution*AlgorithmEx; the heuristics choose");
    return;
  }
  autotunePath = autotuneCachePath(options.autotuneCache);
  AutotuneCache& cache = processAutotuneCache(autotunePath, &notices);
  const DeviceIdentity device = deviceIdentity();
  // cuDNN times the candidates on real buffers: scratch as large as the largest convolution's input,
  // weight and output (fp32 sizes also hold the bf16 tensors) and a workspace up to the limit. Allocated
  // at the first shape the cache does not know, freed before the memory plan is allocated.
  struct Buffers {
    char* memory = nullptr;
    ~Buffers() {
      if (memory) cudaFree(memory);
    }
  } buffers;
  Scratch scratch;
  bool scratchTried = false;
  bool added = false;
  for (Node* node : convolutions) {
    for (int direction = 0; direction < 3; ++direction) {
      ConvolutionKey key = node->convKey;
      key.direction = kDirections[direction];
      TunedAlgorithm tuned;
      if (cache.lookup(device, key, &tuned) && applyTuned(*node, direction, tuned)) {
        node->algorithms.source[direction] = "cache";
        ++fromCache;
        continue;
      }
      if (!scratchTried) {
        scratchTried = true;
        size_t xBytes = 0, wBytes = 0, yBytes = 0;
        for (const Node* conv : convolutions) {
          const ConvolutionKey& k = conv->convKey;
          xBytes = std::max(xBytes, static_cast<size_t>(sizeof(float) * k.n * k.c * k.h * k.w));
          wBytes = std::max(wBytes, static_cast<size_t>(sizeof(float) * k.k * (k.c / k.groups) * k.r * k.s));
          yBytes = std::max(yBytes, static_cast<size_t>(sizeof(float) * values[conv->output].numel));
        }
        const auto rounded = [](size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; };
        const size_t tensors = rounded(xBytes) + rounded(wBytes) + rounded(yBytes);
        // The workspace as large as the limit allows, smaller when the GPU has less free.
        for (size_t workspace = static_cast<size_t>(options.workspaceLimitBytes);; workspace /= 2) {
          if (cudaMalloc(reinterpret_cast<void**>(&buffers.memory), tensors + workspace) == cudaSuccess) {
            scratch.x = buffers.memory;
            scratch.w = buffers.memory + rounded(xBytes);
            scratch.y = buffers.memory + rounded(xBytes) + rounded(wBytes);
            scratch.workspace = workspace > 0 ? buffers.memory + tensors : nullptr;
            scratch.workspaceBytes = workspace;
            // Zeros (no NaN or denormal patterns in the timings), written in the handle's stream order.
            check(cudaMemsetAsync(buffers.memory, 0, tensors, stream), "cudaMemsetAsync (autotuning buffers)");
            check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (autotuning buffers)");
            break;
          }
          cudaGetLastError();
          buffers.memory = nullptr;
          if (workspace == 0) break;
          if (workspace < (1u << 20)) workspace = 1;  // next round tries without a workspace
        }
        if (buffers.memory == nullptr) notices.push_back("autotune: no GPU memory for the timing buffers; the heuristics choose");
      }
      if (buffers.memory != nullptr && timeDirection(*node, direction, scratch, &tuned)) {
        node->algorithms.source[direction] = "timed";
        cache.store(device, key, tuned);
        added = true;
        ++timed;
      } else {
        ++heuristicFallbacks;
      }
    }
  }
  workspaceBytes = 0;
  for (const Node* node : convolutions) {
    workspaceBytes = std::max({workspaceBytes, node->algorithms.forwardBytes, node->algorithms.backwardDataBytes,
                               node->algorithms.backwardFilterBytes});
  }
  if (added && !autotunePath.empty()) {
    std::string error;
    if (!cache.save(autotunePath, &error)) notices.push_back("autotune: timings kept in memory only: " + error);
  }
}

void CudaExecutor::Impl::planFusion() {
  if (!options.fuseEpilogues) return;
  const char* fuse = std::getenv("NETLENS_CUDA_FUSE");
  if (fuse != nullptr && std::string(fuse) == "0") {
    notices.push_back("fused epilogues off (NETLENS_CUDA_FUSE=0)");
    return;
  }
  bool anyLinear = false;
  for (const Node& node : nodes) anyLinear = anyLinear || node.kind == Kind::Linear;
  if (!anyLinear) return;
  if (!cublasApi().ltMatmuls) {
    notices.push_back("fused epilogues off: " + cublasApi().ltFailure);
    return;
  }
  std::set<int> graphOutputs;
  for (const std::string& output : spec.outputs) {
    const auto found = valueIndex.find(output);
    if (found != valueIndex.end()) graphOutputs.insert(found->second);
  }
  if (spec.loss) {
    graphOutputs.insert(valueIndex.at(spec.loss->input));
    if (valueIndex.count(spec.loss->target) != 0) graphOutputs.insert(valueIndex.at(spec.loss->target));
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    Node& node = nodes[n];
    if (node.kind != Kind::Linear) continue;
    const bool bias = node.roles.count("bias") != 0;
    // A ReLU that is the only reader of this layer's output, which nobody asks for by name: the
    // epilogue writes the ReLU's output and the pre-activation is never stored.
    int relu = -1;
    const Value& out = values[node.output];
    if (out.consumers == 1 && graphOutputs.count(node.output) == 0) {
      for (size_t r = n + 1; r < nodes.size(); ++r) {
        const Node& reader = nodes[r];
        if (std::find(reader.inputs.begin(), reader.inputs.end(), node.output) == reader.inputs.end()) continue;
        if (reader.kind == Kind::Activation && reader.activation == kernels::Activation::Relu && reader.inputs.size() == 1) {
          relu = static_cast<int>(r);
        }
        break;
      }
    }
    if (relu >= 0) {
      node.epilogue = bias ? kLtEpilogueReluBias : kLtEpilogueRelu;
      node.fusedActivation = relu;
      nodes[relu].fusedInto = static_cast<int>(n);
    } else if (bias) {
      node.epilogue = kLtEpilogueBias;
    }
  }
}

bool CudaExecutor::Impl::setupEpilogue(Node& node) {
  const CublasApi& api = cublasApi();
  const auto fail = [&](const std::string& call, int status) {
    node.ltNote = call + " failed: " + api.statusString(status) + "; cublasSgemm/GemmEx and separate bias/ReLU kernels run instead";
    return false;
  };
  // The same arithmetic as the unfused path: fp32 operands with fp32 accumulation (no TF32) in strict
  // mode, the TF32 compute type in tf32 mode, bf16 operands with fp32 accumulation and fp32 results.
  const int compute = options.tf32 ? kCublasCompute32FFastTf32 : kCublasCompute32F;
  const cudaDataType_t operands = options.bf16 ? CUDA_R_16BF : CUDA_R_32F;
  int status = api.ltMatmulDescCreate(&node.ltDesc, compute, CUDA_R_32F);
  if (status != 0) return fail("cublasLtMatmulDescCreate", status);
  // Row-major y[rows, out] = x[rows, in]·Wᵀ + b is column-major yᵀ (out × rows) = W (read transposed,
  // stored in × out) · xᵀ (in × rows); the bias runs along yᵀ's rows, as the BIAS epilogue wants.
  const int32_t transposed = kCublasOpT, plain = kCublasOpN;
  status = api.ltMatmulDescSetAttribute(node.ltDesc, kLtDescTransA, &transposed, sizeof transposed);
  if (status != 0) return fail("cublasLtMatmulDescSetAttribute (transa)", status);
  status = api.ltMatmulDescSetAttribute(node.ltDesc, kLtDescTransB, &plain, sizeof plain);
  if (status != 0) return fail("cublasLtMatmulDescSetAttribute (transb)", status);
  const uint32_t epilogue = node.epilogue;
  status = api.ltMatmulDescSetAttribute(node.ltDesc, kLtDescEpilogue, &epilogue, sizeof epilogue);
  if (status != 0) return fail("cublasLtMatmulDescSetAttribute (epilogue)", status);
  const auto bias = node.roles.find("bias");
  if (bias != node.roles.end()) {
    const void* pointer = f(states[node.states[bias->second]].data);
    status = api.ltMatmulDescSetAttribute(node.ltDesc, kLtDescBiasPointer, &pointer, sizeof pointer);
    if (status != 0) return fail("cublasLtMatmulDescSetAttribute (bias)", status);
  }
  const uint64_t in = static_cast<uint64_t>(node.inFeatures), out = static_cast<uint64_t>(node.outFeatures);
  const uint64_t rows = static_cast<uint64_t>(node.rows);
  status = api.ltMatrixLayoutCreate(&node.ltA, operands, in, out, static_cast<int64_t>(in));
  if (status != 0) return fail("cublasLtMatrixLayoutCreate (weight)", status);
  status = api.ltMatrixLayoutCreate(&node.ltB, operands, in, rows, static_cast<int64_t>(in));
  if (status != 0) return fail("cublasLtMatrixLayoutCreate (input)", status);
  status = api.ltMatrixLayoutCreate(&node.ltD, CUDA_R_32F, out, rows, static_cast<int64_t>(out));
  if (status != 0) return fail("cublasLtMatrixLayoutCreate (output)", status);
  CublasApi::LtPreference preference = nullptr;
  status = api.ltPreferenceCreate(&preference);
  if (status != 0) return fail("cublasLtMatmulPreferenceCreate", status);
  const uint64_t workspaceLimit = kCublasWorkspaceBytes;
  status = api.ltPreferenceSetAttribute(preference, kLtPreferenceMaxWorkspaceBytes, &workspaceLimit, sizeof workspaceLimit);
  // One result is asked for; the array has room for more in case a cuBLAS release grows the struct.
  CublasApi::LtHeuristic results[4]{};
  const CublasApi::LtHeuristic& heuristic = results[0];
  int returned = 0;
  if (status == 0) {
    status = api.ltAlgoGetHeuristic(lt, node.ltDesc, node.ltA, node.ltB, node.ltD, node.ltD, preference, 1, results, &returned);
  }
  api.ltPreferenceDestroy(preference);
  if (status != 0) return fail("cublasLtMatmulAlgoGetHeuristic", status);
  if (returned < 1 || heuristic.state != 0 || heuristic.workspaceSize > kCublasWorkspaceBytes) {
    node.ltNote = "cuBLASLt offers no algorithm for this epilogue and shape; the unfused path runs";
    return false;
  }
  node.ltAlgo = heuristic.algo;
  return true;
}

void CudaExecutor::Impl::setupEpilogues() {
  bool any = false;
  for (const Node& node : nodes) any = any || node.epilogue != 0;
  if (!any) return;
  const int created = cublasApi().ltCreate(&lt);
  for (Node& node : nodes) {
    if (node.epilogue == 0) continue;
    if (created != 0) {
      node.ltNote = std::string("cublasLtCreate failed: ") + cublasApi().statusString(created) + "; the unfused path runs";
      continue;
    }
    node.ltReady = setupEpilogue(node);
    if (!node.ltReady) notices.push_back("node \"" + node.spec->id + "\" (linear): " + node.ltNote);
  }
  if (created != 0) {
    lt = nullptr;
    notices.push_back(std::string("fused epilogues off: cublasLtCreate failed: ") + cublasApi().statusString(created));
  }
}

void CudaExecutor::Impl::allocate(const Executor& reference) {
  // Views alias their input when nothing else reads it: no copy forward, none backward.
  for (Node& node : nodes) {
    const Value& input = values[node.inputs[0]];
    node.alias = node.kind == Kind::View && !input.graphInput && input.consumers == 1;
  }
  for (Value& value : values) {
    if (value.producer >= 0 && nodes[value.producer].alias) continue;
    // A linear layer whose ReLU is fused into its epilogue writes the ReLU's buffer (below).
    if (value.producer < 0 || nodes[value.producer].fusedActivation < 0) value.data = reserve(plan.activations, sizeof(float) * value.numel);
    const bool wantsGrad = value.graphInput ? value.floatInput : nodes[value.producer].reachesLoss;
    if (wantsGrad) {
      value.grad = reserve(plan.activationGradients, sizeof(float) * value.numel);
      value.hasGrad = true;
    }
  }
  for (const Node& node : nodes) {
    // One buffer for the pre-activation and the ReLU's output: the epilogue writes only the latter,
    // the ReLU's backward reads its input's sign there (x > 0 exactly where relu(x) > 0), and should
    // cuBLASLt refuse the epilogue the unfused path runs the ReLU in place.
    if (node.fusedActivation >= 0) values[node.output].data = values[nodes[node.fusedActivation].output].data;
  }
  for (Node& node : nodes) {
    if (!node.alias) continue;
    Value& out = values[node.output];
    const Value& in = values[node.inputs[0]];
    out.data = in.data;
    out.grad = in.grad;
    out.hasGrad = in.hasGrad && node.reachesLoss;
  }
  const std::string optimizerType = spec.optimizer ? spec.optimizer->type : "";
  const bool momentum = optimizerType == "sgd" && spec.optimizer->momentum != 0.0;
  const bool adam = optimizerType == "adam" || optimizerType == "adamw";
  const bool rmsprop = optimizerType == "rmsprop";
  for (StateTensor& state : states) {
    const uint64_t bytes = sizeof(float) * static_cast<uint64_t>(std::max<int64_t>(state.numel, 1));
    state.data = reserve(plan.parameters, bytes);
    if (!state.trainable) continue;
    state.grad = reserve(plan.gradients, bytes);
    if (momentum || adam || rmsprop) {
      state.first = reserve(plan.optimizerState, bytes);
      state.hasFirst = true;
    }
    if (adam || (rmsprop && spec.optimizer->centered)) {
      state.second = reserve(plan.optimizerState, bytes);
      state.hasSecond = true;
    }
    if (rmsprop && spec.optimizer->momentum > 0.0) {
      state.third = reserve(plan.optimizerState, bytes);
      state.hasThird = true;
    }
  }
  if (options.bf16) {
    // bf16 copies: each conv/linear weight (cast from its master at every forward) and each value a
    // conv/linear reads (cast once after it is produced, kept for the weight gradient), plus two
    // scratch buffers that every layer uses in turn.
    int64_t outputScratch = 1, inputScratch = 1;
    for (const Node& node : nodes) {
      if (node.kind != Kind::Conv && node.kind != Kind::Linear) continue;
      values[node.inputs[0]].hasLow = true;
      StateTensor& weight = states[node.states[node.roles.at("weight")]];
      weight.hasLow = true;
      outputScratch = std::max(outputScratch, values[node.output].numel);
      if (node.kind == Kind::Conv) inputScratch = std::max({inputScratch, values[node.inputs[0]].numel, weight.numel});
    }
    for (Value& value : values) {
      if (value.hasLow) value.low = reserve(plan.bf16Copies, sizeof(uint16_t) * value.numel);
    }
    for (StateTensor& state : states) {
      if (state.hasLow) state.low = reserve(plan.bf16Copies, sizeof(uint16_t) * state.numel);
    }
    lowOutput = reserve(plan.bf16Copies, sizeof(uint16_t) * outputScratch);
    lowInput = reserve(plan.bf16Copies, sizeof(uint16_t) * inputScratch);
  }
  workspace = reserve(plan.workspace, workspaceBytes);
  cublasWorkspace = reserve(plan.workspace, kCublasWorkspaceBytes);
  lossValue = reserve(plan.other, sizeof(float));
  correctCount = reserve(plan.other, sizeof(int32_t));
  int64_t rows = 1;
  if (spec.loss) rows = values[valueIndex.at(spec.loss->input)].shape[0];
  lossScratchBytes = sizeof(double) * static_cast<size_t>(std::max<int64_t>(2 * rows, kernels::kLossPartials));
  lossScratch = reserve(plan.other, lossScratchBytes);
  dropoutCounter = reserve(plan.other, sizeof(uint64_t));
  stepParams = reserve(plan.other, sizeof(kernels::OptimizerStep));
  if (spec.optimizer) {
    for (const StateTensor& state : states) {
      if (!state.trainable) continue;
      for (int64_t begin = 0; begin < state.numel; begin += kOptimizerChunk) {
        chunks.push_back({nullptr, nullptr, nullptr, nullptr, nullptr, begin, std::min(state.numel, begin + kOptimizerChunk)});
      }
    }
    chunkTable = reserve(plan.other, sizeof(kernels::OptimizerChunk) * std::max<size_t>(chunks.size(), 1));
    optimizerConfig = kernels::optimizerConfigFor(*spec.optimizer);
  }
  plan.total = arenaBytes;

  const cudaError_t allocated = cudaMalloc(reinterpret_cast<void**>(&arena), arenaBytes);
  if (allocated != cudaSuccess) {
    cudaGetLastError();
    arena = nullptr;
    size_t freeBytes = 0, totalBytes = 0;
    cudaMemGetInfo(&freeBytes, &totalBytes);
    throw CudaError("out of GPU memory: the training step needs " + mib(arenaBytes) + " (" + plan.describe() + ") but only " +
                    mib(freeBytes) + " of " + mib(totalBytes) + " are free (cudaMalloc: " + cudaGetErrorString(allocated) + ")");
  }
  check(cudaMemsetAsync(arena, 0, arenaBytes, stream), "cudaMemsetAsync (memory plan)");

  // Pinned host memory: two staging slots for the graph inputs (copied to the device in stream order
  // before each step, outside the captured graph), step parameters (the graph copies them), loss.
  for (int slot = 0; slot < 2; ++slot) {
    for (Value& value : values) {
      if (!value.graphInput) continue;
      value.hostStaging[slot] = pinnedBytes;
      pinnedBytes += (sizeof(float) * value.numel + kAlignment - 1) / kAlignment * kAlignment;
    }
  }
  pinnedStep = pinnedBytes;
  pinnedBytes += kAlignment;
  pinnedLoss = pinnedBytes;
  pinnedBytes += kAlignment;
  pinnedCorrect = pinnedBytes;
  pinnedBytes += kAlignment;
  check(cudaMallocHost(reinterpret_cast<void**>(&pinned), pinnedBytes), "cudaMallocHost (" + mib(pinnedBytes) + " of input staging)");
  std::memset(pinned, 0, pinnedBytes);

  for (StateTensor& state : states) {
    const Tensor& initial = reference.state(state.name);
    check(cudaMemcpyAsync(f(state.data), initial.ptr(), sizeof(float) * initial.data.size(), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (initial \"" + state.name + "\")");
  }
  if (!chunks.empty()) {
    size_t chunk = 0;
    for (const StateTensor& state : states) {
      if (!state.trainable) continue;
      for (int64_t begin = 0; begin < state.numel; begin += kOptimizerChunk, ++chunk) {
        chunks[chunk].value = f(state.data);
        chunks[chunk].gradient = f(state.grad);
        chunks[chunk].first = state.hasFirst ? f(state.first) : nullptr;
        chunks[chunk].second = state.hasSecond ? f(state.second) : nullptr;
        chunks[chunk].third = state.hasThird ? f(state.third) : nullptr;
      }
    }
    check(cudaMemcpyAsync(at<kernels::OptimizerChunk>(chunkTable), chunks.data(), sizeof(kernels::OptimizerChunk) * chunks.size(),
                          cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (optimizer chunk table)");
  }
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (initial upload)");
}

void CudaExecutor::Impl::uploadInputs(const TensorMap& inputs, int slot) {
  for (Value& value : values) {
    if (!value.graphInput) continue;
    const auto found = inputs.find(value.name);
    if (found == inputs.end()) {
      if (spec.loss && spec.loss->target == value.name) continue;
      throw std::invalid_argument("input \"" + value.name + "\" is missing");
    }
    const Tensor& tensor = found->second;
    if (tensor.numel() != value.numel || tensor.shape.size() != value.shape.size() ||
        !std::equal(tensor.shape.begin(), tensor.shape.end(), value.shape.begin())) {
      throw std::invalid_argument("input \"" + value.name + "\" is " + formatShape(tensor.shape) + "; the CUDA executor's memory plan is for " +
                                  formatShape(value.shape) + " (the batch size is fixed when it is built)");
    }
    if (spec.loss && spec.loss->op == "cross_entropy" && spec.loss->target == value.name) {
      const int64_t classes = values[valueIndex.at(spec.loss->input)].shape[1];
      for (int64_t r = 0; r < tensor.numel(); ++r) {
        const float label = tensor.data[static_cast<size_t>(r)];
        if (!(label >= 0.0f && label < static_cast<float>(classes)) || std::trunc(label) != label) {
          throw std::invalid_argument("cross_entropy: label " + std::to_string(label) + " at row " + std::to_string(r) +
                                      " is not a class index in [0, " + std::to_string(classes) + ")");
        }
      }
    }
    std::memcpy(pinned + value.hostStaging[slot], tensor.ptr(), sizeof(float) * tensor.data.size());
  }
}

void CudaExecutor::Impl::prepareStep() {
  const kernels::OptimizerStep step = spec.optimizer ? kernels::optimizerStepFor(*spec.optimizer, steps) : kernels::OptimizerStep{};
  std::memcpy(pinned + pinnedStep, &step, sizeof step);
}

void CudaExecutor::Impl::enqueueInputs(int slot) {
  for (const Value& value : values) {
    if (!value.graphInput) continue;
    check(cudaMemcpyAsync(f(value.data), pinned + value.hostStaging[slot], sizeof(float) * value.numel, cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (input \"" + value.name + "\")");
  }
}

void CudaExecutor::Impl::enqueueStepParameters() {
  check(cudaMemcpyAsync(at<char>(stepParams), pinned + pinnedStep, sizeof(kernels::OptimizerStep), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (step parameters)");
}

void CudaExecutor::Impl::enqueueLowPrecisionCopies(const Value& value) {
  if (!value.hasLow) return;
  check(kernels::floatToBf16(stream, value.numel, f(value.data), h(value.low)), "floatToBf16 (bf16 copy of \"" + value.name + "\")");
}

void CudaExecutor::Impl::enqueueForward() {
  if (options.bf16) {
    // Fresh bf16 weights from the fp32 masters (the optimizer updated them, or setState did).
    for (const StateTensor& state : states) {
      if (state.hasLow) check(kernels::floatToBf16(stream, state.numel, f(state.data), h(state.low)), "floatToBf16 (\"" + state.name + "\")");
    }
    for (const Value& value : values) {
      if (value.graphInput) enqueueLowPrecisionCopies(value);
    }
  }
  for (Node& node : nodes) {
    forwardNode(node);
    enqueueLowPrecisionCopies(values[node.output]);
    if (syncEachNode && !capturing) {
      check(cudaStreamSynchronize(stream), "node \"" + node.spec->id + "\" (" + node.spec->op + ") forward");
    }
  }
  bool anyDropout = false;
  for (const Node& node : nodes) anyDropout = anyDropout || node.dropoutActive;
  if (anyDropout) check(kernels::incrementCounter(stream, at<uint64_t>(dropoutCounter)), "incrementCounter (dropout step)");
}

void CudaExecutor::Impl::forwardNode(Node& node) {
  const std::string where = "node \"" + node.spec->id + "\" (" + node.spec->op + "): ";
  const Value& x = values[node.inputs[0]];
  Value& y = values[node.output];
  const auto state = [&](const char* role) -> float* {
    const auto found = node.roles.find(role);
    return found == node.roles.end() ? nullptr : f(states[node.states[found->second]].data);
  };
  const auto lowState = [&](const char* role) -> uint16_t* { return h(states[node.states[node.roles.at(role)]].low); };
  switch (node.kind) {
    case Kind::Conv: {
      const CudnnApi& api = cudnnApi();
      const float one = 1.0f, zero = 0.0f;
      if (options.bf16) {
        // bf16 in, bf16 out (fp32 accumulation), widened back into the fp32 activation with the fp32
        // bias added in the same pass.
        checkCudnn(api.convolutionForward(cudnn, &one, node.xLowDesc, h(x.low), node.wLowDesc, lowState("weight"), node.forwardDesc,
                                          node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, &zero, node.yLowDesc,
                                          h(lowOutput)),
                   where + "cudnnConvolutionForward (bf16)");
        if (const float* bias = state("bias")) {
          check(kernels::bf16ToFloatAddBias(stream, y.numel, h(lowOutput), bias, y.shape[1], y.shape[2] * y.shape[3], f(y.data)),
                where + "bf16ToFloatAddBias (output)");
        } else {
          check(kernels::bf16ToFloat(stream, y.numel, h(lowOutput), f(y.data), false), where + "bf16ToFloat (output)");
        }
        break;
      }
      checkCudnn(api.convolutionForward(cudnn, &one, node.xDesc, f(x.data), node.wDesc, state("weight"), node.forwardDesc,
                                        node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, &zero, node.yDesc,
                                        f(y.data)),
                 where + "cudnnConvolutionForward");
      if (float* bias = state("bias")) {
        checkCudnn(api.addTensor(cudnn, &one, node.biasDesc, bias, &one, node.yDesc, f(y.data)), where + "cudnnAddTensor (bias)");
      }
      break;
    }
    case Kind::Linear: {
      const float one = 1.0f, zero = 0.0f;
      if (node.ltReady) {
        // One cuBLASLt matmul: the product, its bias and (relu_bias, relu) the ReLU of the next node.
        const CublasApi& blas = cublasApi();
        const void* weight = options.bf16 ? static_cast<const void*>(lowState("weight")) : static_cast<const void*>(state("weight"));
        const void* input = options.bf16 ? static_cast<const void*>(h(x.low)) : static_cast<const void*>(f(x.data));
        checkCublas(blas.ltMatmul(lt, node.ltDesc, &one, weight, node.ltA, input, node.ltB, &zero, f(y.data), node.ltD, f(y.data),
                                  node.ltD, &node.ltAlgo, f(cublasWorkspace), kCublasWorkspaceBytes, stream),
                    where + "cublasLtMatmul (fused epilogue)");
        break;
      }
      // Row-major y[rows, out] = x[rows, in] · Wᵀ is column-major yᵀ = W·xᵀ, with W read transposed.
      if (options.bf16) {
        // bf16 operands, fp32 accumulation and an fp32 result written straight into the activation.
        checkCublas(cublasApi().gemmEx(cublas, kCublasOpT, kCublasOpN, static_cast<int>(node.outFeatures), static_cast<int>(node.rows),
                                       static_cast<int>(node.inFeatures), &one, lowState("weight"), CUDA_R_16BF,
                                       static_cast<int>(node.inFeatures), h(x.low), CUDA_R_16BF, static_cast<int>(node.inFeatures), &zero,
                                       f(y.data), CUDA_R_32F, static_cast<int>(node.outFeatures), kCublasCompute32F, kCublasGemmDefault),
                    where + "cublasGemmEx (forward, bf16)");
      } else {
        checkCublas(cublasApi().sgemm(cublas, kCublasOpT, kCublasOpN, static_cast<int>(node.outFeatures), static_cast<int>(node.rows),
                                      static_cast<int>(node.inFeatures), &one, state("weight"), static_cast<int>(node.inFeatures),
                                      f(x.data), static_cast<int>(node.inFeatures), &zero, f(y.data), static_cast<int>(node.outFeatures)),
                    where + "cublasSgemm (forward)");
      }
      if (float* bias = state("bias")) {
        check(kernels::addBiasRows(stream, node.rows, node.outFeatures, bias, f(y.data)), where + "addBiasRows");
      }
      break;
    }
    case Kind::Activation:
      if (node.fusedInto >= 0 && nodes[node.fusedInto].ltReady) break;  // the linear layer's epilogue computed it
      check(kernels::activationForward(stream, node.activation, node.parameter, x.numel, f(x.data), f(y.data)), where + "activationForward");
      break;
    case Kind::MaxPool:
      check(kernels::maxPoolForward(stream, node.pool, f(x.data), f(y.data), at<int32_t>(node.indices)), where + "maxPoolForward");
      break;
    case Kind::AvgPool:
      check(kernels::avgPoolForward(stream, node.pool, node.countIncludePad, node.divisorOverride, f(x.data), f(y.data)),
            where + "avgPoolForward");
      break;
    case Kind::AdaptiveAvgPool:
      check(kernels::adaptiveAvgPoolForward(stream, node.pool, f(x.data), f(y.data)), where + "adaptiveAvgPoolForward");
      break;
    case Kind::BatchNorm: {
      kernels::BatchNorm g = node.norm;
      g.training = training;
      if ((g.training || !g.track) && g.batch * g.inner <= 1) {
        throw std::invalid_argument(where + "needs more than one value per channel in training, got " + formatShape(x.shape));
      }
      check(kernels::batchNormForward(stream, g, f(x.data), state("weight"), state("bias"), state("running_mean"), state("running_var"),
                                      state("num_batches_tracked"), f(node.mean), f(node.invStd), f(y.data)),
            where + "batchNormForward");
      break;
    }
    case Kind::View:
      if (!node.alias) {
        check(kernels::scaleCopy(stream, x.numel, f(x.data), 1.0f, f(y.data), false), where + "scaleCopy");
      }
      break;
    case Kind::Add: {
      std::vector<const float*> operands;
      for (const int input : node.inputs) operands.push_back(f(values[input].data));
      check(kernels::addTensors(stream, y.numel, static_cast<int>(operands.size()), operands.data(), node.alpha, f(y.data)),
            where + "addTensors");
      break;
    }
    case Kind::Dropout:
      node.dropoutActive = (training || node.always) && node.p > 0.0f;
      if (node.dropoutActive) {
        check(kernels::dropoutForward(stream, x.numel, node.p, seed ^ kDropoutStream ^ static_cast<uint64_t>(node.output),
                                      at<uint64_t>(dropoutCounter), f(x.data), f(node.mask), f(y.data)),
              where + "dropoutForward");
      } else {
        check(kernels::scaleCopy(stream, x.numel, f(x.data), 1.0f, f(y.data), false), where + "scaleCopy");
      }
      break;
  }
}

void CudaExecutor::Impl::enqueueLoss() {
  if (!spec.loss) throw std::logic_error("the graph spec has no loss");
  const Value& prediction = values[valueIndex.at(spec.loss->input)];
  const Value& target = values[valueIndex.at(spec.loss->target)];
  if (!prediction.hasGrad) throw std::logic_error("the loss input \"" + spec.loss->input + "\" has no gradient buffer");
  if (spec.loss->op == "cross_entropy") {
    check(kernels::softmaxCrossEntropy(stream, prediction.shape[0], prediction.shape[1], f(prediction.data), f(target.data),
                                       spec.loss->labelSmoothing, at<double>(lossScratch), f(prediction.grad), f(lossValue),
                                       at<int32_t>(correctCount)),
          "softmaxCrossEntropy (loss)");
  } else {
    if (target.numel != prediction.numel) {
      throw std::invalid_argument("loss target \"" + spec.loss->target + "\" is " + formatShape(target.shape) + ", the prediction is " +
                                  formatShape(prediction.shape));
    }
    check(kernels::meanSquaredError(stream, prediction.numel, f(prediction.data), f(target.data), at<double>(lossScratch),
                                    f(prediction.grad), f(lossValue)),
          "meanSquaredError (loss)");
  }
  check(cudaMemcpyAsync(pinned + pinnedLoss, f(lossValue), sizeof(float), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (loss)");
  check(cudaMemcpyAsync(pinned + pinnedCorrect, at<int32_t>(correctCount), sizeof(int32_t), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync (correct rows)");
}

void CudaExecutor::Impl::enqueueBackward(bool inputGradients) {
  std::set<size_t> written{values[valueIndex.at(spec.loss->input)].grad};
  for (size_t n = nodes.size(); n-- > 0;) {
    Node& node = nodes[n];
    if (!node.reachesLoss || !values[node.output].hasGrad || written.count(values[node.output].grad) == 0) continue;
    backwardNode(node, written, inputGradients);
    if (syncEachNode && !capturing) {
      check(cudaStreamSynchronize(stream), "node \"" + node.spec->id + "\" (" + node.spec->op + ") backward");
    }
  }
  // A trainable parameter the loss does not reach gets a zero gradient, as on the CPU.
  for (const StateTensor& state : states) {
    if (state.trainable && written.count(state.grad) == 0) {
      check(cudaMemsetAsync(f(state.grad), 0, sizeof(float) * state.numel, stream), "cudaMemsetAsync (unused gradient)");
    }
  }
  if (inputGradients) {
    for (const Value& value : values) {
      if (value.graphInput && value.hasGrad && written.count(value.grad) == 0) {
        check(cudaMemsetAsync(f(value.grad), 0, sizeof(float) * value.numel, stream), "cudaMemsetAsync (input gradient)");
      }
    }
  }
}

void CudaExecutor::Impl::backwardNode(Node& node, std::set<size_t>& written, bool inputGradients) {
  const std::string where = "node \"" + node.spec->id + "\" (" + node.spec->op + "): ";
  const Value& y = values[node.output];
  // The gradient destination of input i, or null when none is wanted; `accumulate` when an earlier
  // consumer (later in forward order) already wrote it.
  const auto inputGrad = [&](size_t i, bool& accumulate) -> float* {
    const Value& x = values[node.inputs[i]];
    if (!x.hasGrad || (x.graphInput && !inputGradients)) return nullptr;
    accumulate = written.count(x.grad) != 0;
    written.insert(x.grad);
    return f(x.grad);
  };
  const auto paramGrad = [&](const char* role, bool& accumulate) -> float* {
    const auto found = node.roles.find(role);
    if (found == node.roles.end()) return nullptr;
    const StateTensor& state = states[node.states[found->second]];
    if (!state.trainable) return nullptr;
    accumulate = written.count(state.grad) != 0;
    written.insert(state.grad);
    return f(state.grad);
  };
  const auto state = [&](const char* role) -> float* {
    const auto found = node.roles.find(role);
    return found == node.roles.end() ? nullptr : f(states[node.states[found->second]].data);
  };
  const auto lowState = [&](const char* role) -> uint16_t* { return h(states[node.states[node.roles.at(role)]].low); };
  const Value& x = values[node.inputs[0]];
  bool accumulate = false;
  switch (node.kind) {
    case Kind::Conv: {
      const CudnnApi& api = cudnnApi();
      const float one = 1.0f, zero = 0.0f;
      bool accumulateWeight = false, accumulateBias = false;
      if (options.bf16) {
        // The output gradient as bf16 once; each bf16 result (weight, then input gradient) lands in the
        // input scratch and is widened into its fp32 gradient, accumulating as the fp32 path does.
        check(kernels::floatToBf16(stream, y.numel, f(y.grad), h(lowOutput)), where + "floatToBf16 (output gradient)");
        if (float* dw = paramGrad("weight", accumulateWeight)) {
          checkCudnn(api.convolutionBackwardFilter(cudnn, &one, node.xLowDesc, h(x.low), node.yLowDesc, h(lowOutput), node.filterDesc,
                                                   node.algorithms.backwardFilter, f(workspace), node.algorithms.backwardFilterBytes,
                                                   &zero, node.wLowDesc, h(lowInput)),
                     where + "cudnnConvolutionBackwardFilter (bf16)");
          const int64_t weightCount = states[node.states[node.roles.at("weight")]].numel;
          check(kernels::bf16ToFloat(stream, weightCount, h(lowInput), dw, accumulateWeight), where + "bf16ToFloat (weight gradient)");
        }
        if (float* db = paramGrad("bias", accumulateBias)) {
          checkCudnn(api.convolutionBackwardBias(cudnn, &one, node.yDesc, f(y.grad), accumulateBias ? &one : &zero, node.biasDesc, db),
                     where + "cudnnConvolutionBackwardBias");
        }
        if (float* dx = inputGrad(0, accumulate)) {
          checkCudnn(api.convolutionBackwardData(cudnn, &one, node.wLowDesc, lowState("weight"), node.yLowDesc, h(lowOutput),
                                                 node.dataDesc, node.algorithms.backwardData, f(workspace),
                                                 node.algorithms.backwardDataBytes, &zero, node.xLowDesc, h(lowInput)),
                     where + "cudnnConvolutionBackwardData (bf16)");
          check(kernels::bf16ToFloat(stream, x.numel, h(lowInput), dx, accumulate), where + "bf16ToFloat (input gradient)");
        }
        break;
      }
      if (float* dw = paramGrad("weight", accumulateWeight)) {
        checkCudnn(api.convolutionBackwardFilter(cudnn, &one, node.xDesc, f(x.data), node.yDesc, f(y.grad), node.filterDesc,
                                                 node.algorithms.backwardFilter, f(workspace), node.algorithms.backwardFilterBytes,
                                                 accumulateWeight ? &one : &zero, node.wDesc, dw),
                   where + "cudnnConvolutionBackwardFilter");
      }
      if (float* db = paramGrad("bias", accumulateBias)) {
        checkCudnn(api.convolutionBackwardBias(cudnn, &one, node.yDesc, f(y.grad), accumulateBias ? &one : &zero, node.biasDesc, db),
                   where + "cudnnConvolutionBackwardBias");
      }
      if (float* dx = inputGrad(0, accumulate)) {
        checkCudnn(api.convolutionBackwardData(cudnn, &one, node.wDesc, state("weight"), node.yDesc, f(y.grad), node.dataDesc,
                                               node.algorithms.backwardData, f(workspace), node.algorithms.backwardDataBytes,
                                               accumulate ? &one : &zero, node.xDesc, dx),
                   where + "cudnnConvolutionBackwardData");
      }
      break;
    }
    case Kind::Linear: {
      const float one = 1.0f, zero = 0.0f;
      const int rows = static_cast<int>(node.rows), in = static_cast<int>(node.inFeatures), out = static_cast<int>(node.outFeatures);
      bool accumulateWeight = false, accumulateBias = false;
      if (options.bf16) {
        // bf16 operands (the output gradient cast once, the saved bf16 input and weight); cuBLAS
        // accumulates in fp32 and writes (or adds into) the fp32 gradients directly.
        check(kernels::floatToBf16(stream, y.numel, f(y.grad), h(lowOutput)), where + "floatToBf16 (output gradient)");
        if (float* dw = paramGrad("weight", accumulateWeight)) {
          checkCublas(cublasApi().gemmEx(cublas, kCublasOpN, kCublasOpT, in, out, rows, &one, h(x.low), CUDA_R_16BF, in, h(lowOutput),
                                         CUDA_R_16BF, out, accumulateWeight ? &one : &zero, dw, CUDA_R_32F, in, kCublasCompute32F,
                                         kCublasGemmDefault),
                      where + "cublasGemmEx (weight gradient, bf16)");
        }
        if (float* db = paramGrad("bias", accumulateBias)) {
          check(kernels::sumRows(stream, node.rows, node.outFeatures, f(y.grad), db, accumulateBias), where + "sumRows (bias gradient)");
        }
        if (float* dx = inputGrad(0, accumulate)) {
          checkCublas(cublasApi().gemmEx(cublas, kCublasOpN, kCublasOpN, in, rows, out, &one, lowState("weight"), CUDA_R_16BF, in,
                                         h(lowOutput), CUDA_R_16BF, out, accumulate ? &one : &zero, dx, CUDA_R_32F, in,
                                         kCublasCompute32F, kCublasGemmDefault),
                      where + "cublasGemmEx (input gradient, bf16)");
        }
        break;
      }
      if (float* dw = paramGrad("weight", accumulateWeight)) {
        // dW[out, in] = dyᵀ·x: column-major dWᵀ = xᵀ·dy.
        checkCublas(cublasApi().sgemm(cublas, kCublasOpN, kCublasOpT, in, out, rows, &one, f(x.data), in, f(y.grad), out,
                                      accumulateWeight ? &one : &zero, dw, in),
                    where + "cublasSgemm (weight gradient)");
      }
      if (float* db = paramGrad("bias", accumulateBias)) {
        check(kernels::sumRows(stream, node.rows, node.outFeatures, f(y.grad), db, accumulateBias), where + "sumRows (bias gradient)");
      }
      if (float* dx = inputGrad(0, accumulate)) {
        // dx[rows, in] = dy·W: column-major dxᵀ = Wᵀ·dyᵀ, W read as stored.
        checkCublas(cublasApi().sgemm(cublas, kCublasOpN, kCublasOpN, in, rows, out, &one, state("weight"), in, f(y.grad), out,
                                      accumulate ? &one : &zero, dx, in),
                    where + "cublasSgemm (input gradient)");
      }
      break;
    }
    case Kind::Activation:
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::activationBackward(stream, node.activation, node.parameter, x.numel, f(x.data), f(y.data), f(y.grad), dx, accumulate),
              where + "activationBackward");
      }
      break;
    case Kind::MaxPool:
    case Kind::AvgPool:
    case Kind::AdaptiveAvgPool:
      if (float* dx = inputGrad(0, accumulate)) {
        // The windows scatter into dx, so it starts from zero unless it already holds a gradient.
        if (!accumulate) check(cudaMemsetAsync(dx, 0, sizeof(float) * x.numel, stream), where + "cudaMemsetAsync");
        if (node.kind == Kind::MaxPool) {
          check(kernels::maxPoolBackward(stream, node.pool, f(y.grad), at<int32_t>(node.indices), dx), where + "maxPoolBackward");
        } else if (node.kind == Kind::AvgPool) {
          check(kernels::avgPoolBackward(stream, node.pool, node.countIncludePad, node.divisorOverride, f(y.grad), dx),
                where + "avgPoolBackward");
        } else {
          check(kernels::adaptiveAvgPoolBackward(stream, node.pool, f(y.grad), dx), where + "adaptiveAvgPoolBackward");
        }
      }
      break;
    case Kind::BatchNorm: {
      kernels::BatchNorm g = node.norm;
      g.training = training;
      bool accumulateGamma = false, accumulateBeta = false;
      float* dgamma = paramGrad("weight", accumulateGamma);
      float* dbeta = paramGrad("bias", accumulateBeta);
      if (accumulateGamma != accumulateBeta && dgamma && dbeta) {
        throw SpecError(where + "the CUDA executor needs weight and bias shared together or not at all");
      }
      float* dx = inputGrad(0, accumulate);
      check(kernels::batchNormBackward(stream, g, f(x.data), state("weight"), f(node.mean), f(node.invStd), f(y.grad), dx, accumulate,
                                       dgamma, dbeta, accumulateGamma || accumulateBeta),
            where + "batchNormBackward");
      break;
    }
    case Kind::View:
      if (node.alias) {
        written.insert(x.grad);  // the same memory as this node's output gradient
      } else if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::scaleCopy(stream, x.numel, f(y.grad), 1.0f, dx, accumulate), where + "scaleCopy");
      }
      break;
    case Kind::Add:
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (float* dx = inputGrad(i, accumulate)) {
          const float scale = node.inputs.size() == 2 && i == 1 ? node.alpha : 1.0f;
          check(kernels::scaleCopy(stream, y.numel, f(y.grad), scale, dx, accumulate), where + "scaleCopy");
        }
      }
      break;
    case Kind::Dropout:
      if (float* dx = inputGrad(0, accumulate)) {
        if (node.dropoutActive) {
          check(kernels::multiplyMask(stream, x.numel, f(y.grad), f(node.mask), dx, accumulate), where + "multiplyMask");
        } else {
          check(kernels::scaleCopy(stream, x.numel, f(y.grad), 1.0f, dx, accumulate), where + "scaleCopy");
        }
      }
      break;
  }
}

void CudaExecutor::Impl::enqueueOptimizer() {
  check(kernels::optimizerUpdate(stream, optimizerConfig, at<kernels::OptimizerChunk>(chunkTable), static_cast<int>(chunks.size()),
                                 at<kernels::OptimizerStep>(stepParams), f(lossValue)),
        "optimizerUpdate");
}

Tensor CudaExecutor::Impl::download(size_t offset, const Shape& shape) const {
  Tensor tensor(shape);
  if (shape.empty()) tensor.data.assign(1, 0.0f);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  check(cudaMemcpy(tensor.ptr(), f(offset), sizeof(float) * tensor.data.size(), cudaMemcpyDeviceToHost), "cudaMemcpy (download)");
  return tensor;
}

// ---- the public face -----------------------------------------------------------------------------

std::string CudaExecutor::unsupportedReason(const GraphSpec& spec) {
  for (const NodeSpec& node : spec.nodes) {
    if (supportedKinds().count(node.op) == 0) {
      return "node \"" + node.id + "\" (" + node.op + "): not supported by the CUDA executor yet (it runs " + supportedList() + ")";
    }
  }
  if (spec.loss && spec.loss->op != "cross_entropy" && spec.loss->op != "mse") {
    return "loss: \"" + spec.loss->op + "\" is not supported by the CUDA executor (cross_entropy, mse)";
  }
  return {};
}

CudaExecutor::CudaExecutor(GraphSpec spec, uint64_t seed, CudaOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->spec = std::move(spec);
  impl_->options = options;
  impl_->seed = seed;
  const char* sync = std::getenv("NETLENS_CUDA_SYNC");
  impl_->syncEachNode = sync != nullptr && std::string(sync) == "1";
  if (options.tf32 && options.bf16) throw std::invalid_argument("CudaOptions: tf32 and bf16 exclude each other (choose one precision)");
  std::string unavailable;
  if (!cudaExecutorAvailable(&unavailable)) throw CudaError("the CUDA executor cannot run here: " + unavailable);
  check(cudaSetDevice(0), "cudaSetDevice");
  if (options.bf16) {
    // cuDNN's bf16 convolutions and cuBLAS's bf16 GEMMs need Ampere (8.0) or newer.
    int major = 0, minor = 0;
    check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), "cudaDeviceGetAttribute");
    check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0), "cudaDeviceGetAttribute");
    if (major < 8) {
      throw CudaError("precision bf16 needs a GPU of compute capability 8.0 (Ampere) or newer; GPU 0 is " + std::to_string(major) + "." +
                      std::to_string(minor) + " (use fp32 or tf32)");
    }
  }
  check(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  checkCudnn(cudnnApi().create(&impl_->cudnn), "cudnnCreate");
  checkCudnn(cudnnApi().setStream(impl_->cudnn, impl_->stream), "cudnnSetStream");
  checkCublas(cublasApi().create(&impl_->cublas), "cublasCreate");
  checkCublas(cublasApi().setStream(impl_->cublas, impl_->stream), "cublasSetStream");
  checkCublas(cublasApi().setMathMode(impl_->cublas, options.tf32 ? kCublasTf32TensorOpMath : kCublasDefaultMath), "cublasSetMathMode");
  impl_->build(seed);
  // cuBLAS gets its workspace from the plan, so nothing is allocated while a graph is captured.
  checkCublas(cublasApi().setWorkspace(impl_->cublas, impl_->f(impl_->cublasWorkspace), kCublasWorkspaceBytes), "cublasSetWorkspace");
}

CudaExecutor::~CudaExecutor() = default;

const GraphSpec& CudaExecutor::spec() const { return impl_->spec; }
const MemoryPlan& CudaExecutor::plan() const { return impl_->plan; }

std::vector<AlgorithmChoice> CudaExecutor::algorithmChoices() const {
  std::vector<AlgorithmChoice> choices;
  for (const Node& node : impl_->nodes) {
    if (node.kind != Kind::Conv) continue;
    const ConvAlgorithms& a = node.algorithms;
    const int algorithms[3] = {static_cast<int>(a.forward), static_cast<int>(a.backwardData), static_cast<int>(a.backwardFilter)};
    const size_t bytes[3] = {a.forwardBytes, a.backwardDataBytes, a.backwardFilterBytes};
    for (int d = 0; d < 3; ++d) {
      choices.push_back({node.spec->id, kDirectionNames[d], algorithms[d], bytes[d], a.source[d], a.milliseconds[d]});
    }
  }
  return choices;
}

std::vector<EpilogueChoice> CudaExecutor::epilogues() const {
  std::vector<EpilogueChoice> result;
  for (const Node& node : impl_->nodes) {
    if (node.epilogue == 0) continue;
    const std::string name = node.epilogue == kLtEpilogueReluBias ? "relu_bias" : node.epilogue == kLtEpilogueRelu ? "relu" : "bias";
    const std::string activation = node.fusedActivation >= 0 ? impl_->nodes[node.fusedActivation].spec->id : "";
    result.push_back({node.spec->id, name, activation, node.ltReady, node.ltNote});
  }
  return result;
}

const std::vector<std::string>& CudaExecutor::notices() const { return impl_->notices; }

std::string CudaExecutor::describeAlgorithms() const {
  const Impl& impl = *impl_;
  std::string text;
  const auto source = [](const ConvAlgorithms& a, int d) {
    if (a.source[d] == "heuristic") return std::string();
    char ms[48];
    std::snprintf(ms, sizeof ms, ", %s %.3f ms", a.source[d] == "cache" ? "cached" : "timed", a.milliseconds[d]);
    return std::string(ms);
  };
  for (const Node& node : impl.nodes) {
    if (node.kind != Kind::Conv) continue;
    const ConvAlgorithms& a = node.algorithms;
    text += node.spec->id + ": forward algo " + std::to_string(static_cast<int>(a.forward)) + " (" + mib(a.forwardBytes) + source(a, 0) +
            "), backward-data algo " + std::to_string(static_cast<int>(a.backwardData)) + " (" + mib(a.backwardDataBytes) + source(a, 1) +
            "), backward-filter algo " + std::to_string(static_cast<int>(a.backwardFilter)) + " (" + mib(a.backwardFilterBytes) +
            source(a, 2) + ")\n";
  }
  for (const EpilogueChoice& choice : epilogues()) {
    text += choice.node + ": cuBLASLt " + choice.epilogue + " epilogue" +
            (choice.activation.empty() ? std::string() : " (computes \"" + choice.activation + "\")") +
            (choice.active ? std::string() : " not used: " + choice.note) + "\n";
  }
  if (impl.options.autotune) {
    text += "autotune: " + std::to_string(impl.timed) + " timed, " + std::to_string(impl.fromCache) + " from the cache, " +
            std::to_string(impl.heuristicFallbacks) + " left to the heuristics; cache " +
            (impl.autotunePath.empty() ? std::string("in memory only") : impl.autotunePath) + "\n";
  }
  for (const std::string& notice : impl.notices) text += "notice: " + notice + "\n";
  return text;
}

const std::vector<std::string>& CudaExecutor::stateNames() const { return impl_->stateNames; }

bool CudaExecutor::isTrainable(const std::string& name) const {
  const auto found = impl_->stateIndex.find(name);
  return found != impl_->stateIndex.end() && impl_->states[found->second].trainable;
}

Shape CudaExecutor::inputShape(const std::string& inputName) const {
  const auto found = impl_->valueIndex.find(inputName);
  if (found == impl_->valueIndex.end() || !impl_->values[found->second].graphInput) {
    throw std::out_of_range("the graph has no input \"" + inputName + "\"");
  }
  return impl_->values[found->second].shape;
}

Tensor CudaExecutor::state(const std::string& name) const {
  const auto found = impl_->stateIndex.find(name);
  if (found == impl_->stateIndex.end()) throw std::out_of_range("no parameter or buffer named \"" + name + "\"");
  const StateTensor& s = impl_->states[found->second];
  return impl_->download(s.data, s.shape);
}

void CudaExecutor::setState(const std::string& name, const Tensor& value) {
  const auto found = impl_->stateIndex.find(name);
  if (found == impl_->stateIndex.end()) throw std::out_of_range("no parameter or buffer named \"" + name + "\"");
  const StateTensor& s = impl_->states[found->second];
  if (value.numel() != std::max<int64_t>(s.numel, 1)) {
    throw std::invalid_argument("\"" + name + "\" is " + formatShape(s.shape) + ", got " + formatShape(value.shape));
  }
  check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize");
  check(cudaMemcpy(impl_->f(s.data), value.ptr(), sizeof(float) * value.data.size(), cudaMemcpyHostToDevice), "cudaMemcpy (setState)");
}

void CudaExecutor::setTraining(bool training) { impl_->training = training; }

void CudaExecutor::forward(const TensorMap& inputs) {
  if (impl_->inFlight) throw std::logic_error("forward: a training step is in flight (call finishStep)");
  // A staged batch waits for its launchStep: use the other slot.
  const int slot = impl_->staged ? 1 - impl_->stagedSlot : impl_->stagedSlot;
  impl_->uploadInputs(inputs, slot);
  impl_->prepareStep();
  impl_->enqueueInputs(slot);
  impl_->enqueueStepParameters();
  impl_->enqueueForward();
  check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize (forward)");
}

Tensor CudaExecutor::value(const std::string& id) const {
  const auto found = impl_->valueIndex.find(id);
  if (found == impl_->valueIndex.end()) throw std::out_of_range("no value for \"" + id + "\"");
  const Value& v = impl_->values[found->second];
  if (v.producer >= 0 && impl_->nodes[v.producer].fusedActivation >= 0) {
    const Node& relu = impl_->nodes[impl_->nodes[v.producer].fusedActivation];
    throw std::out_of_range("no value for \"" + id + "\": its ReLU \"" + relu.spec->id +
                            "\" is fused into its epilogue, which keeps no pre-activation (CudaOptions::fuseEpilogues = false keeps it)");
  }
  return impl_->download(v.data, v.shape);
}

double CudaExecutor::lossBackward(const TensorMap& inputs, bool inputGradients) {
  if (impl_->inFlight) throw std::logic_error("lossBackward: a training step is in flight (call finishStep)");
  // A staged batch waits for its launchStep: use the other slot.
  const int slot = impl_->staged ? 1 - impl_->stagedSlot : impl_->stagedSlot;
  impl_->uploadInputs(inputs, slot);
  impl_->prepareStep();
  impl_->enqueueInputs(slot);
  impl_->enqueueStepParameters();
  impl_->enqueueForward();
  impl_->enqueueLoss();
  impl_->enqueueBackward(inputGradients);
  check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize (loss and backward)");
  return impl_->readLoss();
}

Tensor CudaExecutor::gradient(const std::string& stateName) const {
  const auto found = impl_->stateIndex.find(stateName);
  if (found == impl_->stateIndex.end() || !impl_->states[found->second].trainable) {
    throw std::out_of_range("no gradient for \"" + stateName + "\" (not a trainable parameter)");
  }
  const StateTensor& s = impl_->states[found->second];
  return impl_->download(s.grad, s.shape);
}

Tensor CudaExecutor::inputGradient(const std::string& inputName) const {
  const auto found = impl_->valueIndex.find(inputName);
  if (found == impl_->valueIndex.end() || !impl_->values[found->second].graphInput || !impl_->values[found->second].hasGrad) {
    throw std::out_of_range("no gradient for input \"" + inputName + "\"");
  }
  const Value& v = impl_->values[found->second];
  return impl_->download(v.grad, v.shape);
}

double CudaExecutor::trainStep(const TensorMap& inputs) {
  launchStep(inputs);
  return finishStep();
}

void CudaExecutor::launchStep(const TensorMap& inputs) {
  if (impl_->inFlight) throw std::logic_error("launchStep: the previous step was not finished (call finishStep)");
  stageInputs(inputs);
  launchStep();
}

void CudaExecutor::stageInputs(const TensorMap& inputs) {
  Impl& impl = *impl_;
  // The in-flight step's input copy may still read its slot: write the other one.
  const int slot = impl.inFlight ? 1 - impl.inFlightSlot : impl.stagedSlot;
  impl.uploadInputs(inputs, slot);
  impl.stagedSlot = slot;
  impl.staged = true;
}

void CudaExecutor::launchStep() {
  Impl& impl = *impl_;
  if (impl.inFlight) throw std::logic_error("launchStep: the previous step was not finished (call finishStep)");
  if (!impl.staged) throw std::logic_error("launchStep: no batch was staged (call stageInputs)");
  if (!impl.spec.optimizer) throw std::logic_error("the graph spec has no optimizer");
  if (!impl.spec.loss) throw std::logic_error("the graph spec has no loss");
  impl.prepareStep();
  // In stream order before the step (eager or replayed): the batch from its staging slot.
  impl.enqueueInputs(impl.stagedSlot);
  const auto enqueueStep = [&] {
    impl.enqueueStepParameters();
    impl.enqueueForward();
    impl.enqueueLoss();
    impl.enqueueBackward(false);
    impl.enqueueOptimizer();
  };
  if (impl.options.cudaGraph) {
    if (impl.graphExec != nullptr && impl.graphTraining != impl.training) {
      check(cudaStreamSynchronize(impl.stream), "cudaStreamSynchronize (graph of the other mode)");
      cudaGraphExecDestroy(impl.graphExec);
      cudaGraphDestroy(impl.graph);
      impl.graphExec = nullptr;
      impl.graph = nullptr;
    }
    if (impl.graphExec == nullptr && !impl.warmedUp) {
      // The first step runs eagerly: cuBLAS and cuDNN initialize lazily on their first calls (module
      // loading, heuristics caches), which must not happen inside a capture.
      enqueueStep();
      impl.warmedUp = true;
    } else if (impl.graphExec == nullptr) {
      check(cudaStreamBeginCapture(impl.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
      impl.capturing = true;
      try {
        enqueueStep();
        impl.capturing = false;
      } catch (...) {
        impl.capturing = false;
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(impl.stream, &partial);
        if (partial) cudaGraphDestroy(partial);
        cudaGetLastError();
        throw;
      }
      check(cudaStreamEndCapture(impl.stream, &impl.graph), "cudaStreamEndCapture");
      check(cudaGraphInstantiate(&impl.graphExec, impl.graph, 0), "cudaGraphInstantiate");
      impl.graphTraining = impl.training;
    }
    if (impl.graphExec != nullptr) check(cudaGraphLaunch(impl.graphExec, impl.stream), "cudaGraphLaunch");
  } else {
    enqueueStep();
  }
  impl.inFlightSlot = impl.stagedSlot;
  impl.staged = false;
  impl.inFlight = true;
}

double CudaExecutor::finishStep() {
  Impl& impl = *impl_;
  if (!impl.inFlight) throw std::logic_error("finishStep: no step was launched");
  impl.inFlight = false;
  check(cudaStreamSynchronize(impl.stream), "cudaStreamSynchronize (training step)");
  const double loss = impl.readLoss();
  if (!std::isfinite(loss)) {
    throw std::runtime_error("training loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
                             std::to_string(impl.steps + 1) + "; the parameters were not updated");
  }
  impl.lastCorrect = impl.spec.loss->op == "cross_entropy" ? *reinterpret_cast<const int32_t*>(impl.pinned + impl.pinnedCorrect) : -1;
  impl.steps += 1;
  return loss;
}

bool CudaExecutor::stepInFlight() const { return impl_->inFlight; }

double CudaExecutor::learningRate() const {
  return impl_->spec.optimizer ? scheduledLearningRate(*impl_->spec.optimizer, impl_->steps) : 0.0;
}

namespace {

/** torch.optim's slot names for the optimizer kinds the CUDA executor runs (as Optimizer::exportState). */
std::vector<std::string> optimizerSlots(const OptimizerSpec& spec) {
  if (spec.type == "adam" || spec.type == "adamw") return {"exp_avg", "exp_avg_sq"};
  if (spec.type == "sgd") return spec.momentum != 0.0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  std::vector<std::string> slots{"square_avg"};
  if (spec.centered) slots.emplace_back("grad_avg");
  if (spec.momentum > 0.0) slots.emplace_back("momentum_buffer");
  return slots;
}

/** Where a slot of `state` lives on the device (kernels::OptimizerChunk's first/second/third), or null. */
const size_t* deviceSlot(const StateTensor& state, const OptimizerSpec& spec, const std::string& slot) {
  const bool rmsprop = spec.type == "rmsprop";
  if (slot == "exp_avg_sq" || slot == "grad_avg") return state.hasSecond ? &state.second : nullptr;
  if (slot == "momentum_buffer" && rmsprop) return state.hasThird ? &state.third : nullptr;
  return state.hasFirst ? &state.first : nullptr;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> CudaExecutor::exportOptimizerState() const {
  const Impl& impl = *impl_;
  std::vector<std::pair<std::string, Tensor>> tensors;
  if (!impl.spec.optimizer || impl.steps == 0) return tensors;
  const std::vector<std::string> slots = optimizerSlots(*impl.spec.optimizer);
  // Parameter names in sorted order, as the CPU optimizer's map holds them.
  std::map<std::string, const StateTensor*> trainable;
  for (const StateTensor& state : impl.states) {
    if (state.trainable) trainable[state.name] = &state;
  }
  for (const auto& [name, state] : trainable) {
    for (const std::string& slot : slots) {
      const size_t* offset = deviceSlot(*state, *impl.spec.optimizer, slot);
      if (offset == nullptr) throw std::logic_error("optimizer state: no device slot for \"" + name + "." + slot + "\"");
      tensors.emplace_back(name + "." + slot, impl.download(*offset, state->shape));
    }
    tensors.emplace_back(name + ".step", Tensor({1}, {static_cast<float>(impl.steps)}));
  }
  return tensors;
}

void CudaExecutor::setOptimizerState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps) {
  Impl& impl = *impl_;
  if (!impl.spec.optimizer) throw std::logic_error("the graph spec has no optimizer");
  if (impl.inFlight) throw std::logic_error("setOptimizerState: a training step is in flight");
  // The CPU optimizer checks the names, slots and shapes with its own messages; its normalized copy
  // is what gets uploaded, so both executors accept and refuse the same files.
  std::map<std::string, Shape> shapes;
  for (const StateTensor& state : impl.states) {
    if (state.trainable) shapes[state.name] = state.shape;
  }
  Optimizer checked(*impl.spec.optimizer);
  checked.importState(tensors, steps, shapes);
  for (const auto& [key, tensor] : tensors) {
    if (key.size() > 5 && key.compare(key.size() - 5, 5, ".step") == 0 && tensor.numel() == 1 &&
        static_cast<int64_t>(tensor.data[0]) != steps) {
      throw std::invalid_argument("optimizer state: \"" + key + "\" counts " + std::to_string(static_cast<int64_t>(tensor.data[0])) +
                                  " steps but the optimizer " + std::to_string(steps) +
                                  "; the CUDA executor steps every parameter together");
    }
  }
  check(cudaStreamSynchronize(impl.stream), "cudaStreamSynchronize");
  for (const auto& [key, tensor] : checked.exportState()) {
    const size_t dot = key.rfind('.');
    const std::string parameter = key.substr(0, dot);
    const std::string slot = key.substr(dot + 1);
    if (slot == "step") continue;
    const StateTensor& state = impl.states[impl.stateIndex.at(parameter)];
    const size_t* offset = deviceSlot(state, *impl.spec.optimizer, slot);
    if (offset == nullptr) throw std::logic_error("optimizer state: no device slot for \"" + key + "\"");
    check(cudaMemcpy(impl.f(*offset), tensor.ptr(), sizeof(float) * tensor.data.size(), cudaMemcpyHostToDevice),
          "cudaMemcpy (optimizer state \"" + key + "\")");
  }
  impl.steps = steps;
}

int64_t CudaExecutor::lastStepCorrect() const { return impl_->lastCorrect; }
bool CudaExecutor::graphCaptured() const { return impl_->graphExec != nullptr; }
int64_t CudaExecutor::stepsTaken() const { return impl_->steps; }

}  // namespace netlens::cuda

#else  // built without cuDNN headers: the executor explains why it cannot be built

namespace netlens::cuda {

std::string MemoryPlan::describe() const { return "no memory plan (the CUDA executor is not compiled in)"; }

struct CudaExecutor::Impl {};

CudaExecutor::CudaExecutor(GraphSpec, uint64_t, CudaOptions) {
  std::string reason;
  cudaExecutorAvailable(&reason);
  throw CudaError(reason);
}
CudaExecutor::~CudaExecutor() = default;
const GraphSpec& CudaExecutor::spec() const { throw CudaError("the CUDA executor is not compiled in"); }
const MemoryPlan& CudaExecutor::plan() const { throw CudaError("the CUDA executor is not compiled in"); }
std::string CudaExecutor::describeAlgorithms() const { return {}; }
std::vector<AlgorithmChoice> CudaExecutor::algorithmChoices() const { return {}; }
std::vector<EpilogueChoice> CudaExecutor::epilogues() const { return {}; }
const std::vector<std::string>& CudaExecutor::notices() const {
  static const std::vector<std::string> none;
  return none;
}
const std::vector<std::string>& CudaExecutor::stateNames() const { throw CudaError("the CUDA executor is not compiled in"); }
Tensor CudaExecutor::state(const std::string&) const { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::setState(const std::string&, const Tensor&) { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::setTraining(bool) {}
void CudaExecutor::forward(const TensorMap&) { throw CudaError("the CUDA executor is not compiled in"); }
Tensor CudaExecutor::value(const std::string&) const { throw CudaError("the CUDA executor is not compiled in"); }
double CudaExecutor::lossBackward(const TensorMap&, bool) { throw CudaError("the CUDA executor is not compiled in"); }
Tensor CudaExecutor::gradient(const std::string&) const { throw CudaError("the CUDA executor is not compiled in"); }
Tensor CudaExecutor::inputGradient(const std::string&) const { throw CudaError("the CUDA executor is not compiled in"); }
double CudaExecutor::trainStep(const TensorMap&) { throw CudaError("the CUDA executor is not compiled in"); }
std::string CudaExecutor::unsupportedReason(const GraphSpec&) { return {}; }
bool CudaExecutor::isTrainable(const std::string&) const { return false; }
Shape CudaExecutor::inputShape(const std::string&) const { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::launchStep(const TensorMap&) { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::stageInputs(const TensorMap&) { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::launchStep() { throw CudaError("the CUDA executor is not compiled in"); }
double CudaExecutor::finishStep() { throw CudaError("the CUDA executor is not compiled in"); }
bool CudaExecutor::stepInFlight() const { return false; }
double CudaExecutor::learningRate() const { return 0.0; }
std::vector<std::pair<std::string, Tensor>> CudaExecutor::exportOptimizerState() const { throw CudaError("the CUDA executor is not compiled in"); }
void CudaExecutor::setOptimizerState(const std::vector<std::pair<std::string, Tensor>>&, int64_t) {
  throw CudaError("the CUDA executor is not compiled in");
}
int64_t CudaExecutor::lastStepCorrect() const { return -1; }
bool CudaExecutor::graphCaptured() const { return false; }
int64_t CudaExecutor::stepsTaken() const { return 0; }

}  // namespace netlens::cuda

#endif
