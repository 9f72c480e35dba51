// N-API face of the engine: `new Engine(specJson, seed, {device, precision, cudaGraph, autotune, autotuneCache, channelsLast})` over the CPU
// netlens::Executor or, on device "cuda", the CUDA executor, behind one session API. Tensors cross as
// {shape: number[], data: Float32Array}; everything returned is copied into JS-owned buffers
// (Electron's memory cage rejects external ArrayBuffers). Conversions and dispatch only; the logic is
// the core's. What a CUDA session cannot do (an op, inspection) is refused with "use --device cpu".
#include "engine_binding.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "data_binding.h"
#include "netlens/executor.h"
#include "netlens/graph_spec.h"

#ifdef NETLENS_WITH_CUDA
#include "cuda_executor.h"
#endif

namespace netlens::binding {
namespace {

Tensor tensorFromJs(const Napi::Env& env, const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, what + " must be {shape, data}");
  const Napi::Object object = value.As<Napi::Object>();
  const Napi::Value shapeValue = object.Get("shape");
  const Napi::Value dataValue = object.Get("data");
  if (!shapeValue.IsArray()) throw Napi::TypeError::New(env, what + ".shape must be an array of integers");
  if (!dataValue.IsTypedArray() || dataValue.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, what + ".data must be a Float32Array");
  }
  const Napi::Array shapeArray = shapeValue.As<Napi::Array>();
  Shape shape;
  for (uint32_t i = 0; i < shapeArray.Length(); ++i) {
    const Napi::Value extent = shapeArray.Get(i);
    if (!extent.IsNumber() || extent.As<Napi::Number>().DoubleValue() < 1) {
      throw Napi::TypeError::New(env, what + ".shape must hold positive integers");
    }
    shape.push_back(extent.As<Napi::Number>().Int64Value());
  }
  const Napi::Float32Array data = dataValue.As<Napi::Float32Array>();
  if (static_cast<int64_t>(data.ElementLength()) != shapeNumel(shape)) {
    throw Napi::RangeError::New(env, what + " has " + std::to_string(data.ElementLength()) + " values for shape " +
                                         formatShape(shape));
  }
  return Tensor(shape, std::vector<float>(data.Data(), data.Data() + data.ElementLength()));
}

Napi::Object tensorToJs(const Napi::Env& env, const Tensor& tensor) {
  Napi::Object object = Napi::Object::New(env);
  Napi::Array shape = Napi::Array::New(env, tensor.shape.size());
  for (size_t i = 0; i < tensor.shape.size(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(tensor.shape[i]));
  Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(tensor.numel()));
  std::copy(tensor.data.begin(), tensor.data.end(), data.Data());
  object.Set("shape", shape);
  object.Set("data", data);
  return object;
}

TensorMap tensorsFromJs(const Napi::Env& env, const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, what + " must map input names to {shape, data}");
  const Napi::Object object = value.As<Napi::Object>();
  const Napi::Array names = object.GetPropertyNames();
  TensorMap tensors;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    tensors[name] = tensorFromJs(env, object.Get(name), what + "." + name);
  }
  return tensors;
}

/** Where a session runs and how: the third argument of `new Engine`. */
struct SessionOptions {
  std::string device = "cpu";
  std::string precision = "fp32";
  bool cudaGraph = true;
  /** cuDNN autotuning cached per shape (device cuda only); autotuneCache: the file, "" default, "none" memory only. */
  bool autotune = false;
  std::string autotuneCache;
  /** NHWC activations and [K, R, S, C] filters on the GPU (device cuda only); the API stays NCHW. */
  bool channelsLast = false;
};

SessionOptions sessionOptionsFromJs(const Napi::Env& env, const Napi::Value& value) {
  SessionOptions options;
  if (value.IsUndefined() || value.IsNull()) return options;
  if (!value.IsObject()) throw Napi::TypeError::New(env, "new Engine(spec, seed, options): options must be {device, precision, cudaGraph, autotune, autotuneCache, channelsLast}");
  const Napi::Object object = value.As<Napi::Object>();
  const auto text = [&](const char* key, std::string& field) {
    const Napi::Value v = object.Get(key);
    if (v.IsUndefined()) return;
    if (!v.IsString()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a string");
    field = v.As<Napi::String>().Utf8Value();
  };
  const auto flag = [&](const char* key, bool& field) {
    const Napi::Value v = object.Get(key);
    if (v.IsUndefined()) return;
    if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a boolean");
    field = v.As<Napi::Boolean>().Value();
  };
  text("device", options.device);
  text("precision", options.precision);
  flag("cudaGraph", options.cudaGraph);
  flag("autotune", options.autotune);
  text("autotuneCache", options.autotuneCache);
  flag("channelsLast", options.channelsLast);
  if (options.device != "cpu" && options.device != "cuda") {
    throw Napi::Error::New(env, "device '" + options.device + "' is not one of cpu, cuda");
  }
  if (options.precision != "fp32" && options.precision != "tf32" && options.precision != "bf16") {
    throw Napi::Error::New(env, "precision '" + options.precision + "' is not one of fp32, tf32, bf16");
  }
  if (options.device == "cpu" && options.precision != "fp32") {
    throw Napi::Error::New(env, "precision " + options.precision +
                                    ": the CPU engine computes in strict fp32 only (tf32 and bf16 are GPU modes); use --precision fp32");
  }
  if (options.device == "cpu" && options.autotune) {
    throw Napi::Error::New(env, "autotune: cuDNN autotuning is for device cuda (the CPU engine has no algorithms to time); use --device cuda");
  }
  if (options.device == "cpu" && options.channelsLast) {
    throw Napi::Error::New(env, "channelsLast: NHWC layouts are for cuDNN's convolutions on device cuda (the CPU engine is NCHW); use --device cuda");
  }
  return options;
}

/** A batch of the core loader as the spec's inputs: the images move, the labels become floats. */
TensorMap batchInputs(data::Batch& batch, const std::string& inputName, const std::string& targetName) {
  TensorMap inputs;
  const Shape imageShape(batch.shape.begin(), batch.shape.end());
  inputs[inputName] = Tensor(imageShape, std::move(batch.images));
  const Shape labelShape{static_cast<int64_t>(batch.labels.size())};
  inputs[targetName] = Tensor(labelShape, std::vector<float>(batch.labels.begin(), batch.labels.end()));
  return inputs;
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

class EngineObject : public Napi::ObjectWrap<EngineObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("stateNames", &EngineObject::stateNames),
                           InstanceMethod("isTrainable", &EngineObject::isTrainable),
                           InstanceMethod("getState", &EngineObject::getState),
                           InstanceMethod("setState", &EngineObject::setState),
                           InstanceMethod("setTraining", &EngineObject::setTraining),
                           InstanceMethod("forward", &EngineObject::forward),
                           InstanceMethod("trainSteps", &EngineObject::trainSteps),
                           InstanceMethod("trainFromLoader", &EngineObject::trainFromLoader),
                           InstanceMethod("values", &EngineObject::values),
                           InstanceMethod("valueShapes", &EngineObject::valueShapes),
                           InstanceMethod("backward", &EngineObject::backward),
                           InstanceMethod("optimizerState", &EngineObject::optimizerState),
                           InstanceMethod("setOptimizerState", &EngineObject::setOptimizerState),
                           InstanceMethod("sessionInfo", &EngineObject::sessionInfo),
                       });
  }

  explicit EngineObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineObject>(info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "new Engine(specJson, seed?, options?) needs the graph spec as a JSON string");
    const uint64_t seed = info.Length() > 1 && info[1].IsNumber() ? static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()) : 0;
    options_ = sessionOptionsFromJs(env, info.Length() > 2 ? info[2] : env.Undefined());
    const std::string specJson = info[0].As<Napi::String>().Utf8Value();
    if (options_.device == "cpu") {
      guarded(env, [&] { executor_ = std::make_unique<Executor>(parseGraphSpec(specJson), seed); });
    } else {
      openCuda(env, specJson, seed);
    }
  }

 private:
  // Core errors (bad spec, wrong shapes, NaN loss) become JS Errors with the core's message.
  template <typename Body>
  static void guarded(const Napi::Env& env, Body body) {
    try {
      body();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& error) {
      throw Napi::Error::New(env, error.what());
    }
  }

  bool onGpu() const { return executor_ == nullptr; }

  /** Refuses, in this order and before any device work where it can: a model the executor lacks, no usable GPU. */
  void openCuda(const Napi::Env& env, const std::string& specJson, uint64_t seed) {
#ifdef NETLENS_WITH_CUDA
    GraphSpec spec;
    guarded(env, [&] { spec = parseGraphSpec(specJson); });
    const std::string unsupported = cuda::CudaExecutor::unsupportedReason(spec);
    if (!unsupported.empty()) throw Napi::Error::New(env, "--device cuda: " + unsupported + "; use --device cpu");
    std::string missing;
    if (!cuda::cudaExecutorAvailable(&missing)) throw Napi::Error::New(env, "--device cuda: the CUDA executor cannot run here (" + missing + "); use --device cpu");
    cuda::CudaOptions options;
    options.tf32 = options_.precision == "tf32";
    options.bf16 = options_.precision == "bf16";
    options.cudaGraph = options_.cudaGraph;
    options.autotune = options_.autotune;
    options.autotuneCache = options_.autotuneCache;
    options.channelsLast = options_.channelsLast;
    try {
      gpu_ = std::make_unique<cuda::CudaExecutor>(std::move(spec), seed, options);
    } catch (const SpecError& error) {
      throw Napi::Error::New(env, std::string("--device cuda: ") + error.what() + "; use --device cpu");
    } catch (const std::exception& error) {
      throw Napi::Error::New(env, error.what());
    }
    for (const InputSpec& input : gpu_->spec().inputs) {
      if (!gpu_->spec().loss || input.name != gpu_->spec().loss->target) modelInput_ = input.name;
    }
#else
    (void)specJson;
    (void)seed;
    // The same words as engineInfo().cudaExecutorStatus in a CPU-only build.
    throw Napi::Error::New(env, "--device cuda: the CUDA executor cannot run here (the CUDA executor is not compiled in (CPU-only build)); use --device cpu");
#endif
  }

  /** Inspection (node values, seeded backward) lives on the CPU engine only. */
  void cpuOnly(const Napi::Env& env, const char* what) const {
    if (onGpu()) {
      throw Napi::Error::New(env, std::string(what) + ": not available in a CUDA training session (inspection runs on the CPU engine; use --device cpu)");
    }
  }

  std::string stringArgument(const Napi::CallbackInfo& info, const char* what) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
    return info[0].As<Napi::String>().Utf8Value();
  }

  const GraphSpec& spec() const {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->spec();
#endif
    return executor_->spec();
  }
  const std::vector<std::string>& names() const {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->stateNames();
#endif
    return executor_->stateNames();
  }
  Tensor stateValue(const std::string& name) const {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->state(name);
#endif
    return executor_->state(name);
  }
  double learningRate() const {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->learningRate();
#endif
    return executor_->optimizer().learningRate();
  }
  double trainStep(const TensorMap& inputs) {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->trainStep(inputs);
#endif
    return executor_->trainStep(inputs);
  }
  int64_t lastStepCorrect() const {
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return gpu_->lastStepCorrect();
#endif
    return executor_->lastStepCorrect();
  }

  Napi::Value stateNames(const Napi::CallbackInfo& info) {
    const std::vector<std::string>& list = names();
    Napi::Array result = Napi::Array::New(info.Env(), list.size());
    for (size_t i = 0; i < list.size(); ++i) result.Set(static_cast<uint32_t>(i), list[i]);
    return result;
  }

  Napi::Value isTrainable(const Napi::CallbackInfo& info) {
    const std::string name = stringArgument(info, "name");
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) return Napi::Boolean::New(info.Env(), gpu_->isTrainable(name));
#endif
    return Napi::Boolean::New(info.Env(), executor_->isTrainable(name));
  }

  Napi::Value getState(const Napi::CallbackInfo& info) {
    Napi::Value result;
    guarded(info.Env(), [&] { result = tensorToJs(info.Env(), stateValue(stringArgument(info, "name"))); });
    return result;
  }

  Napi::Value setState(const Napi::CallbackInfo& info) {
    const std::string name = stringArgument(info, "name");
    if (info.Length() < 2) throw Napi::TypeError::New(info.Env(), "setState(name, {shape, data})");
    const Tensor value = tensorFromJs(info.Env(), info[1], name);
    guarded(info.Env(), [&] {
#ifdef NETLENS_WITH_CUDA
      if (onGpu()) return gpu_->setState(name, value);
#endif
      executor_->setState(name, value);
    });
    return info.Env().Undefined();
  }

  Napi::Value setTraining(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setTraining(boolean)");
    training_ = info[0].As<Napi::Boolean>().Value();
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) {
      gpu_->setTraining(training_);
      return info.Env().Undefined();
    }
#endif
    executor_->setTraining(training_);
    return info.Env().Undefined();
  }

  /** forward(inputs) → {outputId: {shape, data}} for the spec's outputs. */
  Napi::Value forward(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const TensorMap inputs = tensorsFromJs(env, info.Length() > 0 ? info[0] : env.Undefined(), "inputs");
    Napi::Object result = Napi::Object::New(env);
    guarded(env, [&] {
#ifdef NETLENS_WITH_CUDA
      if (onGpu()) return forwardOnGpu(env, inputs, result);
#endif
      executor_->forward(inputs);
      for (const std::string& output : executor_->spec().outputs) result.Set(output, tensorToJs(env, executor_->value(output)));
    });
    return result;
  }

#ifdef NETLENS_WITH_CUDA
  /**
   * The CUDA plan is for the spec's batch: a smaller evaluation batch (the last one of a validation
   * pass) is padded with zero rows and the outputs cut back. Only in eval mode, where every row is
   * computed on its own (batch norm uses its running statistics), so the padding changes nothing.
   */
  void forwardOnGpu(const Napi::Env& env, const TensorMap& inputs, Napi::Object& result) {
    const auto given = inputs.find(modelInput_);
    const Shape planned = gpu_->inputShape(modelInput_);
    int64_t rows = -1;
    if (given != inputs.end() && !training_ && given->second.shape.size() == planned.size() && !planned.empty() &&
        given->second.shape[0] < planned[0] &&
        std::equal(planned.begin() + 1, planned.end(), given->second.shape.begin() + 1)) {
      rows = given->second.shape[0];
      TensorMap padded;
      padded[modelInput_] = Tensor(planned);
      std::copy(given->second.data.begin(), given->second.data.end(), padded[modelInput_].data.begin());
      gpu_->forward(padded);
    } else {
      gpu_->forward(inputs);
    }
    for (const std::string& output : gpu_->spec().outputs) {
      Tensor value = gpu_->value(output);
      if (rows >= 0) {
        if (value.shape.empty() || value.shape[0] != planned[0]) {
          throw std::invalid_argument("output \"" + output + "\" is " + formatShape(value.shape) +
                                      ": a batch smaller than the CUDA plan's needs outputs with the batch first");
        }
        const int64_t rowSize = value.numel() / value.shape[0];
        value.shape[0] = rows;
        value.data.resize(static_cast<size_t>(rows * rowSize));
      }
      result.Set(output, tensorToJs(env, value));
    }
  }
#endif

  /** values(ids) → {id: {shape, data}}: node values (or graph inputs) of the last forward. */
  Napi::Value values(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    cpuOnly(env, "values");
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "values(ids: string[])");
    const Napi::Array ids = info[0].As<Napi::Array>();
    Napi::Object result = Napi::Object::New(env);
    for (uint32_t i = 0; i < ids.Length(); ++i) {
      if (!ids.Get(i).IsString()) throw Napi::TypeError::New(env, "values(ids: string[])");
      const std::string id = ids.Get(i).As<Napi::String>().Utf8Value();
      guarded(env, [&] { result.Set(id, tensorToJs(env, executor_->value(id))); });
    }
    return result;
  }

  /** valueShapes() → {nodeId: shape} of the last forward (no data copied). */
  Napi::Value valueShapes(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    cpuOnly(env, "valueShapes");
    Napi::Object result = Napi::Object::New(env);
    guarded(env, [&] {
      for (const NodeSpec& node : executor_->spec().nodes) {
        const Shape& shape = executor_->value(node.id).shape;
        Napi::Array array = Napi::Array::New(env, shape.size());
        for (size_t i = 0; i < shape.size(); ++i) array.Set(static_cast<uint32_t>(i), static_cast<double>(shape[i]));
        result.Set(node.id, array);
      }
    });
    return result;
  }

  /** backward(seeds: {id: gradient}) → {inputName: gradient}: back-propagates after forward(), returning the float inputs' gradients. */
  Napi::Value backward(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    cpuOnly(env, "backward");
    const TensorMap seeds = tensorsFromJs(env, info.Length() > 0 ? info[0] : env.Undefined(), "seeds");
    Napi::Object result = Napi::Object::New(env);
    guarded(env, [&] {
      executor_->backward(seeds, true);
      for (const InputSpec& input : executor_->spec().inputs) {
        if (input.dtype == "float32" && !(executor_->spec().loss && executor_->spec().loss->target == input.name)) {
          result.Set(input.name, tensorToJs(env, executor_->inputGradient(input.name)));
        }
      }
    });
    return result;
  }

  /** optimizerState() → {steps, tensors: [{name, shape, data}]} (see Optimizer::exportState). */
  Napi::Value optimizerState(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    guarded(env, [&] {
      std::vector<std::pair<std::string, Tensor>> tensors;
      int64_t steps = 0;
#ifdef NETLENS_WITH_CUDA
      if (onGpu()) {
        tensors = gpu_->exportOptimizerState();
        steps = gpu_->stepsTaken();
      }
#endif
      if (!onGpu()) {
        tensors = executor_->optimizer().exportState();
        steps = executor_->optimizer().stepsTaken();
      }
      Napi::Array list = Napi::Array::New(env, tensors.size());
      for (size_t i = 0; i < tensors.size(); ++i) {
        Napi::Object entry = tensorToJs(env, tensors[i].second);
        entry.Set("name", tensors[i].first);
        list.Set(static_cast<uint32_t>(i), entry);
      }
      result.Set("steps", static_cast<double>(steps));
      result.Set("tensors", list);
    });
    return result;
  }

  /** setOptimizerState({steps, tensors: [{name, shape, data}]}). */
  Napi::Value setOptimizerState(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setOptimizerState({steps, tensors})");
    const Napi::Object object = info[0].As<Napi::Object>();
    if (!object.Get("steps").IsNumber() || !object.Get("tensors").IsArray()) {
      throw Napi::TypeError::New(env, "setOptimizerState({steps: number, tensors: {name, shape, data}[]})");
    }
    const Napi::Array list = object.Get("tensors").As<Napi::Array>();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      const Napi::Value entry = list.Get(i);
      if (!entry.IsObject() || !entry.As<Napi::Object>().Get("name").IsString()) {
        throw Napi::TypeError::New(env, "setOptimizerState: tensors[" + std::to_string(i) + "] needs a name");
      }
      const std::string name = entry.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value();
      tensors.emplace_back(name, tensorFromJs(env, entry, name));
    }
    const int64_t steps = object.Get("steps").As<Napi::Number>().Int64Value();
    guarded(env, [&] {
#ifdef NETLENS_WITH_CUDA
      if (onGpu()) return gpu_->setOptimizerState(tensors, steps);
#endif
      executor_->setOptimizerState(tensors, steps);
    });
    return env.Undefined();
  }

  /** trainSteps(batches) → {losses, learningRates, corrects}: one optimizer step per batch, in order; corrects[i] is -1 without a cross_entropy loss. */
  Napi::Value trainSteps(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "trainSteps(batches: inputs[])");
    const Napi::Array batches = info[0].As<Napi::Array>();
    Napi::Array losses = Napi::Array::New(env, batches.Length());
    Napi::Array rates = Napi::Array::New(env, batches.Length());
    Napi::Array corrects = Napi::Array::New(env, batches.Length());
    for (uint32_t i = 0; i < batches.Length(); ++i) {
      const TensorMap inputs = tensorsFromJs(env, batches.Get(i), "batches[" + std::to_string(i) + "]");
      guarded(env, [&] {
        rates.Set(i, learningRate());
        losses.Set(i, trainStep(inputs));
        corrects.Set(i, static_cast<double>(lastStepCorrect()));
      });
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("losses", losses);
    result.Set("learningRates", rates);
    result.Set("corrects", corrects);
    return result;
  }

  /**
   * trainFromLoader(loader, steps) → {losses, learningRates, corrects, stepMs, batchSizes, epochDone}:
   * up to `steps` optimizer steps on the loader's next batches, which never pass through JS. On the
   * GPU batch k+1 is taken from the loader (whose thread decoded and augmented it meanwhile) and
   * copied into the second pinned staging slot while step k runs; stepMs is then the time between
   * step ends (what the pipeline sustains). On the CPU it is each step's own time.
   */
  Napi::Value trainFromLoader(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "trainFromLoader(loader: BatchLoader, steps: number)");
    data::BatchLoader& loader = batchLoaderOf(env, info[0], "trainFromLoader: loader");
    const int64_t steps = info[1].As<Napi::Number>().Int64Value();
    const GraphSpec& graph = spec();
    if (!graph.loss) throw Napi::Error::New(env, "trainFromLoader: the graph spec has no loss");
    std::string inputName;
    for (const InputSpec& input : graph.inputs) {
      if (input.name != graph.loss->target) inputName = input.name;
    }
    const std::string targetName = graph.loss->target;
    std::vector<double> losses, rates, corrects, stepMs, batchSizes;
    bool epochDone = false;
    guarded(env, [&] {
#ifdef NETLENS_WITH_CUDA
      if (onGpu()) {
        data::Batch batch;
        if (steps <= 0) return;
        if (!loader.next(batch)) {
          epochDone = true;
          return;
        }
        // A failure with a step in flight still waits for it, so the session stays usable.
        struct FinishOnError {
          cuda::CudaExecutor& gpu;
          ~FinishOnError() {
            if (!gpu.stepInFlight()) return;
            try {
              gpu.finishStep();
            } catch (const std::exception&) {
              // The original error is the one worth reporting.
            }
          }
        } finishOnError{*gpu_};
        auto started = std::chrono::steady_clock::now();
        double rate = gpu_->learningRate();
        double rows = static_cast<double>(batch.shape.empty() ? 0 : batch.shape[0]);
        gpu_->launchStep(batchInputs(batch, inputName, targetName));
        for (int64_t i = 0; i < steps; ++i) {
          // While step i runs: take batch i+1 from the loader and copy it into the free staging slot.
          data::Batch following;
          const bool more = i + 1 < steps && loader.next(following);
          if (i + 1 < steps && !more) epochDone = true;
          if (more) gpu_->stageInputs(batchInputs(following, inputName, targetName));
          losses.push_back(gpu_->finishStep());
          stepMs.push_back(millisecondsSince(started));
          started = std::chrono::steady_clock::now();
          rates.push_back(rate);
          corrects.push_back(static_cast<double>(gpu_->lastStepCorrect()));
          batchSizes.push_back(rows);
          if (!more) break;
          rate = gpu_->learningRate();
          rows = static_cast<double>(following.shape.empty() ? 0 : following.shape[0]);
          gpu_->launchStep();
        }
        return;
      }
#endif
      for (int64_t i = 0; i < steps; ++i) {
        data::Batch batch;
        if (!loader.next(batch)) {
          epochDone = true;
          break;
        }
        const double rows = static_cast<double>(batch.shape.empty() ? 0 : batch.shape[0]);
        const TensorMap inputs = batchInputs(batch, inputName, targetName);
        rates.push_back(learningRate());
        const auto started = std::chrono::steady_clock::now();
        losses.push_back(trainStep(inputs));
        stepMs.push_back(millisecondsSince(started));
        corrects.push_back(static_cast<double>(lastStepCorrect()));
        batchSizes.push_back(rows);
      }
    });
    const auto numbers = [&](const std::vector<double>& list) {
      Napi::Array array = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); ++i) array.Set(static_cast<uint32_t>(i), list[i]);
      return array;
    };
    Napi::Object result = Napi::Object::New(env);
    result.Set("losses", numbers(losses));
    result.Set("learningRates", numbers(rates));
    result.Set("corrects", numbers(corrects));
    result.Set("stepMs", numbers(stepMs));
    result.Set("batchSizes", numbers(batchSizes));
    result.Set("epochDone", epochDone);
    return result;
  }

  /**
   * sessionInfo() → {device, precision, cudaGraph, autotune, channelsLast, memoryPlanBytes, memoryPlan, algorithms}: what the session runs on
   * (on the GPU the plan, and the cuDNN algorithms with where each came from, fused epilogues and notices).
   */
  Napi::Value sessionInfo(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("device", options_.device);
    result.Set("precision", options_.precision);
    result.Set("cudaGraph", onGpu() && options_.cudaGraph);
    result.Set("autotune", onGpu() && options_.autotune);
    result.Set("channelsLast", onGpu() && options_.channelsLast);
    double planBytes = 0;
    std::string plan;
    std::string algorithms;
#ifdef NETLENS_WITH_CUDA
    if (onGpu()) {
      planBytes = static_cast<double>(gpu_->plan().total);
      plan = gpu_->plan().describe();
      algorithms = gpu_->describeAlgorithms();
    }
#endif
    result.Set("memoryPlanBytes", planBytes);
    result.Set("memoryPlan", plan);
    result.Set("algorithms", algorithms);
    return result;
  }

  SessionOptions options_;
  bool training_ = true;
  std::unique_ptr<Executor> executor_;
#ifdef NETLENS_WITH_CUDA
  std::unique_ptr<cuda::CudaExecutor> gpu_;
  std::string modelInput_;
#endif
};

}  // namespace

Napi::Value engineOps(const Napi::CallbackInfo& info) {
  const std::vector<std::string>& names = supportedOps();
  Napi::Array result = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) result.Set(static_cast<uint32_t>(i), names[i]);
  return result;
}

void registerEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineObject::define(env));
  exports.Set("engineOps", Napi::Function::New(env, engineOps, "engineOps"));
}

}  // namespace netlens::binding
