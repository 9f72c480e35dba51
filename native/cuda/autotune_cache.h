// The cuDNN autotuning cache: which convolution algorithm was fastest for one convolution shape on
// one GPU with one cuDNN version, kept in memory for the process and on disk as a small JSON file.
// GPU-free on purpose (plain C++ over the core's JSON reader): the key, the file format, merging and
// the checks on a file read back are tested on machines without a GPU (autotune_cache_test); the
// CUDA executor does the timing and only asks and tells this cache.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace netlens::cuda {

enum class ConvolutionDirection { Forward, BackwardData, BackwardFilter };

const char* directionName(ConvolutionDirection direction);

/**
 * Everything that makes cuDNN pick another algorithm for a 2-D convolution: the input (N, C, H, W),
 * the filter (K output channels, R×S window), padding, strides, dilations, groups, the data type of
 * x/w/y ("float", "bfloat16"), the math allowed ("fma": strict fp32; "tensor_op": TF32 or bf16 tensor
 * cores) and the direction.
 */
struct ConvolutionKey {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t k = 0, r = 0, s = 0;
  int padH = 0, padW = 0, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1, groups = 1;
  std::string dataType = "float";
  std::string math = "fma";
  ConvolutionDirection direction = ConvolutionDirection::Forward;

  /** One canonical line, e.g. "fwd x=64x3x32x32 w=64x3x3 pad=1,1 stride=1,1 dilation=1,1 groups=1 float fma". */
  std::string text() const;
};

/** The GPU and library a timing holds for: another GPU or cuDNN version times afresh. */
struct DeviceIdentity {
  std::string gpuName;
  int computeMajor = 0;
  int computeMinor = 0;
  std::string cudnnVersion;

  /** "NVIDIA H100 80GB HBM3 | sm 9.0 | cuDNN 9.19.0" */
  std::string text() const;
};

/** What the timing found: cuDNN's algorithm and math type enums (as ints), its workspace and time. */
struct TunedAlgorithm {
  int algorithm = 0;
  int mathType = 0;
  uint64_t workspaceBytes = 0;
  double milliseconds = 0.0;
};

/**
 * Entries by device, then by convolution key. Thread-safe: sessions in one process share one cache
 * per file (processCache).
 */
class AutotuneCache {
 public:
  /** The file format's name and version; a file with another is ignored (with a notice). */
  static constexpr const char* kFormat = "netlens-cudnn-autotune";
  static constexpr int kVersion = 1;

  bool lookup(const DeviceIdentity& device, const ConvolutionKey& key, TunedAlgorithm* found) const;
  void store(const DeviceIdentity& device, const ConvolutionKey& key, const TunedAlgorithm& tuned);
  /** Entries for every device. */
  size_t size() const;

  /** The cache as the JSON document the file holds (devices and keys in sorted order). */
  std::string serialize() const;
  /**
   * Adds the entries of a document (written by serialize) to this cache; entries already here win.
   * Returns notices for what was ignored: the whole document when it is not JSON or of another format
   * or version, single entries with missing or wrong fields. Never throws.
   */
  std::vector<std::string> merge(const std::string& document, const std::string& origin);
  /** merge() of a file's text; a missing file is no notice (nothing tuned yet). */
  std::vector<std::string> load(const std::string& path);
  /**
   * Writes the cache to `path` merged with what the file holds now (another process may have added
   * entries since this one read it): into a temporary file beside it, then renamed over it, so a reader
   * never sees half a file. Creates the folder. Returns false with `error` set when it cannot write.
   */
  bool save(const std::string& path, std::string* error);

 private:
  mutable std::mutex mutex_;
  // device text → (key text → entry); the device's fields are kept to write them back.
  std::map<std::string, DeviceIdentity> devices_;
  std::map<std::string, std::map<std::string, TunedAlgorithm>> entries_;
};

/**
 * Where the cache file lives: `configured` when not empty, else $NETLENS_CUDNN_AUTOTUNE_CACHE, else
 * $XDG_CACHE_HOME/netlens/cudnn-autotune.json, else $HOME/.cache/netlens/cudnn-autotune.json. The
 * value "none" (option or variable) keeps the cache in memory only: the result is then empty.
 */
std::string autotuneCachePath(const std::string& configured);

/**
 * The process's cache for one file (loaded from it on first use; `notices` gets what loading
 * ignored, once). An empty path is a cache in memory only.
 */
AutotuneCache& processAutotuneCache(const std::string& path, std::vector<std::string>* notices);

}  // namespace netlens::cuda
