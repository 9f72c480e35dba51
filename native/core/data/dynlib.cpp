#include "dynlib.h"

#include <dlfcn.h>

#include <cstdlib>

namespace netlens::data {

SharedLibrary::SharedLibrary(const std::vector<std::string>& candidates, const char* overrideVariable) {
  std::vector<std::string> tried = candidates;
  const char* overridden = overrideVariable ? std::getenv(overrideVariable) : nullptr;
  if (overridden && *overridden) tried = {overridden};
  std::string failures;
  for (const std::string& candidate : tried) {
    // RTLD_LOCAL keeps the codec's symbols out of the global namespace (Node or another add-on may
    // carry its own copy); RTLD_NOW surfaces a broken install here rather than mid-decode.
    handle_ = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_) {
      name_ = candidate;
      return;
    }
    const char* reason = dlerror();
    failures += (failures.empty() ? "" : "; ") + std::string(reason ? reason : candidate + ": cannot be opened");
  }
  for (const std::string& candidate : tried) name_ += (name_.empty() ? "" : ", ") + candidate;
  problem_ = failures.empty() ? "no library to try" : failures;
  if (overridden && *overridden) problem_ = std::string(overrideVariable) + " is set: " + problem_;
}

void SharedLibrary::reject(const std::string& reason) {
  if (problem_.empty()) problem_ = reason;
}

void* SharedLibrary::symbol(const char* name) {
  if (!handle_) return nullptr;
  dlerror();
  void* address = dlsym(handle_, name);
  if (!address) {
    const char* reason = dlerror();
    reject(name_ + " has no " + name + (reason ? std::string(" (") + reason + ")" : std::string()));
  }
  return address;
}

}  // namespace netlens::data
