// Registers the data sets (class Dataset, its batch loaders, dataFormats()) on the add-on's exports.
#pragma once

#include <napi.h>

namespace netlens::binding {

void registerData(Napi::Env env, Napi::Object exports);

}  // namespace netlens::binding
