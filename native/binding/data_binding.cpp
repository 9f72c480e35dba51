// N-API face of the data sets: `new Dataset({kind, paths, options})` over netlens::data. Batches come
// back as JS-owned Float32Array images and Int32Array labels (Electron's memory cage rejects external
// ArrayBuffers). Conversions only; reading, augmenting and the background thread are the core's.
#include "data_binding.h"

#include <memory>
#include <string>
#include <vector>

#include "netlens/data.h"
#include "netlens/data_loader.h"

namespace netlens::binding {
namespace {

using data::DataError;

template <typename Body>
void guarded(const Napi::Env& env, Body body) {
  try {
    body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, error.what());
  }
}

bool has(const Napi::Object& object, const char* key) { return object.Has(key) && !object.Get(key).IsUndefined(); }

std::string stringField(const Napi::Object& object, const char* key, const std::string& fallback, const std::string& where) {
  if (!has(object, key)) return fallback;
  const Napi::Value value = object.Get(key);
  if (!value.IsString()) throw Napi::TypeError::New(object.Env(), where + "." + key + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

/** Seeds are non-negative integers that JS numbers hold exactly (below 2^53). */
uint64_t seedField(const Napi::Object& object, const char* key, uint64_t fallback, const std::string& where) {
  if (!has(object, key)) return fallback;
  const Napi::Value value = object.Get(key);
  const double seed = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1.0;
  if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != static_cast<double>(static_cast<uint64_t>(seed))) {
    throw Napi::RangeError::New(object.Env(), where + "." + key + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(seed);
}

double numberField(const Napi::Object& object, const char* key, double fallback, const std::string& where) {
  if (!has(object, key)) return fallback;
  const Napi::Value value = object.Get(key);
  if (!value.IsNumber()) throw Napi::TypeError::New(object.Env(), where + "." + key + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

bool boolField(const Napi::Object& object, const char* key, bool fallback, const std::string& where) {
  if (!has(object, key)) return fallback;
  const Napi::Value value = object.Get(key);
  if (!value.IsBoolean()) throw Napi::TypeError::New(object.Env(), where + "." + key + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::vector<double> numbersField(const Napi::Object& object, const char* key, const std::string& where) {
  std::vector<double> numbers;
  if (!has(object, key)) return numbers;
  const Napi::Value value = object.Get(key);
  if (value.IsTypedArray()) {
    const Napi::TypedArray typed = value.As<Napi::TypedArray>();
    for (size_t i = 0; i < typed.ElementLength(); ++i) numbers.push_back(typed.Get(static_cast<uint32_t>(i)).ToNumber().DoubleValue());
    return numbers;
  }
  if (!value.IsArray()) throw Napi::TypeError::New(object.Env(), where + "." + key + " must be an array of numbers");
  const Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value item = array.Get(i);
    if (!item.IsNumber()) throw Napi::TypeError::New(object.Env(), where + "." + key + "[" + std::to_string(i) + "] must be a number");
    numbers.push_back(item.As<Napi::Number>().DoubleValue());
  }
  return numbers;
}

std::vector<std::string> stringsField(const Napi::Object& object, const char* key, const std::string& where) {
  std::vector<std::string> strings;
  if (!has(object, key)) return strings;
  const Napi::Value value = object.Get(key);
  if (!value.IsArray()) throw Napi::TypeError::New(object.Env(), where + "." + key + " must be an array of strings");
  const Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(object.Env(), where + "." + key + "[" + std::to_string(i) + "] must be a string");
    strings.push_back(item.As<Napi::String>().Utf8Value());
  }
  return strings;
}

Napi::Array stringsToJs(const Napi::Env& env, const std::vector<std::string>& strings) {
  Napi::Array array = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); ++i) array.Set(static_cast<uint32_t>(i), strings[i]);
  return array;
}

template <typename Number>
Napi::Array numbersToJs(const Napi::Env& env, const std::vector<Number>& numbers) {
  Napi::Array array = Napi::Array::New(env, numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) array.Set(static_cast<uint32_t>(i), static_cast<double>(numbers[i]));
  return array;
}

Napi::Int32Array indicesToJs(const Napi::Env& env, const std::vector<int64_t>& indices) {
  Napi::Int32Array array = Napi::Int32Array::New(env, indices.size());
  for (size_t i = 0; i < indices.size(); ++i) array[i] = static_cast<int32_t>(indices[i]);
  return array;
}

/** {kind, paths, options} → DatasetSpec; options: variant, split, seed, size [h, w], channels, layout, imagesKey, labelsKey, classNames. */
data::DatasetSpec specFromJs(const Napi::Env& env, const Napi::Value& value) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, "new Dataset(spec) needs {kind, paths?, options?}");
  const Napi::Object object = value.As<Napi::Object>();
  data::DatasetSpec spec;
  spec.kind = stringField(object, "kind", "default", "spec");
  spec.paths = stringsField(object, "paths", "spec");
  if (!has(object, "options")) return spec;
  if (!object.Get("options").IsObject()) throw Napi::TypeError::New(env, "spec.options must be an object");
  const Napi::Object options = object.Get("options").As<Napi::Object>();
  spec.variant = stringField(options, "variant", "", "options");
  spec.split = stringField(options, "split", "train", "options");
  spec.seed = seedField(options, "seed", spec.seed, "options");
  spec.folder.channels = static_cast<int>(numberField(options, "channels", 3, "options"));
  const std::vector<double> size = numbersField(options, "size", "options");
  if (!size.empty()) {
    if (size.size() != 2) throw Napi::TypeError::New(env, "options.size must be [height, width]");
    spec.folder.height = static_cast<int64_t>(size[0]);
    spec.folder.width = static_cast<int64_t>(size[1]);
  }
  const std::string layout = stringField(options, "layout", "auto", "options");
  if (layout == "nchw") spec.layout = data::ArrayLayout::Nchw;
  else if (layout == "nhwc") spec.layout = data::ArrayLayout::Nhwc;
  else if (layout != "auto") throw Napi::TypeError::New(env, "options.layout must be 'auto', 'nchw' or 'nhwc'");
  spec.imagesKey = stringField(options, "imagesKey", spec.imagesKey, "options");
  spec.labelsKey = stringField(options, "labelsKey", spec.labelsKey, "options");
  spec.classNames = stringsField(options, "classNames", "options");
  return spec;
}

/** What Dataset.loader() hands the (unexported) BatchLoader constructor. */
struct LoaderRequest {
  std::shared_ptr<const data::Dataset> dataset;
  std::vector<int64_t> indices;
  data::LoaderOptions options;
};

class LoaderObject : public Napi::ObjectWrap<LoaderObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "BatchLoader",
                       {
                           InstanceMethod("next", &LoaderObject::next),
                           InstanceMethod("startEpoch", &LoaderObject::startEpoch),
                           InstanceMethod("close", &LoaderObject::close),
                           InstanceAccessor("batchesPerEpoch", &LoaderObject::batchesPerEpoch, nullptr),
                           InstanceAccessor("sampleCount", &LoaderObject::sampleCount, nullptr),
                           InstanceAccessor("epoch", &LoaderObject::epoch, nullptr),
                       });
  }

  explicit LoaderObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoaderObject>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "use dataset.loader(options) to make a BatchLoader");
    LoaderRequest* request = info[0].As<Napi::External<LoaderRequest>>().Data();
    guarded(info.Env(), [&] {
      loader_ = std::make_unique<data::BatchLoader>(request->dataset, std::move(request->indices), std::move(request->options));
    });
  }

  data::BatchLoader& loader(const Napi::Env& env) {
    if (!loader_) throw Napi::Error::New(env, "this batch loader was closed");
    return *loader_;
  }

 private:

  /** next() → {shape, images: Float32Array, labels: Int32Array, index} or null when the epoch is over. */
  Napi::Value next(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    data::Batch batch;
    bool produced = false;
    guarded(env, [&] { produced = loader(env).next(batch); });
    if (!produced) return env.Null();
    Napi::Object result = Napi::Object::New(env);
    result.Set("shape", numbersToJs(env, batch.shape));
    Napi::Float32Array images = Napi::Float32Array::New(env, batch.images.size());
    std::copy(batch.images.begin(), batch.images.end(), images.Data());
    result.Set("images", images);
    result.Set("labels", indicesToJs(env, batch.labels));
    result.Set("index", static_cast<double>(batch.index));
    return result;
  }

  Napi::Value startEpoch(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int64Value() < 0) {
      throw Napi::TypeError::New(env, "startEpoch(epoch: non-negative integer)");
    }
    guarded(env, [&] { loader(env).startEpoch(info[0].As<Napi::Number>().Int64Value()); });
    return env.Undefined();
  }

  /** Stops the background thread now rather than at garbage collection. */
  Napi::Value close(const Napi::CallbackInfo& info) {
    loader_.reset();
    return info.Env().Undefined();
  }

  Napi::Value batchesPerEpoch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loader(info.Env()).batchesPerEpoch()));
  }
  Napi::Value sampleCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loader(info.Env()).sampleCount()));
  }
  Napi::Value epoch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loader(info.Env()).currentEpoch()));
  }

  std::unique_ptr<data::BatchLoader> loader_;
};

class DatasetObject : public Napi::ObjectWrap<DatasetObject> {
 public:
  static Napi::Function define(Napi::Env env, Napi::FunctionReference* loaderClass) {
    return DefineClass(env, "Dataset",
                       {
                           InstanceMethod("info", &DatasetObject::info),
                           InstanceMethod("classCounts", &DatasetObject::classCounts),
                           InstanceMethod("sample", &DatasetObject::sample),
                           InstanceMethod("validationSplit", &DatasetObject::validationSplit),
                           InstanceMethod("loader", &DatasetObject::makeLoader, napi_default, loaderClass),
                       });
  }

  explicit DatasetObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetObject>(info) {
    const data::DatasetSpec spec = specFromJs(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined());
    guarded(info.Env(), [&] { dataset_ = data::openDataset(spec); });
  }

 private:
  /** info() → {name, count, shape: [C, H, W], classes, classNames, coarseClassNames, mean, std}. */
  Napi::Value info(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("name", dataset_->name);
    result.Set("count", static_cast<double>(dataset_->count()));
    result.Set("shape", numbersToJs(env, dataset_->sampleShape()));
    result.Set("classes", static_cast<double>(dataset_->classNames.size()));
    result.Set("classNames", stringsToJs(env, dataset_->classNames));
    result.Set("coarseClassNames", stringsToJs(env, dataset_->coarseClassNames));
    result.Set("mean", numbersToJs(env, dataset_->mean));
    result.Set("std", numbersToJs(env, dataset_->std));
    return result;
  }

  Napi::Value classCounts(const Napi::CallbackInfo& info) { return numbersToJs(info.Env(), dataset_->classCounts()); }

  /** sample(index) → {shape: [C, H, W], image: Float32Array in [0, 1] (not normalized), label}. */
  Napi::Value sample(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "sample(index: integer)");
    const int64_t index = info[0].As<Napi::Number>().Int64Value();
    Napi::Float32Array image = Napi::Float32Array::New(env, static_cast<size_t>(dataset_->sampleSize()));
    int64_t label = 0;
    guarded(env, [&] { label = dataset_->readSample(index, image.Data()); });
    Napi::Object result = Napi::Object::New(env);
    result.Set("shape", numbersToJs(env, dataset_->sampleShape()));
    result.Set("image", image);
    result.Set("label", static_cast<double>(label));
    return result;
  }

  /** validationSplit({fraction, seed?, stratified?}) → {train: Int32Array, validation: Int32Array} of sample indices. */
  Napi::Value validationSplit(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "validationSplit({fraction, seed?, stratified?})");
    const Napi::Object options = info[0].As<Napi::Object>();
    const double fraction = numberField(options, "fraction", -1, "validationSplit options");
    const uint64_t seed = seedField(options, "seed", 0, "validationSplit options");
    const bool stratified = boolField(options, "stratified", true, "validationSplit options");
    data::SplitIndices split;
    guarded(env, [&] { split = data::splitValidation(*dataset_, fraction, seed, stratified); });
    Napi::Object result = Napi::Object::New(env);
    result.Set("train", indicesToJs(env, split.train));
    result.Set("validation", indicesToJs(env, split.validation));
    return result;
  }

  /**
   * loader({batchSize, shuffle?, dropLast?, seed?, indices?, cropPadding?, horizontalFlip?,
   * normalize?: boolean | {mean, std}}) → BatchLoader. normalize: true uses the data set's own statistics.
   */
  Napi::Value makeLoader(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Napi::Object options = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    LoaderRequest request;
    request.dataset = dataset_;
    request.options.batchSize = static_cast<int64_t>(numberField(options, "batchSize", 64, "loader options"));
    request.options.shuffle = boolField(options, "shuffle", true, "loader options");
    request.options.dropLast = boolField(options, "dropLast", false, "loader options");
    request.options.seed = seedField(options, "seed", 0, "loader options");
    request.options.augmentation.cropPadding = static_cast<int64_t>(numberField(options, "cropPadding", 0, "loader options"));
    request.options.augmentation.horizontalFlip = boolField(options, "horizontalFlip", false, "loader options");
    if (has(options, "normalize")) {
      const Napi::Value normalize = options.Get("normalize");
      if (normalize.IsBoolean()) {
        if (normalize.As<Napi::Boolean>().Value()) {
          request.options.augmentation.mean = dataset_->mean;
          request.options.augmentation.std = dataset_->std;
        }
      } else if (normalize.IsObject()) {
        for (const double value : numbersField(normalize.As<Napi::Object>(), "mean", "normalize")) request.options.augmentation.mean.push_back(static_cast<float>(value));
        for (const double value : numbersField(normalize.As<Napi::Object>(), "std", "normalize")) request.options.augmentation.std.push_back(static_cast<float>(value));
      } else {
        throw Napi::TypeError::New(env, "loader options.normalize must be a boolean or {mean, std}");
      }
    }
    if (has(options, "indices")) {
      for (const double index : numbersField(options, "indices", "loader options")) request.indices.push_back(static_cast<int64_t>(index));
    } else {
      for (int64_t i = 0; i < dataset_->count(); ++i) request.indices.push_back(i);
    }
    Napi::FunctionReference* loaderClass = static_cast<Napi::FunctionReference*>(info.Data());
    return loaderClass->New({Napi::External<LoaderRequest>::New(env, &request)});
  }

  std::shared_ptr<const data::Dataset> dataset_;
};

Napi::Value dataFormats(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  // `images`: formats that decode now; `imageFormats`: each one's build and run-time status, for diagnostics.
  std::vector<std::string> usable;
  Napi::Array statuses = Napi::Array::New(env);
  for (const data::ImageFormatStatus& status : data::imageFormatStatus()) {
    if (status.available) usable.push_back(status.format);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("format", status.format);
    entry.Set("compiledIn", status.compiledIn);
    entry.Set("available", status.available);
    entry.Set("library", status.library);
    if (!status.available) entry.Set("problem", status.problem);
    statuses.Set(statuses.Length(), entry);
  }
  result.Set("images", stringsToJs(env, usable));
  result.Set("imageFormats", statuses);
  result.Set("gzip", data::zlibCompiledIn());
  return result;
}

/** readImageForModel(path, {channels, height, width}) → {shape: [C, H, W], pixels: Uint8Array} (planar, resized and centre-cropped). */
Napi::Value readImageForModel(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "readImageForModel(path, {channels, height, width})");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const Napi::Object options = info[1].As<Napi::Object>();
  const int channels = static_cast<int>(numberField(options, "channels", 3, "options"));
  const int64_t height = static_cast<int64_t>(numberField(options, "height", 0, "options"));
  const int64_t width = static_cast<int64_t>(numberField(options, "width", 0, "options"));
  std::vector<uint8_t> pixels;
  guarded(env, [&] { pixels = data::readImageForModel(path, channels, height, width); });
  Napi::Uint8Array array = Napi::Uint8Array::New(env, pixels.size());
  std::copy(pixels.begin(), pixels.end(), array.Data());
  Napi::Object result = Napi::Object::New(env);
  result.Set("shape", numbersToJs(env, std::vector<int64_t>{channels, height, width}));
  result.Set("pixels", array);
  return result;
}

}  // namespace

data::BatchLoader& batchLoaderOf(const Napi::Env& env, const Napi::Value& value, const std::string& what) {
  const Napi::FunctionReference* loaderClass = env.GetInstanceData<Napi::FunctionReference>();
  // InstanceOf first: unwrapping an object of another class would read the wrong C++ type.
  if (loaderClass == nullptr || !value.IsObject() || !value.As<Napi::Object>().InstanceOf(loaderClass->Value())) {
    throw Napi::TypeError::New(env, what + " must be a BatchLoader from dataset.loader()");
  }
  return LoaderObject::Unwrap(value.As<Napi::Object>())->loader(env);
}

void registerData(Napi::Env env, Napi::Object exports) {
  // The loader class is reachable only through Dataset.loader() (and batchLoaderOf); the env owns
  // its reference as instance data and frees it at teardown.
  auto* loaderClass = new Napi::FunctionReference(Napi::Persistent(LoaderObject::define(env)));
  env.SetInstanceData<Napi::FunctionReference>(loaderClass);
  exports.Set("Dataset", DatasetObject::define(env, loaderClass));
  exports.Set("dataFormats", Napi::Function::New(env, dataFormats, "dataFormats"));
  exports.Set("readImageForModel", Napi::Function::New(env, readImageForModel, "readImageForModel"));
}

}  // namespace netlens::binding
