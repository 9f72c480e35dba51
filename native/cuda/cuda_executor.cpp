// The CUDA executor (see cuda_executor.h). Host code only: kernels live in cuda_kernels.cu, cuDNN and
// cuBLAS are called through the dlopen'ed tables of cuda_libraries.h.
#include "cuda_executor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <set>

#include "cuda_backend.h"

#ifdef NETLENS_WITH_CUDNN

#include "autotune_cache.h"
#include "cuda_kernels.h"
#include "cuda_kernels_norm.h"
#include "cuda_kernels_pointwise.h"
#include "cuda_kernels_sampling.h"
#include "layout_kernels.h"
#include "optimizer_setup.h"
#include "recurrent_kernels.h"
#include "recurrent_schedule.h"
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

enum class Kind { Conv, Linear, Activation, MaxPool, AvgPool, AdaptiveAvgPool, BatchNorm, View, Add, Dropout, Layout,
                  ConvTranspose, Interpolate, Embedding, Matmul, AdaptiveMaxPool, MaxUnpool, LocalResponseNorm,
                  Pointwise, Binary, Softmax, LayerNorm, Reduce, Cat, Slice, Permute, PRelu, Recurrent, RecurrentState };

const std::map<std::string, Kind>& supportedKinds() {
  static const std::map<std::string, Kind> kinds{
      // element-wise, shape and normalization ops (cuda_kernels_pointwise.cu, cuda_kernels_norm.cu)
      {"hardswish", Kind::Pointwise},  {"elu", Kind::Pointwise},        {"selu", Kind::Pointwise},
      {"celu", Kind::Pointwise},       {"softplus", Kind::Pointwise},   {"hardsigmoid", Kind::Pointwise},
      {"hardtanh", Kind::Pointwise},   {"mish", Kind::Pointwise},       {"softsign", Kind::Pointwise},
      {"logsigmoid", Kind::Pointwise}, {"tanhshrink", Kind::Pointwise}, {"softshrink", Kind::Pointwise},
      {"hardshrink", Kind::Pointwise}, {"exp", Kind::Pointwise},        {"log", Kind::Pointwise},
      {"sqrt", Kind::Pointwise},       {"rsqrt", Kind::Pointwise},      {"abs", Kind::Pointwise},
      {"pow", Kind::Pointwise},        {"clamp", Kind::Pointwise},      {"prelu", Kind::PRelu},
      {"sub", Kind::Binary},           {"mul", Kind::Binary},           {"div", Kind::Binary},
      {"softmax", Kind::Softmax},      {"log_softmax", Kind::Softmax},  {"layer_norm", Kind::LayerNorm},
      {"mean", Kind::Reduce},          {"sum", Kind::Reduce},           {"cat", Kind::Cat},
      {"narrow", Kind::Slice},         {"select", Kind::Slice},         {"permute", Kind::Permute},
      // Sampling and indexing ops (cuda_kernels_sampling.cu, cuDNN for conv_transpose2d, cuBLAS for matmul).
      {"conv_transpose2d", Kind::ConvTranspose}, {"interpolate", Kind::Interpolate}, {"embedding", Kind::Embedding},
      {"matmul", Kind::Matmul}, {"adaptive_max_pool2d", Kind::AdaptiveMaxPool}, {"max_unpool2d", Kind::MaxUnpool},
      {"local_response_norm", Kind::LocalResponseNorm},
      // LSTM / GRU: cuBLAS GEMMs around the step kernels of recurrent_kernels.cu (recurrent_schedule.h).
      {"lstm", Kind::Recurrent}, {"gru", Kind::Recurrent}, {"recurrent_state", Kind::RecurrentState},
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
  // channels-last mode: stored NHWC (only where the layout changes the bytes: 4-D, C > 1, H·W > 1);
  // inputCopy: the NHWC copy of a graph input (no gradient wanted when the input's is not).
  bool nhwc = false;
  bool inputCopy = false;
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
  // channels-last mode: a conv filter [K, C/groups, R, S] stored [K, R, S, C/groups] (cuDNN's NHWC
  // filter layout), with its gradient and optimizer slots; state()/gradient()/… convert at the boundary.
  bool channelsLast = false;
};

constexpr size_t kNoBuffer = std::numeric_limits<size_t>::max();

// Plan offsets of an lstm/gru node's buffers (recurrent::Buffers once the arena exists), all in "other";
// kNoBuffer where recurrent::planBuffers needs none.
using RecurrentOffsets = recurrent::BufferPlan<size_t>;

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
  // element-wise, shape and normalization kinds (layer norm keeps its statistics in mean/invStd above)
  kernels::ElementwisePlan elementwise;
  // conv_transpose2d keeps the convolution fields above for the equivalent convolution, which runs from
  // this node's output to its input (cuDNN's backward-data is its forward); adaptive_max_pool2d and
  // max_unpool2d use `pool` (extents only) and `indices` (the unpool reads its max_pool2d node's).
  int indexSource = -1;  // max_unpool2d: the max_pool2d node whose indices place the values
  // interpolate
  sampling::ResizeAxis resizeRows{}, resizeCols{};
  // embedding
  int64_t tableRows = 0, tableColumns = 0, paddingRow = -1;
  // matmul: the broadcast plan, its strided-batched runs, per-batch products of a repeated operand's
  // gradient before their reduction, and bf16 mode's operand and output-gradient copies.
  sampling::MatmulBatches batches{};
  sampling::MatmulRuns runs{};
  size_t partialA = 0, partialB = 0;
  size_t lowA = 0, lowB = 0, lowGrad = 0;
  // local response norm
  int64_t lrnSize = 1;
  float lrnAlpha = 0.0f, lrnBeta = 0.0f, lrnK = 0.0f;
  size_t lrnScale = 0;
  // channels-last mode: the input is NHWC (pooling, batch norm, dropout); a Layout node converts its
  // input to NHWC (toNhwc) or back to NCHW.
  bool channelsLast = false;
  bool toNhwc = false;
  size_t normScratch = 0;  // channels-last batch norm: its two-stage reduction's partial sums
  // A convolution whose bias and ReLU (fusedActivation) run in cuDNN's fused forward: planned
  // (convEpilogue) and set up (convFused; else convNote says why and the unfused path runs).
  bool convEpilogue = false;
  bool convFused = false;
  std::string convNote;
  cudnnActivationDescriptor_t reluDesc = nullptr;
  // lstm / gru: the geometry and buffers of recurrent_schedule.h; dropout between layers uses `p`,
  // `dropoutActive` and the dropout counter as the dropout kind does. recurrent_state: its lstm/gru
  // node and whether it reads c_n.
  recurrent::Geometry recurrentGeometry;
  RecurrentOffsets recurrentOffsets;
  int recurrentSource = -1;
  bool readsCell = false;
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
      if (node.reluDesc) api.destroyActivationDescriptor(node.reluDesc);
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
  void planBinaryBroadcast(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape);
  void planTransposedConvolution(Node& node, const Shape& x, const Shape& y);
  void planConvolution(Node& node, const Shape& x, const Shape& y, int64_t biasChannels, cudnnTensorFormat_t format,
                       std::pair<int, int> kernel, std::pair<int, int> padding, std::pair<int, int> stride, std::pair<int, int> dilation,
                       int groups);
  /** One matmul product (forward or an operand's gradient) as strided-batched GEMMs, one per run of batches. */
  void matmulProduct(const Node& node, sampling::MatmulProduct product, const std::string& what, const void* first, const void* second,
                     const void* outputGradient, float* result, bool accumulate);
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
  void planConvFusion();
  bool setupConvEpilogue(Node& node);
  void setupConvEpilogues();
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
  // lstm / gru and recurrent_state (recurrent_schedule.h run with cuBLAS and recurrent_kernels.cu).
  void planRecurrent(Node& node, const Shape& x);
  recurrent::Buffers recurrentBuffers(const Node& node) const;
  std::vector<recurrent::Weights> recurrentWeights(const Node& node) const;
  void forwardRecurrent(Node& node);
  struct RecurrentOps;
  Tensor download(size_t offset, const Shape& shape) const;
  // channels-last mode (CudaOptions::channelsLast): the layout pass and the boundary conversions.
  std::deque<NodeSpec> layoutSpecs;                  // the Layout nodes' specs (stable addresses)
  std::map<std::pair<int, bool>, int> layoutCopies;  // (value, toNhwc) → its copy in that layout
  bool layoutAware(const Node& node) const;
  bool assignLayouts(Node& node, const Shape& outputShape);
  int inLayout(int value, bool nhwc);
  void finishLayouts();
  Tensor downloadValue(const Value& value, size_t offset) const;
  Tensor downloadState(const StateTensor& state, size_t offset) const;
  void uploadState(const StateTensor& state, size_t offset, const Tensor& tensor);
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
    // Layout pass (channels-last): may insert Layout nodes before this one and rewire its inputs.
    const bool outputNhwc = options.channelsLast && assignLayouts(node, outputShape);
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
    value.nhwc = outputNhwc;
    value.producer = static_cast<int>(nodes.size());
    node.output = static_cast<int>(values.size());
    valueIndex[nodeSpec.id] = node.output;
    values.push_back(value);
    planNode(node, inputShapes, outputShape);
    nodes.push_back(std::move(node));
  }

  if (options.channelsLast) finishLayouts();
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
  planConvFusion();
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
  setupConvEpilogues();
}

// ---- channels-last layouts ------------------------------------------------------------------------
// With CudaOptions::channelsLast, the ops below keep 4-D activations NHWC; everything else (other ops,
// graph inputs and the loss) sees NCHW, and Layout nodes convert where the two meet, forward and back.

namespace {

/** Whether NHWC and NCHW order the bytes of `shape` differently (4-D with C > 1 and H·W > 1). */
bool layoutMatters(const Shape& shape) { return shape.size() == 4 && shape[1] > 1 && shape[2] * shape[3] > 1; }

}  // namespace

// The allow-list of ops that run in either layout (their kernels take the layout), besides conv2d,
// which always runs NHWC in this mode. Every other op, including ops added later, reads NCHW.
bool CudaExecutor::Impl::layoutAware(const Node& node) const {
  switch (node.kind) {
    case Kind::Activation:
    case Kind::Dropout:
    case Kind::MaxPool:
    case Kind::AvgPool:
    case Kind::AdaptiveAvgPool:
    case Kind::BatchNorm:
    case Kind::Add:
      return true;
    case Kind::View:
      return node.spec->op == "identity";
    default:
      return false;
  }
}

int CudaExecutor::Impl::inLayout(int value, bool nhwc) {
  if (values[value].nhwc == nhwc || !layoutMatters(values[value].shape)) return value;
  const auto known = layoutCopies.find({value, nhwc});
  if (known != layoutCopies.end()) return known->second;
  const Value& source = values[value];
  NodeSpec& layoutSpec = layoutSpecs.emplace_back();
  layoutSpec.id = source.name + (nhwc ? " (as NHWC)" : " (as NCHW)");
  layoutSpec.op = nhwc ? "to_channels_last" : "to_contiguous";
  layoutSpec.inputs = {source.name};
  Node node;
  node.spec = &layoutSpec;
  node.kind = Kind::Layout;
  node.toNhwc = nhwc;
  node.inputs = {value};
  values[value].consumers += 1;
  Value copy;
  copy.name = source.name;  // what error messages and value() call it
  copy.shape = source.shape;
  copy.numel = source.numel;
  copy.nhwc = nhwc;
  copy.inputCopy = source.graphInput || source.inputCopy;
  copy.producer = static_cast<int>(nodes.size());
  node.output = static_cast<int>(values.size());
  values.push_back(copy);
  nodes.push_back(std::move(node));
  layoutCopies[{value, nhwc}] = static_cast<int>(values.size()) - 1;
  return static_cast<int>(values.size()) - 1;
}

bool CudaExecutor::Impl::assignLayouts(Node& node, const Shape& outputShape) {
  // What each input should be: NHWC for a convolution; NCHW for an op outside the allow-list; for an
  // add of same-shaped tensors, NHWC when any of its inputs is (one layout for all); a broadcasting add
  // or one with a number indexes NCHW (planBinaryBroadcast), so its inputs are made NCHW; otherwise as
  // it comes.
  bool wanted = false;
  bool follow = false;
  if (node.kind == Kind::Conv) {
    wanted = true;
  } else if (node.kind == Kind::Add) {
    bool sameShapes = attr(*node.spec, "other") == nullptr;
    for (const int input : node.inputs) sameShapes = sameShapes && values[input].shape == outputShape;
    for (const int input : node.inputs) wanted = wanted || (sameShapes && values[input].nhwc);
  } else if (layoutAware(node)) {
    // A max_pool2d whose indices a max_unpool2d reads stays NCHW: the unpool kernel reads them in NCHW order.
    bool unpooled = false;
    for (const NodeSpec& later : spec.nodes) {
      unpooled = unpooled || (node.kind == Kind::MaxPool && later.op == "max_unpool2d" && later.inputs.size() > 1 && later.inputs[1] == node.spec->id);
    }
    follow = !unpooled;
  }
  for (int& input : node.inputs) {
    if (follow) continue;
    const int converted = inLayout(input, wanted);
    if (converted == input) continue;
    values[input].consumers -= 1;  // this node reads the copy instead
    values[converted].consumers += 1;
    input = converted;
  }
  node.channelsLast = values[node.inputs[0]].nhwc;
  const bool nhwc = node.kind == Kind::Conv ? true : node.channelsLast && (layoutAware(node));
  return nhwc && layoutMatters(outputShape);
}

void CudaExecutor::Impl::finishLayouts() {
  // The loss reads NCHW: an NHWC prediction (or target) gets a copy at the end of the forward pass,
  // and its name points there, so value() and the loss see the copy.
  for (const Node& node : nodes) {
    if (node.kind == Kind::Conv) states[node.states[node.roles.at("weight")]].channelsLast = true;
  }
  if (!spec.loss) return;
  for (const std::string& name : {spec.loss->input, spec.loss->target}) {
    const auto found = valueIndex.find(name);
    if (found == valueIndex.end() || !values[found->second].nhwc) continue;
    const int copy = inLayout(found->second, false);
    values[copy].consumers += 1;
    valueIndex[name] = copy;
  }
}

Tensor CudaExecutor::Impl::downloadValue(const Value& value, size_t offset) const {
  Tensor stored = download(offset, value.shape);
  if (!value.nhwc) return stored;
  Tensor tensor(value.shape);
  const int64_t channels = value.shape[1], spatial = value.shape[2] * value.shape[3];
  for (int64_t i = 0; i < value.numel; ++i) {
    tensor.data[static_cast<size_t>(i)] = stored.data[static_cast<size_t>(kernels::layoutSource(false, i, channels, spatial))];
  }
  return tensor;
}

Tensor CudaExecutor::Impl::downloadState(const StateTensor& state, size_t offset) const {
  Tensor stored = download(offset, state.shape);
  if (!state.channelsLast) return stored;
  Tensor tensor(state.shape);
  const int64_t channels = state.shape[1], spatial = state.shape[2] * state.shape[3];
  for (int64_t i = 0; i < state.numel; ++i) {
    tensor.data[static_cast<size_t>(i)] = stored.data[static_cast<size_t>(kernels::layoutSource(false, i, channels, spatial))];
  }
  return tensor;
}

void CudaExecutor::Impl::uploadState(const StateTensor& state, size_t offset, const Tensor& tensor) {
  const Tensor* source = &tensor;
  Tensor permuted;
  if (state.channelsLast) {
    permuted = Tensor(state.shape);
    const int64_t channels = state.shape[1], spatial = state.shape[2] * state.shape[3];
    for (int64_t i = 0; i < state.numel; ++i) {
      permuted.data[static_cast<size_t>(i)] = tensor.data[static_cast<size_t>(kernels::layoutSource(true, i, channels, spatial))];
    }
    source = &permuted;
  }
  check(cudaMemcpyAsync(f(offset), source->ptr(), sizeof(float) * source->data.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (\"" + state.name + "\")");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (\"" + state.name + "\")");
}

namespace {

// The element-wise, shape and normalization kinds: their kernels' arguments (pointwise_math.h's maps)
// from the attributes, which the CPU op has already validated, with its factories' defaults (ops.cpp).
void planElementwise(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape) {
  const NodeSpec& s = *node.spec;
  const std::string& op = s.op;
  const Shape& x = inputShapes[0];
  kernels::ElementwisePlan& e = node.elementwise;
  const auto number = [&](const char* key, double fallback) { return static_cast<float>(attrNumber(s, key, fallback)); };
  try {
    switch (node.kind) {
      case Kind::Pointwise: {
        using math::Pointwise;
        static const std::map<std::string, Pointwise> kinds{
            {"hardswish", Pointwise::Hardswish},   {"elu", Pointwise::Elu},           {"selu", Pointwise::Selu},
            {"celu", Pointwise::Celu},             {"softplus", Pointwise::Softplus}, {"hardsigmoid", Pointwise::Hardsigmoid},
            {"hardtanh", Pointwise::Hardtanh},     {"mish", Pointwise::Mish},         {"softsign", Pointwise::Softsign},
            {"logsigmoid", Pointwise::LogSigmoid}, {"tanhshrink", Pointwise::Tanhshrink}, {"softshrink", Pointwise::Softshrink},
            {"hardshrink", Pointwise::Hardshrink}, {"exp", Pointwise::Exp},           {"log", Pointwise::Log},
            {"sqrt", Pointwise::Sqrt},             {"rsqrt", Pointwise::Rsqrt},       {"abs", Pointwise::Abs},
            {"pow", Pointwise::Pow},               {"clamp", Pointwise::Clamp}};
        e.pointwise = kinds.at(op);
        const double infinity = std::numeric_limits<double>::infinity();
        if (op == "elu" || op == "celu") e.a = number("alpha", 1.0);
        if (op == "softplus") {
          e.a = number("beta", 1.0);
          e.b = number("threshold", 20.0);
        }
        if (op == "hardtanh") {
          e.a = number("min_val", -1.0);
          e.b = number("max_val", 1.0);
        }
        if (op == "softshrink" || op == "hardshrink") e.a = number("lambd", 0.5);
        if (op == "pow") e.a = number("exponent", 1.0);
        if (op == "clamp") {
          e.a = number("min", -infinity);
          e.b = number("max", infinity);
        }
        break;
      }
      case Kind::Binary: {
        static const std::map<std::string, math::Binary> ops{
            {"add", math::Binary::Add}, {"sub", math::Binary::Sub}, {"mul", math::Binary::Mul}, {"div", math::Binary::Div}};
        e.binary = ops.at(op);
        e.alpha = number("alpha", 1.0);
        if (attr(s, "other") != nullptr) {
          // A tensor and a number: the number stands in for one operand (`reverse`: it comes first).
          e.scalarOperand = true;
          e.scalarFirst = attrFlag(s, "reverse", false);
          e.scalar = number("other", 0.0);
          e.forwardMap = math::stridedMap(x, math::contiguousStrides(x), math::contiguousStrides(x));
          e.reduceMaps[0] = math::binaryGradientMap(x, {}, x);
        } else {
          const Shape& other = inputShapes[1];
          e.forwardMap = math::stridedMap(outputShape, math::broadcastStrides(x, outputShape), math::broadcastStrides(other, outputShape));
          e.reduceMaps[0] = math::binaryGradientMap(x, other, outputShape);
          e.reduceMaps[1] = math::binaryGradientMap(other, x, outputShape);
        }
        break;
      }
      case Kind::Softmax:
        e.axis = math::axisSplit(x, attrInts(s, "dim", {-1})[0]);
        e.logSoftmax = op == "log_softmax";
        break;
      case Kind::LayerNorm:
        e.cols = shapeNumel(attrInts(s, "normalized_shape", {1}));
        e.rows = shapeNumel(x) / e.cols;
        e.eps = number("eps", 1e-5);
        break;
      case Kind::Reduce: {
        const std::vector<bool> reduced = math::reducedDims(x, attr(s, "dim") != nullptr ? attrInts(s, "dim", {}) : std::vector<int64_t>{});
        e.reduceMaps[0] = math::reduceMap(x, reduced, math::Dims(x.size(), 0));
        e.scale = op == "sum" ? 1.0f : static_cast<float>(1.0 / static_cast<double>(e.reduceMaps[0].count));
        e.backwardMap = math::reducedGatherMap(x, reduced);
        break;
      }
      case Kind::Cat: {
        const int64_t dim = attrInts(s, "dim", {0})[0];
        const size_t axis = math::resolveDim(dim, outputShape.size());
        int64_t offset = 0;
        for (const Shape& input : inputShapes) {
          e.bands.push_back(math::catBand(outputShape, dim, offset, input[axis]));
          offset += input[axis];
        }
        break;
      }
      case Kind::Slice: {
        const int64_t dim = attrInts(s, "dim", {0})[0];
        const int64_t extent = x[math::resolveDim(dim, x.size())];
        if (op == "select") {
          const int64_t index = attrInts(s, "index", {0})[0];
          e.bands = {math::sliceBand(x, dim, index < 0 ? index + extent : index, 1)};
        } else {
          e.bands = {math::sliceBand(x, dim, attrInts(s, "start", {0})[0], attrInts(s, "length", {1})[0])};
        }
        break;
      }
      case Kind::Permute: {
        std::vector<int64_t> order;
        for (const int64_t dim : attrInts(s, "dims", {})) order.push_back(static_cast<int64_t>(math::resolveDim(dim, x.size())));
        e.forwardMap = math::permuteMap(x, order);
        e.backwardMap = math::permuteMap(outputShape, math::inversePermutation(order));
        break;
      }
      case Kind::PRelu: {
        // The CPU op's layout: [batch, channels, inner] around dimension 1 (all one row below rank 2).
        const int64_t total = shapeNumel(x);
        const int64_t batch = x.size() < 2 ? 1 : x[0];
        e.channels = x.size() < 2 ? 1 : x[1];
        e.inner = x.size() < 2 ? total : total / std::max<int64_t>(1, batch * e.channels);
        e.weights = attrInts(s, "num_parameters", {1})[0];
        const math::Dims layout{batch, e.channels, e.inner};
        e.reduceMaps[0] = math::reduceMap(layout, {true, e.weights == 1, true}, math::contiguousStrides(layout));
        break;
      }
      default:
        break;
    }
  } catch (const std::invalid_argument& error) {
    throw SpecError("node \"" + s.id + "\" (" + op + "): " + error.what());
  }
}

}  // namespace

void CudaExecutor::Impl::planBinaryBroadcast(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape) {
  // The broadcast maps index NCHW tensors; a channels-last operand (an add the layout pass kept NHWC)
  // would be read in the wrong order, so it is refused rather than computed wrong.
  bool broadcast = false;
  for (const Shape& shape : inputShapes) broadcast = broadcast || shape != outputShape;
  bool channelsLast = values[node.output].nhwc;
  for (const int input : node.inputs) channelsLast = channelsLast || values[input].nhwc;
  if (broadcast && channelsLast) {
    throw SpecError("node \"" + node.spec->id + "\" (" + node.spec->op +
                    "): broadcasting a channels-last tensor is not supported by the CUDA executor (run it without channels-last)");
  }
  planElementwise(node, inputShapes, outputShape);
}

void CudaExecutor::Impl::planNode(Node& node, const std::vector<Shape>& inputShapes, const Shape& outputShape) {
  const NodeSpec& s = *node.spec;
  const std::string where = "node \"" + s.id + "\" (" + s.op + "): ";
  const Shape& x = inputShapes[0];
  switch (node.kind) {
    case Kind::Conv: {
      if (x.size() != 4) throw SpecError(where + "the CUDA executor takes 4-D (N, C, H, W) inputs only, got " + formatShape(x));
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
      planConvolution(node, x, outputShape, outputShape[1], options.channelsLast ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, kernel, padding,
                      stride, dilation, groups);
      break;
    }
    case Kind::ConvTranspose:
      if (x.size() != 4) throw SpecError(where + "the CUDA executor takes 4-D (N, C, H, W) inputs only, got " + formatShape(x));
      planTransposedConvolution(node, x, outputShape);
      break;
    case Kind::Interpolate: {
      const bool bilinear = attrText(s, "mode", "nearest") == "bilinear";
      const bool alignCorners = attrFlag(s, "align_corners", false);
      double scaleH = 0.0, scaleW = 0.0;
      if (const JsonValue* factor = attr(s, "scale_factor")) {
        if (factor->isNumber()) scaleH = scaleW = factor->asNumber();
        if (factor->isArray() && factor->asArray().size() == 2) {
          scaleH = factor->asArray()[0].asNumber();
          scaleW = factor->asArray()[1].asNumber();
        }
      }
      node.resizeRows = sampling::resizeAxis(x[2], outputShape[2], bilinear, alignCorners, scaleH);
      node.resizeCols = sampling::resizeAxis(x[3], outputShape[3], bilinear, alignCorners, scaleW);
      break;
    }
    case Kind::Embedding: {
      node.tableRows = static_cast<int64_t>(attrNumber(s, "num_embeddings", 1));
      node.tableColumns = outputShape.back();
      if (attr(s, "padding_idx") != nullptr) {
        node.paddingRow = static_cast<int64_t>(attrNumber(s, "padding_idx", -1));
        if (node.paddingRow < 0) node.paddingRow += node.tableRows;
      }
      break;
    }
    case Kind::Matmul: {
      const Shape& b = inputShapes[1];
      node.batches = sampling::matmulBatches(x.data(), static_cast<int>(x.size()), b.data(), static_cast<int>(b.size()));
      if (!node.batches.valid) {
        throw SpecError(where + "the CUDA executor multiplies operands of at most " + std::to_string(sampling::kMaxBatchRank) +
                        " batch dimensions, got " + formatShape(x) + " and " + formatShape(b));
      }
      node.runs = sampling::matmulRuns(node.batches);
      const sampling::MatmulBatches& g = node.batches;
      // A repeated operand's gradient sums the products of the batches that read it: they are made
      // side by side first, then reduced in batch order (deterministic, no atomics).
      if (g.aMatrices < g.batches) node.partialA = reserve(plan.other, sizeof(float) * g.batches * g.m * g.k);
      if (g.bMatrices < g.batches) node.partialB = reserve(plan.other, sizeof(float) * g.batches * g.k * g.n);
      if (options.bf16) {
        node.lowA = reserve(plan.bf16Copies, sizeof(uint16_t) * shapeNumel(x));
        node.lowB = reserve(plan.bf16Copies, sizeof(uint16_t) * shapeNumel(b));
        node.lowGrad = reserve(plan.bf16Copies, sizeof(uint16_t) * shapeNumel(outputShape));
      }
      break;
    }
    case Kind::AdaptiveMaxPool:
    case Kind::MaxUnpool: {
      kernels::Pool& g = node.pool;
      g.inH = x[x.size() - 2];
      g.inW = x[x.size() - 1];
      g.planes = shapeNumel(x) / (g.inH * g.inW);
      g.outH = outputShape[outputShape.size() - 2];
      g.outW = outputShape[outputShape.size() - 1];
      if (node.kind == Kind::AdaptiveMaxPool) {
        node.indices = reserve(plan.other, sizeof(int32_t) * shapeNumel(outputShape));
        break;
      }
      // The indices are the max_pool2d node's (through any layout copy of its output).
      int source = values[node.inputs[1]].producer;
      while (source >= 0 && nodes[source].kind == Kind::Layout) source = values[nodes[source].inputs[0]].producer;
      if (source < 0 || nodes[source].kind != Kind::MaxPool) {
        throw SpecError(where + "the second input must be the max_pool2d node whose indices it uses");
      }
      if (nodes[source].channelsLast) {
        throw SpecError(where + "the CUDA executor unpools NCHW max_pool2d indices only (channels-last mode off)");
      }
      const kernels::Pool& pooled = nodes[source].pool;
      if (pooled.outH * pooled.outW != g.inH * g.inW || pooled.inH * pooled.inW > g.outH * g.outW) {
        throw SpecError(where + "the CUDA executor needs an output plane at least as large as the max_pool2d input (" +
                        std::to_string(pooled.inH) + "x" + std::to_string(pooled.inW) + "), got " + formatShape(outputShape));
      }
      node.indexSource = source;
      break;
    }
    case Kind::LocalResponseNorm:
      node.lrnSize = static_cast<int64_t>(attrNumber(s, "size", 1));
      node.lrnAlpha = static_cast<float>(attrNumber(s, "alpha", 1e-4));
      node.lrnBeta = static_cast<float>(attrNumber(s, "beta", 0.75));
      node.lrnK = static_cast<float>(attrNumber(s, "k", 1.0));
      node.lrnScale = reserve(plan.other, sizeof(float) * shapeNumel(x));
      break;
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
      g.channels = x.size() == 4 ? x[1] : 1;
      g.channelsLast = node.channelsLast;
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
      node.norm.channelsLast = node.channelsLast;
      node.mean = reserve(plan.other, sizeof(float) * x[1]);
      node.invStd = reserve(plan.other, sizeof(float) * x[1]);
      if (node.channelsLast) node.normScratch = reserve(plan.other, sizeof(double) * kernels::batchNormScratchDoubles(node.norm));
      break;
    }
    case Kind::View:
      break;
    case Kind::Add: {
      // Same-shaped tensors keep the n-ary addTensors path; a number or broadcasting runs as a binary op.
      bool sameShapes = attr(s, "other") == nullptr;
      for (const Shape& shape : inputShapes) sameShapes = sameShapes && shape == x;
      if (!sameShapes) {
        node.kind = Kind::Binary;
        planBinaryBroadcast(node, inputShapes, outputShape);
        break;
      }
      if (inputShapes.size() > 8) throw SpecError(where + "the CUDA executor adds at most 8 tensors at once");
      node.alpha = static_cast<float>(attrNumber(s, "alpha", 1.0));
      break;
    }
    case Kind::Binary:
      planBinaryBroadcast(node, inputShapes, outputShape);
      break;
    case Kind::Pointwise:
    case Kind::Softmax:
    case Kind::Reduce:
    case Kind::Cat:
    case Kind::Slice:
    case Kind::Permute:
    case Kind::PRelu:
      planElementwise(node, inputShapes, outputShape);
      break;
    case Kind::LayerNorm:
      planElementwise(node, inputShapes, outputShape);
      node.affine = attrFlag(s, "elementwise_affine", true);
      node.mean = reserve(plan.other, sizeof(float) * node.elementwise.rows);
      node.invStd = reserve(plan.other, sizeof(float) * node.elementwise.rows);
      break;
    case Kind::Dropout:
      node.p = static_cast<float>(attrNumber(s, "p", 0.5));
      node.always = attrFlag(s, "always", false);
      node.mask = reserve(plan.other, sizeof(float) * shapeNumel(x));
      hasDropout = true;
      break;
    case Kind::Recurrent:
      planRecurrent(node, x);
      break;
    case Kind::RecurrentState:
      // The CPU op checked that the input is an lstm or gru node.
      node.recurrentSource = values[node.inputs[0]].producer;
      node.readsCell = attrText(s, "state", "h") == "c";
      break;
    case Kind::Layout:
      break;
  }
}

// conv_transpose2d as its equivalent convolution, from this node's output y (the convolution's input)
// to its input x (the convolution's output), the weight [in_channels, out_channels/groups, kH, kW]
// being that convolution's [K, C/groups, R, S] filter. NCHW always; the algorithms are chosen (and
// autotuned, and cached) as any convolution's, per direction of the equivalent convolution.
void CudaExecutor::Impl::planTransposedConvolution(Node& node, const Shape& x, const Shape& y) {
  const NodeSpec& s = *node.spec;
  const std::string where = "node \"" + s.id + "\" (" + s.op + "): ";
  const auto kernel = attrPair(s, "kernel_size", {1, 1});
  const auto stride = attrPair(s, "stride", {1, 1});
  const auto dilation = attrPair(s, "dilation", {1, 1});
  const auto padding = attrPair(s, "padding", {0, 0});
  const auto outputPadding = attrPair(s, "output_padding", {0, 0});
  const int groups = static_cast<int>(attrNumber(s, "groups", 1));
  if (sampling::transposedConvExtent(x[2], kernel.first, stride.first, padding.first, dilation.first, outputPadding.first) != y[2] ||
      sampling::transposedConvExtent(x[3], kernel.second, stride.second, padding.second, dilation.second, outputPadding.second) != y[3]) {
    throw SpecError(where + "the CUDA executor's transposed-convolution geometry disagrees with the output shape " + formatShape(y));
  }
  // cuDNN checks that the equivalent convolution maps y back onto x exactly, which holds only when
  // output_padding is below the stride (PyTorch also allows it below the dilation).
  if (outputPadding.first >= stride.first || outputPadding.second >= stride.second) {
    throw SpecError(where + "the CUDA executor needs output_padding smaller than the stride");
  }
  // The equivalent convolution runs from y to x; its filter [K, C/groups, R, S] is the weight as stored.
  planConvolution(node, y, x, y[1], CUDNN_TENSOR_NCHW, kernel, padding, stride, dilation, groups);
}

// The cuDNN side of a convolution from x to y (shapes NCHW whatever `format` stores): descriptors,
// the autotuning key and the algorithms. conv2d plans its own convolution; conv_transpose2d its
// equivalent convolution (from its output to its input, NCHW), whose bias lies on x.
void CudaExecutor::Impl::planConvolution(Node& node, const Shape& x, const Shape& y, int64_t biasChannels, cudnnTensorFormat_t format,
                                         std::pair<int, int> kernel, std::pair<int, int> padding, std::pair<int, int> stride,
                                         std::pair<int, int> dilation, int groups) {
  const std::string where = "node \"" + node.spec->id + "\" (" + node.spec->op + "): ";
  const CudnnApi& api = cudnnApi();
  const int64_t outChannels = y[1];
  // Descriptors of the input, output, bias and weight, in fp32 and, for bf16, again in bf16: NCHW,
  // or NHWC input/output and a [K, R, S, C] filter (the bias's 1×C×1×1 is both).
  const auto tensor4d = [&](cudnnTensorDescriptor_t* desc, cudnnDataType_t type, const Shape& dims, const std::string& what) {
    checkCudnn(api.createTensorDescriptor(desc), where + "cudnnCreateTensorDescriptor");
    checkCudnn(api.setTensor4dDescriptor(*desc, what == "bias" ? CUDNN_TENSOR_NCHW : format, type, static_cast<int>(dims[0]), static_cast<int>(dims[1]),
                                         static_cast<int>(dims[2]), static_cast<int>(dims[3])),
               where + "cudnnSetTensor4dDescriptor (" + what + ")");
  };
  const auto filter4d = [&](cudnnFilterDescriptor_t* desc, cudnnDataType_t type, const std::string& suffix) {
    checkCudnn(api.createFilterDescriptor(desc), where + "cudnnCreateFilterDescriptor");
    checkCudnn(api.setFilter4dDescriptor(*desc, type, format, static_cast<int>(outChannels),
                                         static_cast<int>(x[1] / groups), kernel.first, kernel.second),
               where + "cudnnSetFilter4dDescriptor" + suffix);
  };
  tensor4d(&node.xDesc, CUDNN_DATA_FLOAT, x, "input");
  tensor4d(&node.yDesc, CUDNN_DATA_FLOAT, y, "output");
  tensor4d(&node.biasDesc, CUDNN_DATA_FLOAT, Shape{1, biasChannels, 1, 1}, "bias");
  filter4d(&node.wDesc, CUDNN_DATA_FLOAT, "");
  if (options.bf16) {
    // cuDNN's BFLOAT16 configuration: bf16 x, w and y with an fp32 compute type (fp32 accumulation).
    tensor4d(&node.xLowDesc, CUDNN_DATA_BFLOAT16, x, "bf16 input");
    tensor4d(&node.yLowDesc, CUDNN_DATA_BFLOAT16, y, "bf16 output");
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
  key.dataType = std::string(options.bf16 ? "bfloat16" : "float") + (format == CUDNN_TENSOR_NHWC ? " nhwc" : "");
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
}

// One cublasGemmStridedBatchedEx per run of batches, with the arguments sampling::matmulGemm works out
// (checked against the CPU matmul by sampling_math_test through a reference GEMM): fp32 (strict, or
// the TF32 compute type), or bf16 operands with fp32 accumulation; the result is fp32.
void CudaExecutor::Impl::matmulProduct(const Node& node, sampling::MatmulProduct product, const std::string& what, const void* first,
                                       const void* second, const void* outputGradient, float* result, bool accumulate) {
  const size_t element = options.bf16 ? sizeof(uint16_t) : sizeof(float);
  const cudaDataType_t type = options.bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const int compute = options.tf32 ? kCublasCompute32FFastTf32 : kCublasCompute32F;
  const float one = 1.0f, zero = 0.0f;
  const auto pointer = [&](sampling::MatmulBuffer buffer, int64_t offset) {
    const void* base = buffer == sampling::MatmulBuffer::First ? first : buffer == sampling::MatmulBuffer::Second ? second : outputGradient;
    return static_cast<const void*>(static_cast<const char*>(base) + element * static_cast<size_t>(offset));
  };
  for (int64_t batch = 0; batch < node.batches.batches; batch += node.runs.length) {
    const sampling::StridedGemm call = sampling::matmulGemm(node.batches, node.runs, product, batch);
    checkCublas(cublasApi().gemmStridedBatchedEx(
                    cublas, call.transA ? kCublasOpT : kCublasOpN, call.transB ? kCublasOpT : kCublasOpN, static_cast<int>(call.m),
                    static_cast<int>(call.n), static_cast<int>(call.k), &one, pointer(call.aBuffer, call.aOffset), type,
                    static_cast<int>(call.lda), static_cast<long long>(call.strideA), pointer(call.bBuffer, call.bOffset), type,
                    static_cast<int>(call.ldb), static_cast<long long>(call.strideB), accumulate ? &one : &zero, result + call.cOffset,
                    CUDA_R_32F, static_cast<int>(call.ldc), static_cast<long long>(call.strideC), static_cast<int>(call.count), compute,
                    kCublasGemmDefault),
                what);
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
  const std::string where = "node \"" + node.spec->id + "\" (" + node.spec->op + "): ";
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
    if (node.kind == Kind::Conv || node.kind == Kind::ConvTranspose) convolutions.push_back(&node);
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
          // A transposed convolution's equivalent convolution outputs into the node's input.
          const int convOutput = conv->kind == Kind::ConvTranspose ? conv->inputs[0] : conv->output;
          yBytes = std::max(yBytes, static_cast<size_t>(sizeof(float) * values[convOutput].numel));
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

// cuDNN's fused convolution + bias + ReLU forward (cudnnConvolutionBiasActivationForward) for a conv2d
// with a bias whose only reader is a ReLU (no graph output, not the loss's), under fuseEpilogues.
// cuDNN takes ReLU (or identity, only with IMPLICIT_PRECOMP_GEMM, which is not used here) in fp32
// and TF32 (fp32 data, the descriptor's math type). bf16 mode keeps its own path: the bias is added
// while the bf16 result is widened. The ReLU then launches nothing; like the fused linear layers the
// convolution's output shares the ReLU's buffer, and the ReLU's backward reads the mask from it.
void CudaExecutor::Impl::planConvFusion() {
  if (!options.fuseEpilogues) return;
  const char* fuse = std::getenv("NETLENS_CUDA_FUSE");
  if (fuse != nullptr && std::string(fuse) == "0") return;  // planFusion gave the notice
  std::set<int> graphOutputs;
  for (const std::string& output : spec.outputs) {
    const auto found = valueIndex.find(output);
    if (found != valueIndex.end()) graphOutputs.insert(found->second);
  }
  if (spec.loss) {
    graphOutputs.insert(valueIndex.at(spec.loss->input));
    if (valueIndex.count(spec.loss->target) != 0) graphOutputs.insert(valueIndex.at(spec.loss->target));
  }
  std::vector<int> candidates;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (node.kind != Kind::Conv || node.roles.count("bias") == 0) continue;
    const Value& out = values[node.output];
    if (out.consumers != 1 || graphOutputs.count(node.output) != 0) continue;
    for (size_t r = n + 1; r < nodes.size(); ++r) {
      const Node& reader = nodes[r];
      if (std::find(reader.inputs.begin(), reader.inputs.end(), node.output) == reader.inputs.end()) continue;
      if (reader.kind == Kind::Activation && reader.activation == kernels::Activation::Relu && reader.inputs.size() == 1) {
        candidates.push_back(static_cast<int>(n));
        nodes[n].fusedActivation = static_cast<int>(r);
      }
      break;
    }
  }
  if (candidates.empty()) return;
  const auto unplan = [&](const std::string& why) {
    for (const int n : candidates) nodes[n].fusedActivation = -1;
    notices.push_back("fused convolution epilogues off: " + why);
  };
  if (options.bf16) return unplan("bf16 mode adds the bias while widening the bf16 result (no cuDNN bf16 bias epilogue used)");
  if (!cudnnApi().fusedConvolutions) return unplan(cudnnApi().fusedFailure);
  for (const int n : candidates) {
    nodes[n].convEpilogue = true;
    nodes[nodes[n].fusedActivation].fusedInto = n;
  }
}

bool CudaExecutor::Impl::setupConvEpilogue(Node& node) {
  const CudnnApi& api = cudnnApi();
  const auto fail = [&](const std::string& call, cudnnStatus_t status) {
    node.convNote = call + " failed: " + api.getErrorString(status) + "; cudnnConvolutionForward, cudnnAddTensor and the ReLU kernel run instead";
    return false;
  };
  cudnnStatus_t status = api.createActivationDescriptor(&node.reluDesc);
  if (status != CUDNN_STATUS_SUCCESS) return fail("cudnnCreateActivationDescriptor", status);
  // NaN propagates, as in torch.relu.
  status = api.setActivationDescriptor(node.reluDesc, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0);
  if (status != CUDNN_STATUS_SUCCESS) return fail("cudnnSetActivationDescriptor", status);
  // One trial call on the plan's buffers (zeros, the initial weights): cuDNN refuses some algorithm,
  // layout and type combinations only when called. It writes relu(bias) into the output, which the
  // first forward overwrites.
  const Value& x = values[node.inputs[0]];
  const Value& y = values[node.output];
  const float one = 1.0f, zero = 0.0f;
  status = api.convolutionBiasActivationForward(
      cudnn, &one, node.xDesc, f(x.data), node.wDesc, f(states[node.states[node.roles.at("weight")]].data), node.forwardDesc,
      node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, &zero, node.yDesc, f(y.data), node.biasDesc,
      f(states[node.states[node.roles.at("bias")]].data), node.reluDesc, node.yDesc, f(y.data));
  if (status != CUDNN_STATUS_SUCCESS) return fail("cudnnConvolutionBiasActivationForward", status);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (fused convolution trial)");
  return true;
}

void CudaExecutor::Impl::setupConvEpilogues() {
  for (Node& node : nodes) {
    if (!node.convEpilogue) continue;
    node.convFused = setupConvEpilogue(node);
    if (!node.convFused) notices.push_back("node \"" + node.spec->id + "\" (conv2d): " + node.convNote);
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
      if (node.kind != Kind::Conv && node.kind != Kind::ConvTranspose && node.kind != Kind::Linear) continue;
      values[node.inputs[0]].hasLow = true;
      StateTensor& weight = states[node.states[node.roles.at("weight")]];
      weight.hasLow = true;
      outputScratch = std::max(outputScratch, values[node.output].numel);
      if (node.kind == Kind::Conv || node.kind == Kind::ConvTranspose) {
        inputScratch = std::max({inputScratch, values[node.inputs[0]].numel, weight.numel});
      }
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
    if (state.channelsLast) {
      uploadState(state, state.data, initial);
      continue;
    }
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

// ---- lstm / gru ----------------------------------------------------------------------------------
// recurrent_schedule.h's operations on the device: row-major GEMMs as cuBLAS calls (strict fp32, or
// TF32 when the handle's math mode says so; bf16 mode leaves these GEMMs in fp32) and the step
// kernels, all on the executor's stream, nothing allocated: the schedule is captured with the step.
struct CudaExecutor::Impl::RecurrentOps {
  const Impl& impl;
  std::string where;
  uint64_t dropoutStream = 0;
  float p = 0.0f;
  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
            float beta, float* C, int64_t ldc) const {
    // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap places.
    const float one = 1.0f;
    checkCublas(cublasApi().sgemm(impl.cublas, transB ? kCublasOpT : kCublasOpN, transA ? kCublasOpT : kCublasOpN, static_cast<int>(N),
                                  static_cast<int>(M), static_cast<int>(K), &one, B, static_cast<int>(ldb), A, static_cast<int>(lda), &beta,
                                  C, static_cast<int>(ldc)),
                where + "cublasSgemm");
  }
  void forwardStep(const recurrent::ForwardStep& step) const {
    check(kernels::recurrentForwardStep(impl.stream, step), where + "recurrentForwardStep");
  }
  void backwardStep(const recurrent::BackwardStep& step) const {
    check(kernels::recurrentBackwardStep(impl.stream, step), where + "recurrentBackwardStep");
  }
  void sumRows(int64_t rows, int64_t cols, const float* src, float* dst, bool accumulate) const {
    check(kernels::sumRows(impl.stream, rows, cols, src, dst, accumulate), where + "sumRows (bias gradient)");
  }
  void copy(int64_t count, const float* src, float* dst) const {
    check(cudaMemcpyAsync(dst, src, sizeof(float) * count, cudaMemcpyDeviceToDevice, impl.stream), where + "cudaMemcpyAsync (state gradient)");
  }
  void zero(int64_t count, float* dst) const {
    check(cudaMemsetAsync(dst, 0, sizeof(float) * count, impl.stream), where + "cudaMemsetAsync");
  }
  void swapLeadingAxes(int64_t outer, int64_t inner, int64_t features, const float* src, float* dst, bool accumulate) const {
    check(kernels::swapLeadingAxes(impl.stream, outer, inner, features, src, dst, accumulate), where + "swapLeadingAxes");
  }
  void dropout(int64_t layer, int64_t count, const float* x, float* mask, float* y) const {
    check(kernels::dropoutForward(impl.stream, count, p, recurrent::layerDropoutStream(dropoutStream, layer),
                                  impl.at<uint64_t>(impl.dropoutCounter), x, mask, y),
          where + "dropoutForward (between layers)");
  }
  void multiplyMask(int64_t count, const float* dy, const float* mask, float* dx) const {
    check(kernels::multiplyMask(impl.stream, count, dy, mask, dx, false), where + "multiplyMask (between layers)");
  }
};

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
          check(kernels::bf16ToFloatAddBias(stream, y.numel, h(lowOutput), bias, y.shape[1], y.shape[2] * y.shape[3], f(y.data),
                                            options.channelsLast),
                where + "bf16ToFloatAddBias (output)");
        } else {
          check(kernels::bf16ToFloat(stream, y.numel, h(lowOutput), f(y.data), false), where + "bf16ToFloat (output)");
        }
        break;
      }
      if (node.convFused) {
        // relu(conv(x) + bias) in one call into the ReLU's buffer (y shares it); z is y with weight 0.
        checkCudnn(api.convolutionBiasActivationForward(cudnn, &one, node.xDesc, f(x.data), node.wDesc, state("weight"), node.forwardDesc,
                                                        node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, &zero,
                                                        node.yDesc, f(y.data), node.biasDesc, state("bias"), node.reluDesc, node.yDesc,
                                                        f(y.data)),
                   where + "cudnnConvolutionBiasActivationForward");
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
    case Kind::ConvTranspose: {
      // The output is the equivalent convolution's input gradient: cuDNN's backward-data with this
      // node's input as the output gradient.
      const CudnnApi& api = cudnnApi();
      const float one = 1.0f, zero = 0.0f;
      if (options.bf16) {
        checkCudnn(api.convolutionBackwardData(cudnn, &one, node.wLowDesc, lowState("weight"), node.yLowDesc, h(x.low), node.dataDesc,
                                               node.algorithms.backwardData, f(workspace), node.algorithms.backwardDataBytes, &zero,
                                               node.xLowDesc, h(lowOutput)),
                   where + "cudnnConvolutionBackwardData (bf16 transposed forward)");
        if (const float* bias = state("bias")) {
          check(kernels::bf16ToFloatAddBias(stream, y.numel, h(lowOutput), bias, y.shape[1], y.shape[2] * y.shape[3], f(y.data)),
                where + "bf16ToFloatAddBias (output)");
        } else {
          check(kernels::bf16ToFloat(stream, y.numel, h(lowOutput), f(y.data), false), where + "bf16ToFloat (output)");
        }
        break;
      }
      checkCudnn(api.convolutionBackwardData(cudnn, &one, node.wDesc, state("weight"), node.yDesc, f(x.data), node.dataDesc,
                                             node.algorithms.backwardData, f(workspace), node.algorithms.backwardDataBytes, &zero,
                                             node.xDesc, f(y.data)),
                 where + "cudnnConvolutionBackwardData (transposed forward)");
      if (float* bias = state("bias")) {
        checkCudnn(api.addTensor(cudnn, &one, node.biasDesc, bias, &one, node.xDesc, f(y.data)), where + "cudnnAddTensor (bias)");
      }
      break;
    }
    case Kind::Interpolate:
      check(kernels::resizeForward(stream, x.shape[0] * x.shape[1], node.resizeRows, node.resizeCols, f(x.data), f(y.data)),
            where + "resizeForward");
      break;
    case Kind::Embedding:
      check(kernels::embeddingForward(stream, x.numel, node.tableRows, node.tableColumns, f(x.data), state("weight"), f(y.data)),
            where + "embeddingForward");
      break;
    case Kind::Matmul: {
      const Value& b = values[node.inputs[1]];
      const void* aData = f(x.data);
      const void* bData = f(b.data);
      if (options.bf16) {
        // bf16 operands with fp32 accumulation and an fp32 result, as linear layers run; the copies
        // stay for the backward.
        check(kernels::floatToBf16(stream, x.numel, f(x.data), h(node.lowA)), where + "floatToBf16 (first operand)");
        check(kernels::floatToBf16(stream, b.numel, f(b.data), h(node.lowB)), where + "floatToBf16 (second operand)");
        aData = h(node.lowA);
        bData = h(node.lowB);
      }
      matmulProduct(node, sampling::MatmulProduct::Forward, where + "cublasGemmStridedBatchedEx (forward)", aData, bData, nullptr,
                    f(y.data), false);
      break;
    }
    case Kind::AdaptiveMaxPool: {
      const kernels::Pool& g = node.pool;
      check(kernels::adaptiveMaxPoolForward(stream, g.planes, g.inH, g.inW, g.outH, g.outW, f(x.data), f(y.data), at<int32_t>(node.indices)),
            where + "adaptiveMaxPoolForward");
      break;
    }
    case Kind::MaxUnpool: {
      const kernels::Pool& g = node.pool;
      check(kernels::maxUnpoolForward(stream, g.planes, g.inH * g.inW, g.outH * g.outW, f(x.data), at<int32_t>(nodes[node.indexSource].indices),
                                      f(y.data)),
            where + "maxUnpoolForward");
      break;
    }
    case Kind::LocalResponseNorm:
      check(kernels::lrnForward(stream, x.shape[0], x.shape[1], x.numel / (x.shape[0] * x.shape[1]), node.lrnSize, node.lrnAlpha,
                                node.lrnBeta, node.lrnK, f(x.data), f(y.data), f(node.lrnScale)),
            where + "lrnForward");
      break;
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
      // The linear layer's (cuBLASLt) or the convolution's (cuDNN) epilogue computed it.
      if (node.fusedInto >= 0 && (nodes[node.fusedInto].ltReady || nodes[node.fusedInto].convFused)) break;
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
                                      state("num_batches_tracked"), f(node.mean), f(node.invStd), f(y.data),
                                      node.channelsLast ? at<double>(node.normScratch) : nullptr),
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
    case Kind::Pointwise: {
      const kernels::ElementwisePlan& e = node.elementwise;
      check(kernels::pointwiseForward(stream, e.pointwise, e.a, e.b, x.numel, f(x.data), f(y.data)), where + "pointwiseForward");
      break;
    }
    case Kind::Binary: {
      const kernels::ElementwisePlan& e = node.elementwise;
      // With a number, the tensor is operand a unless the number comes first (1 - x).
      const float* a = e.scalarOperand && e.scalarFirst ? nullptr : f(x.data);
      const float* b = !e.scalarOperand ? f(values[node.inputs[1]].data) : e.scalarFirst ? f(x.data) : nullptr;
      check(kernels::binaryForward(stream, e.binary, e.alpha, e.forwardMap, y.numel, a, b, e.scalar, f(y.data)), where + "binaryForward");
      break;
    }
    case Kind::Softmax: {
      const math::AxisSplit& axis = node.elementwise.axis;
      check(kernels::softmaxForward(stream, node.elementwise.logSoftmax, axis.outer, axis.extent, axis.inner, f(x.data), f(y.data)),
            where + "softmaxForward");
      break;
    }
    case Kind::LayerNorm: {
      const kernels::ElementwisePlan& e = node.elementwise;
      check(kernels::layerNormForward(stream, e.rows, e.cols, e.eps, f(x.data), state("weight"), state("bias"), f(node.mean),
                                      f(node.invStd), f(y.data)),
            where + "layerNormForward");
      break;
    }
    case Kind::Reduce:
      check(kernels::reduce(stream, node.elementwise.reduceMaps[0], math::ReduceTerm::Sum, math::Binary::Add, 1.0f, f(x.data), nullptr, 0.0f,
                            nullptr, node.elementwise.scale, f(y.data), false),
            where + "reduce");
      break;
    case Kind::Cat:
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        check(kernels::bandCopy(stream, node.elementwise.bands[k], f(values[node.inputs[k]].data), f(y.data), false),
              where + "bandCopy (input " + std::to_string(k) + ")");
      }
      break;
    case Kind::Slice:
      check(kernels::bandCopy(stream, node.elementwise.bands[0], f(x.data), f(y.data), false), where + "bandCopy");
      break;
    case Kind::Permute:
      check(kernels::gather(stream, node.elementwise.forwardMap, y.numel, f(x.data), 1.0f, f(y.data), false), where + "gather");
      break;
    case Kind::PRelu: {
      const kernels::ElementwisePlan& e = node.elementwise;
      check(kernels::preluForward(stream, x.numel, e.channels, e.inner, e.weights, f(x.data), state("weight"), f(y.data)),
            where + "preluForward");
      break;
    }
    case Kind::Dropout:
      node.dropoutActive = (training || node.always) && node.p > 0.0f;
      if (node.dropoutActive) {
        // The stream is named by the node's place in the spec (graph inputs first, as value indices
        // run without Layout nodes), so channels-last mode draws the same masks.
        const uint64_t place = spec.inputs.size() + static_cast<uint64_t>(node.spec - spec.nodes.data());
        check(kernels::dropoutForward(stream, x.numel, node.p, seed ^ kDropoutStream ^ place,
                                      at<uint64_t>(dropoutCounter), f(x.data), f(node.mask), f(y.data),
                                      node.channelsLast ? x.shape[1] : 0, node.channelsLast ? x.shape[2] * x.shape[3] : 1),
              where + "dropoutForward");
      } else {
        check(kernels::scaleCopy(stream, x.numel, f(x.data), 1.0f, f(y.data), false), where + "scaleCopy");
      }
      break;
    case Kind::Layout:
      check(kernels::changeLayout(stream, node.toNhwc, x.numel, x.shape[1], x.shape[2] * x.shape[3], f(x.data), f(y.data), false),
            where + "changeLayout");
      break;
    case Kind::Recurrent:
      forwardRecurrent(node);
      break;
    case Kind::RecurrentState: {
      const RecurrentOffsets& source = nodes[node.recurrentSource].recurrentOffsets;
      check(cudaMemcpyAsync(f(y.data), f(node.readsCell ? source.cN : source.hN), sizeof(float) * y.numel, cudaMemcpyDeviceToDevice, stream),
            where + "cudaMemcpyAsync (final state)");
      break;
    }
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
    if (!x.hasGrad || ((x.graphInput || x.inputCopy) && !inputGradients)) return nullptr;
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
    case Kind::ConvTranspose: {
      // The equivalent convolution's directions swap roles: its forward gives this node's input
      // gradient, its weight gradient takes this node's output gradient as the input and this node's
      // input as the output gradient.
      const CudnnApi& api = cudnnApi();
      const float one = 1.0f, zero = 0.0f;
      bool accumulateWeight = false, accumulateBias = false;
      if (options.bf16) {
        check(kernels::floatToBf16(stream, y.numel, f(y.grad), h(lowOutput)), where + "floatToBf16 (output gradient)");
        if (float* dw = paramGrad("weight", accumulateWeight)) {
          checkCudnn(api.convolutionBackwardFilter(cudnn, &one, node.xLowDesc, h(lowOutput), node.yLowDesc, h(x.low), node.filterDesc,
                                                   node.algorithms.backwardFilter, f(workspace), node.algorithms.backwardFilterBytes,
                                                   &zero, node.wLowDesc, h(lowInput)),
                     where + "cudnnConvolutionBackwardFilter (bf16 transposed weight gradient)");
          const int64_t weightCount = states[node.states[node.roles.at("weight")]].numel;
          check(kernels::bf16ToFloat(stream, weightCount, h(lowInput), dw, accumulateWeight), where + "bf16ToFloat (weight gradient)");
        }
        if (float* db = paramGrad("bias", accumulateBias)) {
          checkCudnn(api.convolutionBackwardBias(cudnn, &one, node.xDesc, f(y.grad), accumulateBias ? &one : &zero, node.biasDesc, db),
                     where + "cudnnConvolutionBackwardBias");
        }
        if (float* dx = inputGrad(0, accumulate)) {
          checkCudnn(api.convolutionForward(cudnn, &one, node.xLowDesc, h(lowOutput), node.wLowDesc, lowState("weight"), node.forwardDesc,
                                            node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, &zero, node.yLowDesc,
                                            h(lowInput)),
                     where + "cudnnConvolutionForward (bf16 transposed input gradient)");
          check(kernels::bf16ToFloat(stream, x.numel, h(lowInput), dx, accumulate), where + "bf16ToFloat (input gradient)");
        }
        break;
      }
      if (float* dw = paramGrad("weight", accumulateWeight)) {
        checkCudnn(api.convolutionBackwardFilter(cudnn, &one, node.xDesc, f(y.grad), node.yDesc, f(x.data), node.filterDesc,
                                                 node.algorithms.backwardFilter, f(workspace), node.algorithms.backwardFilterBytes,
                                                 accumulateWeight ? &one : &zero, node.wDesc, dw),
                   where + "cudnnConvolutionBackwardFilter (transposed weight gradient)");
      }
      if (float* db = paramGrad("bias", accumulateBias)) {
        checkCudnn(api.convolutionBackwardBias(cudnn, &one, node.xDesc, f(y.grad), accumulateBias ? &one : &zero, node.biasDesc, db),
                   where + "cudnnConvolutionBackwardBias");
      }
      if (float* dx = inputGrad(0, accumulate)) {
        checkCudnn(api.convolutionForward(cudnn, &one, node.xDesc, f(y.grad), node.wDesc, state("weight"), node.forwardDesc,
                                          node.algorithms.forward, f(workspace), node.algorithms.forwardBytes, accumulate ? &one : &zero,
                                          node.yDesc, dx),
                   where + "cudnnConvolutionForward (transposed input gradient)");
      }
      break;
    }
    case Kind::Interpolate:
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::resizeBackward(stream, x.shape[0] * x.shape[1], node.resizeRows, node.resizeCols, f(y.grad), dx, accumulate),
              where + "resizeBackward");
      }
      break;
    case Kind::Embedding: {
      // Token ids get no gradient (as on the CPU); the table's rows receive their tokens' gradients.
      bool accumulateWeight = false;
      if (float* dw = paramGrad("weight", accumulateWeight)) {
        if (!accumulateWeight) {
          check(cudaMemsetAsync(dw, 0, sizeof(float) * node.tableRows * node.tableColumns, stream), where + "cudaMemsetAsync");
        }
        check(kernels::embeddingBackward(stream, x.numel, node.tableRows, node.tableColumns, node.paddingRow, f(x.data), f(y.grad), dw),
              where + "embeddingBackward");
      }
      break;
    }
    case Kind::Matmul: {
      const sampling::MatmulBatches& g = node.batches;
      const void* aData = options.bf16 ? static_cast<const void*>(h(node.lowA)) : static_cast<const void*>(f(x.data));
      const void* bData = options.bf16 ? static_cast<const void*>(h(node.lowB)) : static_cast<const void*>(f(values[node.inputs[1]].data));
      const void* dyData = f(y.grad);
      bool accumulateA = false, accumulateB = false;
      float* da = inputGrad(0, accumulateA);
      float* db = inputGrad(1, accumulateB);
      if ((da || db) && options.bf16) {
        check(kernels::floatToBf16(stream, y.numel, f(y.grad), h(node.lowGrad)), where + "floatToBf16 (output gradient)");
        dyData = h(node.lowGrad);
      }
      if (da) {
        // A broadcast operand's gradient: per-batch products first, then their sums in batch order.
        const bool repeated = g.aMatrices < g.batches;
        matmulProduct(node, sampling::MatmulProduct::FirstGradient, where + "cublasGemmStridedBatchedEx (first operand gradient)", aData,
                      bData, dyData, repeated ? f(node.partialA) : da, !repeated && accumulateA);
        if (repeated) check(kernels::matmulReduceOperand(stream, g, 0, f(node.partialA), da, accumulateA), where + "matmulReduceOperand (A)");
      }
      if (db) {
        const bool repeated = g.bMatrices < g.batches;
        matmulProduct(node, sampling::MatmulProduct::SecondGradient, where + "cublasGemmStridedBatchedEx (second operand gradient)", aData,
                      bData, dyData, repeated ? f(node.partialB) : db, !repeated && accumulateB);
        if (repeated) check(kernels::matmulReduceOperand(stream, g, 1, f(node.partialB), db, accumulateB), where + "matmulReduceOperand (B)");
      }
      break;
    }
    case Kind::AdaptiveMaxPool:
      if (float* dx = inputGrad(0, accumulate)) {
        const kernels::Pool& g = node.pool;
        if (!accumulate) check(cudaMemsetAsync(dx, 0, sizeof(float) * x.numel, stream), where + "cudaMemsetAsync");
        check(kernels::scatterAddByIndex(stream, g.planes, g.outH * g.outW, g.inH * g.inW, f(y.grad), at<int32_t>(node.indices), dx),
              where + "scatterAddByIndex");
      }
      break;
    case Kind::MaxUnpool:
      // The pooling indices (input 1) get no gradient.
      if (float* dx = inputGrad(0, accumulate)) {
        const kernels::Pool& g = node.pool;
        check(kernels::maxUnpoolBackward(stream, g.planes, g.inH * g.inW, g.outH * g.outW, f(y.grad),
                                         at<int32_t>(nodes[node.indexSource].indices), dx, accumulate),
              where + "maxUnpoolBackward");
      }
      break;
    case Kind::LocalResponseNorm:
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::lrnBackward(stream, x.shape[0], x.shape[1], x.numel / (x.shape[0] * x.shape[1]), node.lrnSize, node.lrnAlpha,
                                   node.lrnBeta, f(x.data), f(node.lrnScale), f(y.grad), dx, accumulate),
              where + "lrnBackward");
      }
      break;
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
                                       dgamma, dbeta, accumulateGamma || accumulateBeta, node.channelsLast ? at<double>(node.normScratch) : nullptr),
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
    case Kind::Pointwise:
      if (float* dx = inputGrad(0, accumulate)) {
        const kernels::ElementwisePlan& e = node.elementwise;
        check(kernels::pointwiseBackward(stream, e.pointwise, e.a, e.b, x.numel, f(x.data), f(y.grad), dx, accumulate),
              where + "pointwiseBackward");
      }
      break;
    case Kind::Binary: {
      // Each operand's gradient is dy reduced over the dimensions it was broadcast along.
      const kernels::ElementwisePlan& e = node.elementwise;
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        float* dx = inputGrad(i, accumulate);
        if (dx == nullptr) continue;
        const float* self = f(values[node.inputs[i]].data);
        const bool second = e.scalarOperand ? e.scalarFirst : i == 1;
        const float* other = e.scalarOperand ? nullptr : f(values[node.inputs[1 - i]].data);
        check(kernels::reduce(stream, e.reduceMaps[e.scalarOperand ? 0 : i], second ? math::ReduceTerm::BinaryB : math::ReduceTerm::BinaryA,
                              e.binary, e.alpha, f(y.grad), other, e.scalar, self, 1.0f, dx, accumulate),
              where + "reduce (gradient of input " + std::to_string(i) + ")");
      }
      break;
    }
    case Kind::Softmax:
      if (float* dx = inputGrad(0, accumulate)) {
        const math::AxisSplit& axis = node.elementwise.axis;
        check(kernels::softmaxBackward(stream, node.elementwise.logSoftmax, axis.outer, axis.extent, axis.inner, f(y.data), f(y.grad), dx,
                                       accumulate),
              where + "softmaxBackward");
      }
      break;
    case Kind::LayerNorm: {
      const kernels::ElementwisePlan& e = node.elementwise;
      bool accumulateGamma = false, accumulateBeta = false;
      float* dgamma = paramGrad("weight", accumulateGamma);
      float* dbeta = paramGrad("bias", accumulateBeta);
      if (dgamma != nullptr && dbeta != nullptr && accumulateGamma == accumulateBeta) {
        check(kernels::layerNormParamBackward(stream, e.rows, e.cols, f(x.data), f(node.mean), f(node.invStd), f(y.grad), dgamma, dbeta,
                                              accumulateGamma),
              where + "layerNormParamBackward");
      } else {
        if (dgamma != nullptr) {
          check(kernels::layerNormParamBackward(stream, e.rows, e.cols, f(x.data), f(node.mean), f(node.invStd), f(y.grad), dgamma, nullptr,
                                                accumulateGamma),
                where + "layerNormParamBackward (weight)");
        }
        if (dbeta != nullptr) {
          check(kernels::layerNormParamBackward(stream, e.rows, e.cols, f(x.data), f(node.mean), f(node.invStd), f(y.grad), nullptr, dbeta,
                                                accumulateBeta),
                where + "layerNormParamBackward (bias)");
        }
      }
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::layerNormInputBackward(stream, e.rows, e.cols, f(x.data), state("weight"), f(node.mean), f(node.invStd), f(y.grad), dx,
                                              accumulate),
              where + "layerNormInputBackward");
      }
      break;
    }
    case Kind::Reduce:
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::gather(stream, node.elementwise.backwardMap, x.numel, f(y.grad), node.elementwise.scale, dx, accumulate),
              where + "gather (gradient)");
      }
      break;
    case Kind::Cat:
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        if (float* dx = inputGrad(k, accumulate)) {
          check(kernels::bandCopy(stream, math::reversedBand(node.elementwise.bands[k]), f(y.grad), dx, accumulate),
                where + "bandCopy (gradient of input " + std::to_string(k) + ")");
        }
      }
      break;
    case Kind::Slice:
      if (float* dx = inputGrad(0, accumulate)) {
        // Only the band receives a gradient: the rest is zero unless dx already holds one.
        if (!accumulate) check(cudaMemsetAsync(dx, 0, sizeof(float) * x.numel, stream), where + "cudaMemsetAsync");
        check(kernels::bandCopy(stream, math::reversedBand(node.elementwise.bands[0]), f(y.grad), dx, accumulate), where + "bandCopy (gradient)");
      }
      break;
    case Kind::Permute:
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::gather(stream, node.elementwise.backwardMap, x.numel, f(y.grad), 1.0f, dx, accumulate), where + "gather (gradient)");
      }
      break;
    case Kind::PRelu: {
      const kernels::ElementwisePlan& e = node.elementwise;
      bool accumulateWeight = false;
      if (float* dw = paramGrad("weight", accumulateWeight)) {
        check(kernels::reduce(stream, e.reduceMaps[0], math::ReduceTerm::PReluWeight, math::Binary::Add, 1.0f, f(y.grad), f(x.data), 0.0f,
                              nullptr, 1.0f, dw, accumulateWeight),
              where + "reduce (weight gradient)");
      }
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::preluBackward(stream, x.numel, e.channels, e.inner, e.weights, f(x.data), state("weight"), f(y.grad), dx, accumulate),
              where + "preluBackward");
      }
      break;
    }
    case Kind::Dropout:
      if (float* dx = inputGrad(0, accumulate)) {
        if (node.dropoutActive) {
          check(kernels::multiplyMask(stream, x.numel, f(y.grad), f(node.mask), dx, accumulate), where + "multiplyMask");
        } else {
          check(kernels::scaleCopy(stream, x.numel, f(y.grad), 1.0f, dx, accumulate), where + "scaleCopy");
        }
      }
      break;
    case Kind::Layout:
      // The gradient goes back through the opposite change.
      if (float* dx = inputGrad(0, accumulate)) {
        check(kernels::changeLayout(stream, !node.toNhwc, x.numel, x.shape[1], x.shape[2] * x.shape[3], f(y.grad), dx, accumulate),
              where + "changeLayout (gradient)");
      }
      break;
    case Kind::Recurrent: {
      const recurrent::Geometry& g = node.recurrentGeometry;
      std::vector<recurrent::WeightGradients> grads;
      for (int64_t layer = 0; layer < g.layers; ++layer) {
        for (int64_t direction = 0; direction < g.directions; ++direction) {
          const std::string suffix = "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
          recurrent::WeightGradients gw;
          gw.ih = paramGrad(("weight_ih" + suffix).c_str(), gw.accumulateIh);
          gw.hh = paramGrad(("weight_hh" + suffix).c_str(), gw.accumulateHh);
          gw.bih = paramGrad(("bias_ih" + suffix).c_str(), gw.accumulateBih);
          gw.bhh = paramGrad(("bias_hh" + suffix).c_str(), gw.accumulateBhh);
          grads.push_back(gw);
        }
      }
      float* dx = inputGrad(0, accumulate);
      RecurrentOps ops{*this, where, 0, node.p};
      recurrent::scheduleBackward(ops, g, recurrentWeights(node), grads, recurrentBuffers(node), node.dropoutActive, f(y.grad), dx,
                                  accumulate);
      break;
    }
    case Kind::RecurrentState: {
      // The gradient of h_n (c_n) joins the lstm/gru node's, which its backward (later here) reads.
      const RecurrentOffsets& source = nodes[node.recurrentSource].recurrentOffsets;
      check(kernels::scaleCopy(stream, y.numel, f(y.grad), 1.0f, f(node.readsCell ? source.dcN : source.dhN), true),
            where + "scaleCopy (state gradient)");
      // The node's own value gets nothing from here, but its backward must run (as on the CPU).
      if (float* dx = inputGrad(0, accumulate)) {
        if (!accumulate) check(cudaMemsetAsync(dx, 0, sizeof(float) * x.numel, stream), where + "cudaMemsetAsync");
      }
      break;
    }
  }
}

// ---- lstm / gru: planning, buffers and the forward (the backward is a case of backwardNode) -------

void CudaExecutor::Impl::planRecurrent(Node& node, const Shape& x) {
  const NodeSpec& s = *node.spec;
  recurrent::Geometry& g = node.recurrentGeometry;
  g.cell = s.op == "lstm" ? recurrent::Cell::Lstm : recurrent::Cell::Gru;
  g.batchFirst = attrFlag(s, "batch_first", false);
  g.steps = g.batchFirst ? x[1] : x[0];
  g.batch = g.batchFirst ? x[0] : x[1];
  g.inputSize = x[2];
  g.hidden = static_cast<int64_t>(attrNumber(s, "hidden_size", 1));
  g.layers = static_cast<int64_t>(attrNumber(s, "num_layers", 1));
  g.directions = attrFlag(s, "bidirectional", false) ? 2 : 1;
  node.p = static_cast<float>(attrNumber(s, "dropout", 0.0));
  const bool dropout = node.p > 0.0f && g.layers > 1;
  if (dropout) hasDropout = true;
  const auto floats = [&](int64_t count) { return reserve(plan.other, sizeof(float) * static_cast<uint64_t>(count)); };
  node.recurrentOffsets = recurrent::planBuffers<size_t>(g, dropout, kNoBuffer, floats);
}

recurrent::Buffers CudaExecutor::Impl::recurrentBuffers(const Node& node) const {
  return recurrent::buffersOf(node.recurrentOffsets, kNoBuffer, f(values[node.inputs[0]].data), f(values[node.output].data),
                              [&](size_t offset) { return f(offset); });
}

std::vector<recurrent::Weights> CudaExecutor::Impl::recurrentWeights(const Node& node) const {
  const auto state = [&](const std::string& role) -> const float* {
    const auto found = node.roles.find(role);
    return found == node.roles.end() ? nullptr : f(states[node.states[found->second]].data);
  };
  std::vector<recurrent::Weights> weights;
  for (int64_t layer = 0; layer < node.recurrentGeometry.layers; ++layer) {
    for (int64_t direction = 0; direction < node.recurrentGeometry.directions; ++direction) {
      const std::string suffix = "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
      weights.push_back({state("weight_ih" + suffix), state("weight_hh" + suffix), state("bias_ih" + suffix), state("bias_hh" + suffix)});
    }
  }
  return weights;
}

void CudaExecutor::Impl::forwardRecurrent(Node& node) {
  // Dropout between layers in training, with the dropout kind's counter-based masks (new ones at
  // every replay of a captured step); the stream is named by the node's place in the spec as there.
  node.dropoutActive = training && node.p > 0.0f && node.recurrentGeometry.layers > 1;
  const uint64_t place = spec.inputs.size() + static_cast<uint64_t>(node.spec - spec.nodes.data());
  RecurrentOps ops{*this, "node \"" + node.spec->id + "\" (" + node.spec->op + "): ", seed ^ kDropoutStream ^ place, node.p};
  recurrent::scheduleForward(ops, node.recurrentGeometry, recurrentWeights(node), recurrentBuffers(node), node.dropoutActive);
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
    // What the attributes alone show the executor cannot run, so a session refuses it before any
    // device work (PyTorch and the CPU allow output_padding below the dilation instead; cuDNN does not).
    if (node.op == "conv_transpose2d") {
      const auto stride = attrPair(node, "stride", {1, 1});
      const auto outputPadding = attrPair(node, "output_padding", {0, 0});
      if (outputPadding.first >= stride.first || outputPadding.second >= stride.second) {
        return "node \"" + node.id + "\" (conv_transpose2d): the CUDA executor needs output_padding smaller than the stride";
      }
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
    if (node.kind != Kind::Conv && node.kind != Kind::ConvTranspose) continue;
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
    if (node.convEpilogue) {
      result.push_back({node.spec->id, "relu_bias", impl_->nodes[node.fusedActivation].spec->id, node.convFused, node.convNote, "cudnn"});
    }
    if (node.epilogue == 0) continue;
    const std::string name = node.epilogue == kLtEpilogueReluBias ? "relu_bias" : node.epilogue == kLtEpilogueRelu ? "relu" : "bias";
    const std::string activation = node.fusedActivation >= 0 ? impl_->nodes[node.fusedActivation].spec->id : "";
    result.push_back({node.spec->id, name, activation, node.ltReady, node.ltNote, "cublasLt"});
  }
  return result;
}

const std::vector<std::string>& CudaExecutor::notices() const { return impl_->notices; }

std::vector<std::string> CudaExecutor::layoutChanges() const {
  std::vector<std::string> changes;
  for (const Node& node : impl_->nodes) {
    if (node.kind == Kind::Layout) changes.push_back(node.spec->id);
  }
  return changes;
}

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
    if (node.kind != Kind::Conv && node.kind != Kind::ConvTranspose) continue;
    const ConvAlgorithms& a = node.algorithms;
    text += node.spec->id + ": forward algo " + std::to_string(static_cast<int>(a.forward)) + " (" + mib(a.forwardBytes) + source(a, 0) +
            "), backward-data algo " + std::to_string(static_cast<int>(a.backwardData)) + " (" + mib(a.backwardDataBytes) + source(a, 1) +
            "), backward-filter algo " + std::to_string(static_cast<int>(a.backwardFilter)) + " (" + mib(a.backwardFilterBytes) +
            source(a, 2) + ")\n";
  }
  for (const EpilogueChoice& choice : epilogues()) {
    text += choice.node + (choice.library == "cudnn" ? ": cuDNN " : ": cuBLASLt ") + choice.epilogue + " epilogue" +
            (choice.activation.empty() ? std::string() : " (computes \"" + choice.activation + "\")") +
            (choice.active ? std::string() : " not used: " + choice.note) + "\n";
  }
  if (impl.options.autotune) {
    text += "autotune: " + std::to_string(impl.timed) + " timed, " + std::to_string(impl.fromCache) + " from the cache, " +
            std::to_string(impl.heuristicFallbacks) + " left to the heuristics; cache " +
            (impl.autotunePath.empty() ? std::string("in memory only") : impl.autotunePath) + "\n";
  }
  if (impl.options.channelsLast) {
    const std::vector<std::string> changes = layoutChanges();
    text += "channels-last: " + std::to_string(changes.size()) + " layout change" + (changes.size() == 1 ? "" : "s");
    for (size_t i = 0; i < changes.size(); ++i) text += (i == 0 ? ": " : ", ") + changes[i];
    text += "\n";
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
  return impl_->downloadState(s, s.data);
}

void CudaExecutor::setState(const std::string& name, const Tensor& value) {
  const auto found = impl_->stateIndex.find(name);
  if (found == impl_->stateIndex.end()) throw std::out_of_range("no parameter or buffer named \"" + name + "\"");
  const StateTensor& s = impl_->states[found->second];
  if (value.numel() != std::max<int64_t>(s.numel, 1)) {
    throw std::invalid_argument("\"" + name + "\" is " + formatShape(s.shape) + ", got " + formatShape(value.shape));
  }
  check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize");
  impl_->uploadState(s, s.data, value);
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
  return impl_->downloadValue(v, v.data);
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
  return impl_->downloadState(s, s.grad);
}

Tensor CudaExecutor::inputGradient(const std::string& inputName) const {
  const auto found = impl_->valueIndex.find(inputName);
  if (found == impl_->valueIndex.end() || !impl_->values[found->second].graphInput || !impl_->values[found->second].hasGrad) {
    throw std::out_of_range("no gradient for input \"" + inputName + "\"");
  }
  const Value& v = impl_->values[found->second];
  return impl_->downloadValue(v, v.grad);
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
      tensors.emplace_back(name + "." + slot, impl.downloadState(*state, *offset));
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
    impl.uploadState(state, *offset, tensor);
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
std::vector<std::string> CudaExecutor::layoutChanges() const { return {}; }
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
