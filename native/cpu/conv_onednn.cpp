// oneDNN is compiled against (its 2.x C API headers, Debian's libdnnl-dev) but never linked: the
// library is opened with dlopen at the first convolution, so one add-on loads on machines without it
// and falls back to im2col + GEMM there. oneDNN wants its own blocked layouts (nChw16c, OIhw16i16o…);
// each pass reorders the plain tensors the rest of the engine keeps into them and back (included in
// every timing of docs/PERFORMANCE.md), which keeps every other kernel layout-agnostic.
//
// Primitives are JIT-compiled per geometry, so a plan per (pass, geometry, thread's slice of the
// batch) is built once and cached.
#include "conv_onednn.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#if NETLENS_WITH_DNNL
#include <oneapi/dnnl/dnnl.h>

#include "data/dynlib.h"
#endif

namespace netlens::cpu::onednn {
namespace {

/** Empty when oneDNN may be used; otherwise why the environment says not to. */
std::string environmentRefusal() {
  const char* requested = std::getenv("NETLENS_BLAS");
  const std::string mode = requested ? requested : "";
  if (mode.empty() || mode == "auto" || mode == "onednn") return {};
  if (mode == "builtin") return "NETLENS_BLAS=builtin";
  return "NETLENS_BLAS=" + mode + " is not one of auto, onednn, builtin";
}

#if NETLENS_WITH_DNNL

constexpr const char* kSoname = "libdnnl.so.2";  // every oneDNN 2.x; 3.x changed the C API (libdnnl.so.3)

struct Api {
  data::SharedLibrary library{{kSoname}, "NETLENS_DNNL"};
  decltype(&dnnl_version) version = nullptr;
  decltype(&dnnl_engine_create) engineCreate = nullptr;
  decltype(&dnnl_stream_create) streamCreate = nullptr;
  decltype(&dnnl_stream_wait) streamWait = nullptr;
  decltype(&dnnl_stream_destroy) streamDestroy = nullptr;
  decltype(&dnnl_memory_desc_init_by_tag) memoryDescInitByTag = nullptr;
  decltype(&dnnl_memory_desc_equal) memoryDescEqual = nullptr;
  decltype(&dnnl_memory_desc_get_size) memoryDescGetSize = nullptr;
  decltype(&dnnl_dilated_convolution_forward_desc_init) forwardDescInit = nullptr;
  decltype(&dnnl_dilated_convolution_backward_data_desc_init) backwardDataDescInit = nullptr;
  decltype(&dnnl_dilated_convolution_backward_weights_desc_init) backwardWeightsDescInit = nullptr;
  decltype(&dnnl_primitive_desc_create) primitiveDescCreate = nullptr;
  decltype(&dnnl_primitive_desc_query_md) primitiveDescQueryMd = nullptr;
  decltype(&dnnl_primitive_desc_query) primitiveDescQuery = nullptr;
  decltype(&dnnl_primitive_desc_destroy) primitiveDescDestroy = nullptr;
  decltype(&dnnl_reorder_primitive_desc_create) reorderDescCreate = nullptr;
  decltype(&dnnl_primitive_create) primitiveCreate = nullptr;
  decltype(&dnnl_primitive_execute) primitiveExecute = nullptr;
  decltype(&dnnl_primitive_destroy) primitiveDestroy = nullptr;
  decltype(&dnnl_memory_create) memoryCreate = nullptr;
  decltype(&dnnl_memory_set_data_handle) memorySetDataHandle = nullptr;
  decltype(&dnnl_memory_destroy) memoryDestroy = nullptr;
  // An OpenMP build of oneDNN runs as many threads as the calling thread's OpenMP setting says;
  // libgomp's setter is found through libdnnl's own dependencies.
  void (*ompSetNumThreads)(int) = nullptr;
  // Created once and never destroyed, like the library itself (see SharedLibrary).
  dnnl_engine_t engine = nullptr;
  std::string description;  // "oneDNN 2.6.3 (OpenMP build)"

  Api() {
    if (!library.usable()) return;
    const bool bound =
        library.bind(version, "dnnl_version") && library.bind(engineCreate, "dnnl_engine_create") &&
        library.bind(streamCreate, "dnnl_stream_create") && library.bind(streamWait, "dnnl_stream_wait") &&
        library.bind(streamDestroy, "dnnl_stream_destroy") &&
        library.bind(memoryDescInitByTag, "dnnl_memory_desc_init_by_tag") &&
        library.bind(memoryDescEqual, "dnnl_memory_desc_equal") &&
        library.bind(memoryDescGetSize, "dnnl_memory_desc_get_size") &&
        library.bind(forwardDescInit, "dnnl_dilated_convolution_forward_desc_init") &&
        library.bind(backwardDataDescInit, "dnnl_dilated_convolution_backward_data_desc_init") &&
        library.bind(backwardWeightsDescInit, "dnnl_dilated_convolution_backward_weights_desc_init") &&
        library.bind(primitiveDescCreate, "dnnl_primitive_desc_create") &&
        library.bind(primitiveDescQueryMd, "dnnl_primitive_desc_query_md") &&
        library.bind(primitiveDescQuery, "dnnl_primitive_desc_query") &&
        library.bind(primitiveDescDestroy, "dnnl_primitive_desc_destroy") &&
        library.bind(reorderDescCreate, "dnnl_reorder_primitive_desc_create") &&
        library.bind(primitiveCreate, "dnnl_primitive_create") && library.bind(primitiveExecute, "dnnl_primitive_execute") &&
        library.bind(primitiveDestroy, "dnnl_primitive_destroy") && library.bind(memoryCreate, "dnnl_memory_create") &&
        library.bind(memorySetDataHandle, "dnnl_memory_set_data_handle") &&
        library.bind(memoryDestroy, "dnnl_memory_destroy");
    if (!bound) return;
    const dnnl_version_t* found = version();
    const std::string number = std::to_string(found->major) + "." + std::to_string(found->minor) + "." + std::to_string(found->patch);
    // The memory descriptor is a by-value struct in 2.x and its layout is the ABI we were built for.
    if (found->major != DNNL_VERSION_MAJOR) {
      library.reject(library.name() + " is oneDNN " + number + ", but this engine was built for oneDNN " +
                     std::to_string(DNNL_VERSION_MAJOR) + ".x");
      return;
    }
    std::string runtime = "sequential";
    if (found->cpu_runtime == DNNL_RUNTIME_OMP) {
      runtime = "OpenMP";
      if (!library.bind(ompSetNumThreads, "omp_set_num_threads")) return;
    } else if (found->cpu_runtime == DNNL_RUNTIME_TBB) {
      runtime = "TBB";
    } else if (found->cpu_runtime == DNNL_RUNTIME_THREADPOOL) {
      // A threadpool build needs the caller to pass a pool with every stream; we do not.
      library.reject(library.name() + " is a threadpool build of oneDNN, which this engine does not drive");
      return;
    }
    if (engineCreate(&engine, dnnl_cpu, 0) != dnnl_success) {
      library.reject(library.name() + ": no CPU engine could be created");
      return;
    }
    description = "oneDNN " + number + " (" + runtime + " build)";
  }
};

Api& api() {
  static Api instance;  // opened once, on first use
  return instance;
}

bool apiUsable() { return environmentRefusal().empty() && api().library.usable(); }

// One pass of one convolution geometry: the primitive and, per operand, the plain buffer the engine
// passes in and (when oneDNN wants another layout) the internal buffer with its reorder.
struct Operand {
  int argument = 0;
  bool output = false;
  dnnl_memory_t plain = nullptr;     // the caller's buffer, attached on each call
  dnnl_memory_t internal = nullptr;  // null when the primitive takes the plain layout
  size_t internalBytes = 0;          // its buffer comes from the calling thread's scratch (below)
  dnnl_primitive_t reorder = nullptr;
};

// The blocked copies live in per-thread scratch buffers that every plan run by that thread shares,
// not in each plan: a plan per pass and layer holding its own copies would keep about three extra
// copies of every activation alive (gigabytes for a VGG at 224×224).
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }
  /** At least `bytes`, 64-byte aligned (a cache line; oneDNN's AVX-512 loads want it). */
  void* reserve(size_t bytes) {
    if (bytes > capacity_) {
      std::free(data_);
      capacity_ = (bytes + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, capacity_);
      if (!data_) capacity_ = 0;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};
using OperandScratch = std::array<ScratchBuffer, 3>;

struct PassPlan {
  dnnl_primitive_t primitive = nullptr;
  dnnl_stream_t stream = nullptr;  // each plan runs on one of our threads at a time, on its own stream
  std::array<Operand, 3> operands{};

  PassPlan() = default;
  PassPlan(const PassPlan&) = delete;
  PassPlan& operator=(const PassPlan&) = delete;
  ~PassPlan() {
    Api& dnnl = api();
    for (Operand& operand : operands) {
      if (operand.reorder) dnnl.primitiveDestroy(operand.reorder);
      if (operand.internal) dnnl.memoryDestroy(operand.internal);
      if (operand.plain) dnnl.memoryDestroy(operand.plain);
    }
    if (primitive) dnnl.primitiveDestroy(primitive);
    if (stream) dnnl.streamDestroy(stream);
  }
};

/** Owns a primitive descriptor for the length of one plan's construction. */
struct DescriptorGuard {
  dnnl_primitive_desc_t descriptor = nullptr;
  ~DescriptorGuard() {
    if (descriptor) api().primitiveDescDestroy(descriptor);
  }
};

bool ok(dnnl_status_t status) { return status == dnnl_success; }

bool addOperand(Operand& operand, int argument, bool output, const dnnl_memory_desc_t& plainDesc,
                const dnnl_memory_desc_t* wanted) {
  Api& dnnl = api();
  operand.argument = argument;
  operand.output = output;
  if (!wanted || !ok(dnnl.memoryCreate(&operand.plain, &plainDesc, dnnl.engine, DNNL_MEMORY_NONE))) return false;
  if (dnnl.memoryDescEqual(&plainDesc, wanted)) return true;
  operand.internalBytes = dnnl.memoryDescGetSize(wanted);
  if (!ok(dnnl.memoryCreate(&operand.internal, wanted, dnnl.engine, DNNL_MEMORY_NONE))) return false;
  DescriptorGuard reorder;
  const dnnl_memory_desc_t* from = output ? wanted : &plainDesc;
  const dnnl_memory_desc_t* to = output ? &plainDesc : wanted;
  return ok(dnnl.reorderDescCreate(&reorder.descriptor, from, dnnl.engine, to, dnnl.engine, nullptr)) &&
         ok(dnnl.primitiveCreate(&operand.reorder, reorder.descriptor));
}

/** Builds the plan, or returns null when oneDNN refuses the geometry (the built-in kernels run then). */
std::unique_ptr<PassPlan> buildPlan(ConvPass pass, const ConvGeometry& g) {
  Api& dnnl = api();
  const dnnl_dims_t srcDims = {g.batch, g.inChannels, g.inH, g.inW};
  const dnnl_dims_t dstDims = {g.batch, g.outChannels, g.outH, g.outW};
  const dnnl_dims_t groupedWeightDims = {g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernelH, g.kernelW};
  const dnnl_dims_t weightDims = {g.outChannels, g.inChannels, g.kernelH, g.kernelW};
  const bool grouped = g.groups > 1;
  dnnl_memory_desc_t srcPlain, dstPlain, weightPlain, srcAny, dstAny, weightAny;
  if (!ok(dnnl.memoryDescInitByTag(&srcPlain, 4, srcDims, dnnl_f32, dnnl_nchw)) ||
      !ok(dnnl.memoryDescInitByTag(&dstPlain, 4, dstDims, dnnl_f32, dnnl_nchw)) ||
      !ok(dnnl.memoryDescInitByTag(&weightPlain, grouped ? 5 : 4, grouped ? groupedWeightDims : weightDims, dnnl_f32,
                                   grouped ? dnnl_goihw : dnnl_oihw)) ||
      !ok(dnnl.memoryDescInitByTag(&srcAny, 4, srcDims, dnnl_f32, dnnl_format_tag_any)) ||
      !ok(dnnl.memoryDescInitByTag(&dstAny, 4, dstDims, dnnl_f32, dnnl_format_tag_any)) ||
      !ok(dnnl.memoryDescInitByTag(&weightAny, grouped ? 5 : 4, grouped ? groupedWeightDims : weightDims, dnnl_f32,
                                   dnnl_format_tag_any))) {
    return nullptr;
  }
  // oneDNN counts dilation from 0 and takes the right/bottom padding that makes its output extent
  // equal ours (PyTorch's floor drops trailing input rows, which is a smaller, even negative, pad).
  const dnnl_dims_t strides = {g.strideH, g.strideW};
  const dnnl_dims_t dilates = {g.dilationH - 1, g.dilationW - 1};
  const dnnl_dims_t padBefore = {g.padH, g.padW};
  const dnnl_dims_t padAfter = {(g.outH - 1) * g.strideH + (g.kernelH - 1) * g.dilationH + 1 - g.inH - g.padH,
                                (g.outW - 1) * g.strideW + (g.kernelW - 1) * g.dilationW + 1 - g.inW - g.padW};
  if (padAfter[0] < 0 || padAfter[1] < 0) return nullptr;

  dnnl_convolution_desc_t forwardDesc;
  DescriptorGuard forward;
  if (!ok(dnnl.forwardDescInit(&forwardDesc, dnnl_forward_training, dnnl_convolution_direct, &srcAny, &weightAny, nullptr,
                               &dstAny, strides, dilates, padBefore, padAfter)) ||
      !ok(dnnl.primitiveDescCreate(&forward.descriptor, &forwardDesc, nullptr, dnnl.engine, nullptr))) {
    return nullptr;
  }
  auto plan = std::make_unique<PassPlan>();
  DescriptorGuard backward;
  const dnnl_primitive_desc_t* chosen = &forward.descriptor;
  bool operandsReady = false;
  switch (pass) {
    case ConvPass::Forward: {
      const dnnl_primitive_desc_t d = forward.descriptor;
      operandsReady = addOperand(plan->operands[0], DNNL_ARG_SRC, false, srcPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_src_md, 0)) &&
                      addOperand(plan->operands[1], DNNL_ARG_WEIGHTS, false, weightPlain,
                                 dnnl.primitiveDescQueryMd(d, dnnl_query_weights_md, 0)) &&
                      addOperand(plan->operands[2], DNNL_ARG_DST, true, dstPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_dst_md, 0));
      break;
    }
    case ConvPass::BackwardData: {
      dnnl_convolution_desc_t desc;
      if (!ok(dnnl.backwardDataDescInit(&desc, dnnl_convolution_direct, &srcAny, &weightAny, &dstAny, strides, dilates, padBefore,
                                        padAfter)) ||
          !ok(dnnl.primitiveDescCreate(&backward.descriptor, &desc, nullptr, dnnl.engine, forward.descriptor))) {
        return nullptr;
      }
      const dnnl_primitive_desc_t d = backward.descriptor;
      chosen = &backward.descriptor;
      operandsReady =
          addOperand(plan->operands[0], DNNL_ARG_DIFF_DST, false, dstPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_diff_dst_md, 0)) &&
          addOperand(plan->operands[1], DNNL_ARG_WEIGHTS, false, weightPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_weights_md, 0)) &&
          addOperand(plan->operands[2], DNNL_ARG_DIFF_SRC, true, srcPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_diff_src_md, 0));
      break;
    }
    case ConvPass::BackwardWeight: {
      dnnl_convolution_desc_t desc;
      if (!ok(dnnl.backwardWeightsDescInit(&desc, dnnl_convolution_direct, &srcAny, &weightAny, nullptr, &dstAny, strides, dilates,
                                           padBefore, padAfter)) ||
          !ok(dnnl.primitiveDescCreate(&backward.descriptor, &desc, nullptr, dnnl.engine, forward.descriptor))) {
        return nullptr;
      }
      const dnnl_primitive_desc_t d = backward.descriptor;
      chosen = &backward.descriptor;
      operandsReady =
          addOperand(plan->operands[0], DNNL_ARG_SRC, false, srcPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_src_md, 0)) &&
          addOperand(plan->operands[1], DNNL_ARG_DIFF_DST, false, dstPlain, dnnl.primitiveDescQueryMd(d, dnnl_query_diff_dst_md, 0)) &&
          addOperand(plan->operands[2], DNNL_ARG_DIFF_WEIGHTS, true, weightPlain,
                     dnnl.primitiveDescQueryMd(d, dnnl_query_diff_weights_md, 0));
      break;
    }
  }
  // oneDNN's reference implementations ("ref:any") are plain loops kept for correctness, slower than
  // im2col + GEMM: leave such geometries to the built-in kernels.
  const char* implementation = nullptr;
  if (!ok(dnnl.primitiveDescQuery(*chosen, dnnl_query_impl_info_str, 0, &implementation)) || !implementation ||
      std::strncmp(implementation, "ref", 3) == 0) {
    return nullptr;
  }
  if (!operandsReady || !ok(dnnl.primitiveCreate(&plan->primitive, *chosen)) ||
      !ok(dnnl.streamCreate(&plan->stream, dnnl.engine, dnnl_stream_default_flags))) {
    return nullptr;
  }
  return plan;
}

bool execute(PassPlan& plan, OperandScratch& scratch, const float* first, const float* second, float* out) {
  Api& dnnl = api();
  const std::array<void*, 3> buffers = {const_cast<float*>(first), const_cast<float*>(second), out};
  std::array<dnnl_exec_arg_t, 3> arguments{};
  for (size_t i = 0; i < plan.operands.size(); ++i) {
    Operand& operand = plan.operands[i];
    if (!ok(dnnl.memorySetDataHandle(operand.plain, buffers[i]))) return false;
    if (operand.internal) {
      void* blocked = scratch[i].reserve(operand.internalBytes);
      if (!blocked || !ok(dnnl.memorySetDataHandle(operand.internal, blocked))) return false;
    }
    arguments[i] = {operand.argument, operand.internal ? operand.internal : operand.plain};
    if (!operand.output && operand.reorder) {
      const dnnl_exec_arg_t reorderArguments[] = {{DNNL_ARG_FROM, operand.plain}, {DNNL_ARG_TO, operand.internal}};
      if (!ok(dnnl.primitiveExecute(operand.reorder, plan.stream, 2, reorderArguments))) return false;
    }
  }
  if (!ok(dnnl.primitiveExecute(plan.primitive, plan.stream, 3, arguments.data()))) return false;
  const Operand& result = plan.operands[2];
  if (result.reorder) {
    const dnnl_exec_arg_t reorderArguments[] = {{DNNL_ARG_FROM, result.internal}, {DNNL_ARG_TO, result.plain}};
    if (!ok(dnnl.primitiveExecute(result.reorder, plan.stream, 2, reorderArguments))) return false;
  }
  return ok(dnnl.streamWait(plan.stream));
}

// The geometry (with the slice's batch), the pass, and which of our threads runs it.
using PlanKey = std::array<int64_t, 18>;

PlanKey planKey(ConvPass pass, const ConvGeometry& g, int chunk) {
  return {static_cast<int64_t>(pass), g.batch, g.inChannels, g.inH, g.inW, g.outChannels, g.outH, g.outW, g.kernelH, g.kernelW,
          g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW, g.groups, chunk};
}

// Plans hold their internal buffers (a few MB for a large layer); a model whose shapes keep changing
// would grow this without bound, so past this many the cache starts over.
constexpr size_t kMaxPlans = 128;

std::mutex plansMutex;
std::map<PlanKey, std::unique_ptr<PassPlan>>& plans() {
  // Never destroyed: destroying plans at exit would call into libdnnl after its own statics may be gone.
  static auto* cache = new std::map<PlanKey, std::unique_ptr<PassPlan>>();  // null: oneDNN refused this geometry
  return *cache;
}

PassPlan* planFor(ConvPass pass, const ConvGeometry& g, int chunk) {
  std::lock_guard<std::mutex> lock(plansMutex);
  std::map<PlanKey, std::unique_ptr<PassPlan>>& cache = plans();
  const PlanKey key = planKey(pass, g, chunk);
  auto found = cache.find(key);
  if (found == cache.end()) found = cache.emplace(key, buildPlan(pass, g)).first;
  return found->second.get();
}

#endif  // NETLENS_WITH_DNNL

}  // namespace

bool convolution(ConvPass pass, const ConvGeometry& g, const float* first, const float* second, float* out) {
#if NETLENS_WITH_DNNL
  static const bool enabled = apiUsable();
  if (!enabled) return false;
  // Samples are split over our own thread pool and each slice runs single-threaded in oneDNN, instead
  // of oneDNN's OpenMP team: OpenMP's spinning barriers collapse when the cores are shared (on the
  // 2-core machine, with builds running beside it, a step took about 3x longer that way), and one
  // pool then serves every kernel. One call at a time: plans and scratch serve the call running them.
  static std::mutex callMutex;
  std::lock_guard<std::mutex> call(callMutex);
  {
    std::lock_guard<std::mutex> lock(plansMutex);
    if (plans().size() >= kMaxPlans) plans().clear();
  }
  const int64_t inSample = g.inChannels * g.inH * g.inW;
  const int64_t outSample = g.outChannels * g.outH * g.outW;
  const int64_t weightSize = g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW;
  std::vector<std::vector<float>> partialWeights(static_cast<size_t>(threadCount()));
  static std::vector<OperandScratch> scratch;  // one per chunk, i.e. per thread of our pool
  if (scratch.size() < partialWeights.size()) scratch = std::vector<OperandScratch>(partialWeights.size());
  std::atomic<bool> failed{false};
  parallelFor(g.batch, 1, [&](int64_t begin, int64_t end, int chunk) {
    // Before building a plan too: creating primitives may already start an OpenMP team.
    if (api().ompSetNumThreads) api().ompSetNumThreads(1);
    ConvGeometry slice = g;
    slice.batch = end - begin;
    PassPlan* plan = planFor(pass, slice, chunk);
    if (!plan) {
      failed = true;
      return;
    }
    OperandScratch& threadScratch = scratch[static_cast<size_t>(chunk)];
    bool done = false;
    switch (pass) {
      case ConvPass::Forward: done = execute(*plan, threadScratch, first + begin * inSample, second, out + begin * outSample); break;
      case ConvPass::BackwardData: done = execute(*plan, threadScratch, first + begin * outSample, second, out + begin * inSample); break;
      case ConvPass::BackwardWeight: {
        float* target = out;
        if (chunk > 0) {
          std::vector<float>& partial = partialWeights[static_cast<size_t>(chunk)];
          partial.resize(static_cast<size_t>(weightSize));
          target = partial.data();
        }
        done = execute(*plan, threadScratch, first + begin * inSample, second + begin * outSample, target);
        break;
      }
    }
    if (!done) failed = true;
  });
  if (failed) return false;
  for (const std::vector<float>& partial : partialWeights) {
    for (size_t i = 0; i < partial.size(); ++i) out[i] += partial[i];
  }
  return true;
#else
  (void)pass, (void)g, (void)first, (void)second, (void)out;
  return false;
#endif
}

bool usable() {
#if NETLENS_WITH_DNNL
  return apiUsable();
#else
  return false;
#endif
}

std::string status() {
  const std::string refusal = environmentRefusal();
  if (!refusal.empty()) return refusal;
#if NETLENS_WITH_DNNL
  const Api& dnnl = api();
  if (!dnnl.library.usable()) return dnnl.library.problem();
  return dnnl.description;
#else
  return "oneDNN not compiled in (no oneDNN 2.x headers at build time; Debian: apt-get install libdnnl-dev)";
#endif
}

}  // namespace netlens::cpu::onednn
