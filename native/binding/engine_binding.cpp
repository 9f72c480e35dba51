// N-API face of the CPU engine: `new Engine(specJson, seed)` over netlens::Executor. Tensors cross
// as {shape: number[], data: Float32Array}; everything returned is copied into JS-owned buffers
// (Electron's memory cage rejects external ArrayBuffers). Conversions only; the logic is the core's.
#include "engine_binding.h"

#include <memory>
#include <string>

#include "netlens/executor.h"
#include "netlens/graph_spec.h"

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
                           InstanceMethod("values", &EngineObject::values),
                           InstanceMethod("valueShapes", &EngineObject::valueShapes),
                           InstanceMethod("backward", &EngineObject::backward),
                           InstanceMethod("optimizerState", &EngineObject::optimizerState),
                           InstanceMethod("setOptimizerState", &EngineObject::setOptimizerState),
                       });
  }

  explicit EngineObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineObject>(info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "new Engine(specJson, seed?) needs the graph spec as a JSON string");
    const uint64_t seed = info.Length() > 1 && info[1].IsNumber() ? static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()) : 0;
    guarded(env, [&] { executor_ = std::make_unique<Executor>(parseGraphSpec(info[0].As<Napi::String>().Utf8Value()), seed); });
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

  std::string stringArgument(const Napi::CallbackInfo& info, const char* what) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
    return info[0].As<Napi::String>().Utf8Value();
  }

  Napi::Value stateNames(const Napi::CallbackInfo& info) {
    const std::vector<std::string>& names = executor_->stateNames();
    Napi::Array result = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) result.Set(static_cast<uint32_t>(i), names[i]);
    return result;
  }

  Napi::Value isTrainable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), executor_->isTrainable(stringArgument(info, "name")));
  }

  Napi::Value getState(const Napi::CallbackInfo& info) {
    Napi::Value result;
    guarded(info.Env(), [&] { result = tensorToJs(info.Env(), executor_->state(stringArgument(info, "name"))); });
    return result;
  }

  Napi::Value setState(const Napi::CallbackInfo& info) {
    const std::string name = stringArgument(info, "name");
    if (info.Length() < 2) throw Napi::TypeError::New(info.Env(), "setState(name, {shape, data})");
    const Tensor value = tensorFromJs(info.Env(), info[1], name);
    guarded(info.Env(), [&] { executor_->setState(name, value); });
    return info.Env().Undefined();
  }

  Napi::Value setTraining(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setTraining(boolean)");
    executor_->setTraining(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  }

  /** forward(inputs) → {outputId: {shape, data}} for the spec's outputs. */
  Napi::Value forward(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const TensorMap inputs = tensorsFromJs(env, info.Length() > 0 ? info[0] : env.Undefined(), "inputs");
    Napi::Object result = Napi::Object::New(env);
    guarded(env, [&] {
      executor_->forward(inputs);
      for (const std::string& output : executor_->spec().outputs) result.Set(output, tensorToJs(env, executor_->value(output)));
    });
    return result;
  }

  /** values(ids) → {id: {shape, data}}: node values (or graph inputs) of the last forward. */
  Napi::Value values(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
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
      const std::vector<std::pair<std::string, Tensor>> tensors = executor_->optimizer().exportState();
      Napi::Array list = Napi::Array::New(env, tensors.size());
      for (size_t i = 0; i < tensors.size(); ++i) {
        Napi::Object entry = tensorToJs(env, tensors[i].second);
        entry.Set("name", tensors[i].first);
        list.Set(static_cast<uint32_t>(i), entry);
      }
      result.Set("steps", static_cast<double>(executor_->optimizer().stepsTaken()));
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
    guarded(env, [&] { executor_->setOptimizerState(tensors, steps); });
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
        rates.Set(i, executor_->optimizer().learningRate());
        losses.Set(i, executor_->trainStep(inputs));
        corrects.Set(i, static_cast<double>(executor_->lastStepCorrect()));
      });
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("losses", losses);
    result.Set("learningRates", rates);
    result.Set("corrects", corrects);
    return result;
  }

  std::unique_ptr<Executor> executor_;
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
