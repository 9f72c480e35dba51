// Optional shared libraries opened with dlopen at first use, so the add-on itself never links them:
// one netlens.node loads on machines that lack a codec, and only the format that needs it fails.
#pragma once

#include <string>
#include <vector>

namespace netlens::data {

/** One dlopen'ed library; a failed open or a missing symbol leaves it unusable with the reason kept. */
class SharedLibrary {
 public:
  /**
   * Opens the first of `candidates` that loads (sonames go through the dynamic loader's search, paths
   * are opened as given). `overrideVariable` names an environment variable that, when set, replaces
   * the candidates: it points at another copy of the library, or at nothing to simulate its absence.
   */
  SharedLibrary(const std::vector<std::string>& candidates, const char* overrideVariable);
  // Never dlclose'd: codecs live in function-local statics, and unloading one during static
  // destruction could pull code from under a thread that is still decoding at exit.
  ~SharedLibrary() = default;
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  /** Resolves `name` into `slot`; on failure marks the library unusable and returns false. */
  template <typename Function>
  bool bind(Function*& slot, const char* name) {
    slot = reinterpret_cast<Function*>(symbol(name));
    return slot != nullptr;
  }

  /** Marks a loaded library unusable (e.g. wrong version), keeping the first reason. */
  void reject(const std::string& reason);

  bool usable() const { return handle_ != nullptr && problem_.empty(); }
  /** What was opened (the soname or path), or what was tried when nothing loaded. */
  const std::string& name() const { return name_; }
  /** Why it is not usable; empty when it is. */
  const std::string& problem() const { return problem_; }

 private:
  void* symbol(const char* name);

  void* handle_ = nullptr;
  std::string name_;
  std::string problem_;
};

}  // namespace netlens::data
