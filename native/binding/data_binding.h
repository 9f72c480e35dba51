// Registers the data sets (class Dataset, its batch loaders, dataFormats()) on the add-on's exports.
#pragma once

#include <napi.h>

#include <string>

#include "netlens/data_loader.h"

namespace netlens::binding {

void registerData(Napi::Env env, Napi::Object exports);

/** The core loader behind a JS BatchLoader (throws a TypeError naming `what` for anything else, or a closed one). */
data::BatchLoader& batchLoaderOf(const Napi::Env& env, const Napi::Value& value, const std::string& what);

}  // namespace netlens::binding
