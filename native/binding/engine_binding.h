// Registers the CPU engine (class Engine) on the add-on's exports.
#pragma once

#include <napi.h>

namespace netlens::binding {

void registerEngine(Napi::Env env, Napi::Object exports);

}  // namespace netlens::binding
