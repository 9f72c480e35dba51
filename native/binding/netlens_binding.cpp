// N-API face of the engine: converts the core's C++ results to plain JS objects. No logic here.
#include <napi.h>

#include "data_binding.h"
#include "engine_binding.h"
#include "netlens/engine_info.h"

namespace {

Napi::Value EngineInfo(const Napi::CallbackInfo& callInfo) {
  const Napi::Env env = callInfo.Env();
  const netlens::EngineInfo info = netlens::engineInfo();
  Napi::Object result = Napi::Object::New(env);
  result.Set("version", info.version);
  result.Set("cudaCompiled", info.cudaCompiled);
  result.Set("gpuPresent", info.gpuPresent);
  result.Set("deviceCount", info.deviceCount);
  result.Set("deviceName", info.deviceName);
  result.Set("computeCapability", info.computeCapability);
  // Bytes fit a double exactly up to 8 PiB.
  result.Set("totalMemoryBytes", static_cast<double>(info.totalMemoryBytes));
  result.Set("freeMemoryBytes", static_cast<double>(info.freeMemoryBytes));
  result.Set("driverVersion", info.driverVersion);
  result.Set("runtimeVersion", info.runtimeVersion);
  result.Set("gpuError", info.gpuError);
  result.Set("cudnnCompiled", info.cudnnCompiled);
  result.Set("cudnnAvailable", info.cudnnAvailable);
  result.Set("cudnnVersion", info.cudnnVersion);
  result.Set("cudnnStatus", info.cudnnStatus);
  result.Set("cudaExecutorAvailable", info.cudaExecutorAvailable);
  result.Set("cudaExecutorStatus", info.cudaExecutorStatus);
  result.Set("cpuThreads", info.cpuThreads);
  result.Set("cpuModel", info.cpuModel);
  result.Set("cpuFeatures", info.cpuFeatures);
  result.Set("cpuBlas", info.cpuBlas);
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("engineInfo", Napi::Function::New(env, EngineInfo, "engineInfo"));
  netlens::binding::registerEngine(env, exports);
  netlens::binding::registerData(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(netlens, Init)
