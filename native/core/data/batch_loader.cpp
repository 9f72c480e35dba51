// Augmentation and the double-buffered batch loader.
#include <algorithm>
#include <numeric>

#include "netlens/data_loader.h"

namespace netlens::data {

void augmentImage(float* image, int64_t channels, int64_t height, int64_t width, const Augmentation& augmentation,
                  uint64_t& rngState, std::vector<float>& scratch) {
  const int64_t plane = height * width;
  const int64_t padding = augmentation.cropPadding;
  int64_t offsetY = 0;
  int64_t offsetX = 0;
  if (padding > 0) {
    offsetY = static_cast<int64_t>(randomBelow(rngState, static_cast<uint64_t>(2 * padding + 1))) - padding;
    offsetX = static_cast<int64_t>(randomBelow(rngState, static_cast<uint64_t>(2 * padding + 1))) - padding;
  }
  const bool flip = augmentation.horizontalFlip && randomBelow(rngState, 2) == 1;
  if (offsetY != 0 || offsetX != 0 || flip) {
    scratch.assign(image, image + channels * plane);
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t y = 0; y < height; ++y) {
        const int64_t sourceY = y + offsetY;
        for (int64_t x = 0; x < width; ++x) {
          // Crop first (from the zero-padded image), then mirror the crop, as RandomCrop → RandomHorizontalFlip.
          const int64_t croppedX = flip ? width - 1 - x : x;
          const int64_t sourceX = croppedX + offsetX;
          const bool inside = sourceY >= 0 && sourceY < height && sourceX >= 0 && sourceX < width;
          image[c * plane + y * width + x] = inside ? scratch[static_cast<size_t>(c * plane + sourceY * width + sourceX)] : 0.0f;
        }
      }
    }
  }
  if (!augmentation.mean.empty()) {
    for (int64_t c = 0; c < channels; ++c) {
      const size_t channel = augmentation.mean.size() == 1 ? 0 : static_cast<size_t>(c);
      const float mean = augmentation.mean[channel];
      const float scale = 1.0f / augmentation.std[channel];
      float* values = image + c * plane;
      for (int64_t i = 0; i < plane; ++i) values[i] = (values[i] - mean) * scale;
    }
  }
}

BatchLoader::BatchLoader(std::shared_ptr<const SampleSource> source, std::vector<int64_t> indices, LoaderOptions options)
    : source_(std::move(source)), indices_(std::move(indices)), options_(std::move(options)) {
  if (!source_) throw DataError("batch loader: no data set");
  if (options_.batchSize < 1) throw DataError("batch size must be at least 1, not " + std::to_string(options_.batchSize));
  sampleShape_ = source_->sampleShape();
  sampleSize_ = sampleShape_.at(0) * sampleShape_.at(1) * sampleShape_.at(2);
  const Augmentation& augmentation = options_.augmentation;
  if (augmentation.mean.size() != augmentation.std.size() ||
      (!augmentation.mean.empty() && augmentation.mean.size() != 1 && static_cast<int64_t>(augmentation.mean.size()) != sampleShape_[0])) {
    throw DataError("normalization needs one mean and one std per channel (" + std::to_string(sampleShape_[0]) + "), or one for all; got " +
                    std::to_string(augmentation.mean.size()) + " means and " + std::to_string(augmentation.std.size()) + " stds");
  }
  for (const float deviation : augmentation.std) {
    if (!(deviation > 0.0f)) throw DataError("normalization std must be positive, got " + std::to_string(deviation));
  }
  if (augmentation.cropPadding < 0) throw DataError("crop padding must not be negative");
  for (const int64_t index : indices_) {
    if (index < 0 || index >= source_->count()) {
      throw DataError("batch loader: sample index " + std::to_string(index) + " is outside the data set (" + std::to_string(source_->count()) + " samples)");
    }
  }
  if (indices_.empty()) throw DataError("batch loader: no samples to iterate (empty data set or split)");
}

namespace {
std::vector<int64_t> allIndices(const SampleSource* source) {
  std::vector<int64_t> indices(static_cast<size_t>(source ? source->count() : 0));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  return indices;
}
}  // namespace

BatchLoader::BatchLoader(std::shared_ptr<const SampleSource> source, LoaderOptions options)
    : BatchLoader(source, allIndices(source.get()), std::move(options)) {}

BatchLoader::~BatchLoader() { stop(); }

int64_t BatchLoader::batchesPerEpoch() const {
  const int64_t count = sampleCount();
  return options_.dropLast ? count / options_.batchSize : (count + options_.batchSize - 1) / options_.batchSize;
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopRequested_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  stopRequested_ = false;
  // A stopped epoch is over: next() returns false until startEpoch() begins another.
  epochFinished_ = true;
  slotFull_ = false;
}

void BatchLoader::startEpoch(int64_t epoch) {
  stop();
  std::vector<int64_t> order = indices_;
  if (options_.shuffle) {
    uint64_t state = options_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ULL;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(randomBelow(state, i))]);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    epoch_ = epoch;
    slotFull_ = false;
    epochFinished_ = false;
    workerError_ = nullptr;
    slot_ = Batch{};
  }
  worker_ = std::thread(&BatchLoader::produce, this, std::move(order), epoch);
}

Batch BatchLoader::assemble(const std::vector<int64_t>& order, int64_t batchIndex, int64_t epoch, std::vector<float>& scratch) const {
  const int64_t first = batchIndex * options_.batchSize;
  const int64_t size = std::min(options_.batchSize, static_cast<int64_t>(order.size()) - first);
  Batch batch;
  batch.index = batchIndex;
  batch.shape = {size, sampleShape_[0], sampleShape_[1], sampleShape_[2]};
  batch.images.resize(static_cast<size_t>(size * sampleSize_));
  batch.labels.resize(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    const int64_t sample = order[static_cast<size_t>(first + i)];
    float* image = batch.images.data() + i * sampleSize_;
    batch.labels[static_cast<size_t>(i)] = source_->readSample(sample, image);
    // Each sample's augmentation depends on (seed, epoch, sample) only, not on batch size or order.
    uint64_t state = options_.seed ^ (static_cast<uint64_t>(epoch) * 0xA24BAED4963EE407ULL) ^ (static_cast<uint64_t>(sample) * 0x9FB21C651E98DF25ULL);
    augmentImage(image, sampleShape_[0], sampleShape_[1], sampleShape_[2], options_.augmentation, state, scratch);
  }
  return batch;
}

void BatchLoader::produce(std::vector<int64_t> order, int64_t epoch) {
  try {
    std::vector<float> scratch;
    const int64_t batches = batchesPerEpoch();
    for (int64_t b = 0; b < batches; ++b) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopRequested_) return;
      }
      Batch batch = assemble(order, b, epoch, scratch);
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopRequested_ || !slotFull_; });
      if (stopRequested_) return;
      slot_ = std::move(batch);
      slotFull_ = true;
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    workerError_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    epochFinished_ = true;
  }
  changed_.notify_all();
}

bool BatchLoader::next(Batch& batch) {
  if (epoch_ < 0) startEpoch(0);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return slotFull_ || epochFinished_; });
  if (slotFull_) {
    batch = std::move(slot_);
    slotFull_ = false;
    lock.unlock();
    changed_.notify_all();
    return true;
  }
  if (workerError_) {
    std::exception_ptr error = workerError_;
    workerError_ = nullptr;
    std::rethrow_exception(error);
  }
  return false;
}

}  // namespace netlens::data
