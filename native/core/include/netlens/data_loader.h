// Turns a data set into float batches for training: per-channel normalization, random crop with
// padding and horizontal flip (seeded, per epoch), a fresh shuffle every epoch, and the next batch
// prepared on a background thread while the caller trains on the current one (double buffering).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "netlens/data.h"

namespace netlens::data {

struct Augmentation {
  /** Zero-pad each side by this many pixels, then crop back to the original size at a random offset. */
  int64_t cropPadding = 0;
  /** Mirror left-right with probability 1/2. */
  bool horizontalFlip = false;
  /** (x − mean[c]) / std[c] after augmentation; empty vectors leave pixels in [0, 1]. */
  std::vector<float> mean;
  std::vector<float> std;
};

/**
 * Applies crop/flip/normalization to one C×H×W image in place. `scratch` is reused between calls.
 * The random choices come from `rng` (a 64-bit state advanced by splitmix64), so a seed fixes them.
 */
void augmentImage(float* image, int64_t channels, int64_t height, int64_t width, const Augmentation& augmentation,
                  uint64_t& rngState, std::vector<float>& scratch);

struct LoaderOptions {
  int64_t batchSize = 64;
  bool shuffle = true;
  /** Drop the last batch when it is smaller than batchSize. */
  bool dropLast = false;
  uint64_t seed = 0;
  Augmentation augmentation;
};

struct Batch {
  /** {n, C, H, W}. */
  std::vector<int64_t> shape;
  std::vector<float> images;
  std::vector<int64_t> labels;
  /** Position of the batch within its epoch. */
  int64_t index = 0;
};

/**
 * Iterates a data set (or a subset of its indices) in batches. Each epoch's order and augmentation
 * depend only on (seed, epoch), so a run can be repeated or resumed at an epoch boundary. One
 * background thread per epoch fills the next batch while the caller holds the current one; an
 * exception on that thread (a failing source) is rethrown by next(). Destruction stops and joins it.
 */
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const SampleSource> source, std::vector<int64_t> indices, LoaderOptions options);
  /** All samples of the source. */
  BatchLoader(std::shared_ptr<const SampleSource> source, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /** Starts (or restarts) epoch `epoch`: stops any running epoch and begins preparing its first batch. */
  void startEpoch(int64_t epoch);
  /** The next batch of the current epoch; false when the epoch is over. Starts epoch 0 if none was started. */
  bool next(Batch& batch);
  int64_t batchesPerEpoch() const;
  int64_t sampleCount() const { return static_cast<int64_t>(indices_.size()); }
  int64_t currentEpoch() const { return epoch_; }
  /** Stops the background thread (also done by the destructor). */
  void stop();

 private:
  void produce(std::vector<int64_t> order, int64_t epoch);
  Batch assemble(const std::vector<int64_t>& order, int64_t batchIndex, int64_t epoch, std::vector<float>& scratch) const;

  std::shared_ptr<const SampleSource> source_;
  std::vector<int64_t> indices_;
  LoaderOptions options_;
  std::vector<int64_t> sampleShape_;
  int64_t sampleSize_ = 0;
  int64_t epoch_ = -1;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread worker_;
  bool stopRequested_ = false;
  bool slotFull_ = false;
  bool epochFinished_ = false;
  Batch slot_;
  std::exception_ptr workerError_;
};

/** splitmix64: a tiny, fully specified generator (same numbers everywhere). Advances `state`. */
inline uint64_t splitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
/** Integer in [0, bound); the modulo bias is below 2^-40 for the bounds used here (< 2^24). */
inline uint64_t randomBelow(uint64_t& state, uint64_t bound) { return splitMix64(state) % bound; }

}  // namespace netlens::data
