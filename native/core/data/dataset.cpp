// The in-memory data set, opening a data set from a spec, and the validation split.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "file_bytes.h"
#include "netlens/data.h"
#include "netlens/data_loader.h"

namespace netlens::data {

int64_t Dataset::readSample(int64_t index, float* image) const {
  if (index < 0 || index >= count()) {
    throw DataError(name + ": sample " + std::to_string(index) + " is out of range (" + std::to_string(count()) + " samples)");
  }
  const int64_t size = sampleSize();
  if (!pixelBytes.empty()) {
    const uint8_t* source = pixelBytes.data() + index * size;
    for (int64_t i = 0; i < size; ++i) image[i] = static_cast<float>(source[i]) / 255.0f;  // as torchvision ToTensor
  } else {
    std::copy_n(pixelFloats.data() + index * size, size, image);
  }
  return labels[static_cast<size_t>(index)];
}

std::vector<int64_t> Dataset::classCounts() const {
  std::vector<int64_t> counts(classNames.size(), 0);
  for (const int64_t label : labels) {
    if (label >= 0 && label < static_cast<int64_t>(counts.size())) ++counts[static_cast<size_t>(label)];
  }
  return counts;
}

void Dataset::measureNormalization() {
  mean.assign(static_cast<size_t>(channels), 0.0f);
  std.assign(static_cast<size_t>(channels), 1.0f);
  const int64_t plane = height * width;
  if (count() == 0 || plane == 0) return;
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    double squares = 0.0;
    for (int64_t n = 0; n < count(); ++n) {
      const int64_t offset = (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) {
        const double value = pixelBytes.empty() ? pixelFloats[static_cast<size_t>(offset + i)]
                                                : pixelBytes[static_cast<size_t>(offset + i)] / 255.0;
        sum += value;
        squares += value * value;
      }
    }
    const double samples = static_cast<double>(count() * plane);
    const double average = sum / samples;
    const double variance = std::max(0.0, squares / samples - average * average);
    mean[static_cast<size_t>(c)] = static_cast<float>(average);
    // A constant channel would divide by zero; leave it unscaled.
    std[static_cast<size_t>(c)] = variance > 1e-12 ? static_cast<float>(std::sqrt(variance)) : 1.0f;
  }
}

void Dataset::validate(const std::string& origin) const {
  const size_t expected = static_cast<size_t>(count() * sampleSize());
  const size_t stored = pixelBytes.empty() ? pixelFloats.size() : pixelBytes.size();
  if (stored != expected) {
    throw DataError(origin + ": holds " + std::to_string(stored) + " pixel values, expected " + std::to_string(expected));
  }
  if (count() == 0) throw DataError(origin + ": holds no samples");
  const int64_t classes = static_cast<int64_t>(classNames.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw DataError(origin + ": label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                      " is outside 0.." + std::to_string(classes - 1) + "; give the class names or fix the labels");
    }
  }
}

namespace {

std::string joinPath(const std::string& directory, const std::string& name) { return directory + "/" + name; }

std::string firstExisting(const std::string& directory, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (isRegularFile(joinPath(directory, name))) return joinPath(directory, name);
  }
  std::string tried;
  for (const std::string& name : names) tried += (tried.empty() ? "" : ", ") + name;
  throw DataError(directory + ": none of " + tried + " is there; pass the file paths explicitly");
}

void requirePaths(const DatasetSpec& spec, size_t minimum, const std::string& usage) {
  if (spec.paths.size() < minimum) throw DataError("data set kind '" + spec.kind + "' needs " + usage);
}

Dataset openIdx(const DatasetSpec& spec) {
  if (!spec.variant.empty() && spec.variant != "mnist" && spec.variant != "fashion") {
    throw DataError("the IDX variant is 'mnist' or 'fashion', not '" + spec.variant + "'");
  }
  requirePaths(spec, 1, "paths [images, labels] or [directory]");
  std::string images;
  std::string labels;
  if (spec.paths.size() == 1 && isDirectory(spec.paths[0])) {
    const std::string prefix = spec.split == "test" ? "t10k" : "train";
    images = firstExisting(spec.paths[0], {prefix + "-images-idx3-ubyte", prefix + "-images-idx3-ubyte.gz", prefix + "-images.idx3-ubyte"});
    labels = firstExisting(spec.paths[0], {prefix + "-labels-idx1-ubyte", prefix + "-labels-idx1-ubyte.gz", prefix + "-labels.idx1-ubyte"});
  } else {
    requirePaths(spec, 2, "paths [images, labels] or [directory]");
    images = spec.paths[0];
    labels = spec.paths[1];
  }
  const std::vector<std::string> names = !spec.classNames.empty()   ? spec.classNames
                                         : spec.variant == "fashion" ? fashionMnistClassNames()
                                                                     : std::vector<std::string>{};
  Dataset dataset = readIdx(images, labels, names);
  if (spec.variant == "fashion") {
    dataset.name = "fashion-mnist";
    dataset.mean = {0.2860f};
    dataset.std = {0.3530f};
  }
  return dataset;
}

Dataset openCifar(const DatasetSpec& spec) {
  requirePaths(spec, 1, "paths: the .bin batch files, or the directory holding them");
  std::vector<std::string> files;
  if (!spec.variant.empty() && spec.variant != "cifar10" && spec.variant != "cifar100") {
    throw DataError("the CIFAR variant is 'cifar10' or 'cifar100', not '" + spec.variant + "'");
  }
  int classes = spec.variant == "cifar100" ? 100 : spec.variant == "cifar10" ? 10 : 0;
  if (spec.paths.size() == 1 && isDirectory(spec.paths[0])) {
    const std::string& directory = spec.paths[0];
    const bool looksLike100 = isRegularFile(joinPath(directory, "train.bin")) || isRegularFile(joinPath(directory, "test.bin"));
    if (classes == 0) classes = looksLike100 ? 100 : 10;
    if (classes == 100) {
      files.push_back(firstExisting(directory, {spec.split == "test" ? "test.bin" : "train.bin"}));
    } else if (spec.split == "test") {
      files.push_back(firstExisting(directory, {"test_batch.bin"}));
    } else {
      for (int batch = 1; batch <= 5; ++batch) files.push_back(firstExisting(directory, {"data_batch_" + std::to_string(batch) + ".bin"}));
    }
  } else {
    files = spec.paths;
    if (classes == 0) {
      const std::string first = baseName(files[0]);
      classes = first == "train.bin" || first == "test.bin" ? 100 : 10;
    }
  }
  return readCifar(files, classes);
}

Dataset openNumpy(const DatasetSpec& spec) {
  requirePaths(spec, 1, "paths [images.npy, labels.npy] or [archive.npz]");
  const std::string& first = spec.paths[0];
  Dataset dataset = spec.paths.size() == 1 ? readNpz(first, spec.imagesKey, spec.labelsKey, spec.layout)
                                           : readNumpy(first, spec.paths[1], spec.layout);
  if (!spec.classNames.empty()) {
    if (spec.classNames.size() < dataset.classNames.size()) {
      throw DataError(first + ": labels go up to " + std::to_string(dataset.classNames.size() - 1) + " but only " +
                      std::to_string(spec.classNames.size()) + " class names were given");
    }
    dataset.classNames = spec.classNames;
  }
  return dataset;
}

/** Zero border around every image (centred), for models whose input is larger than the data's. */
void padTo(Dataset& dataset, int64_t height, int64_t width) {
  if (height == dataset.height && width == dataset.width) return;
  if (height < dataset.height || width < dataset.width) {
    throw DataError(dataset.name + ": its images are " + std::to_string(dataset.height) + "×" + std::to_string(dataset.width) +
                    "; a size of " + std::to_string(height) + "×" + std::to_string(width) + " can only pad them, not shrink them");
  }
  const int64_t top = (height - dataset.height) / 2;
  const int64_t left = (width - dataset.width) / 2;
  const int64_t planes = dataset.count() * dataset.channels;
  std::vector<uint8_t> padded(static_cast<size_t>(planes * height * width), 0);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t y = 0; y < dataset.height; ++y) {
      const uint8_t* source = dataset.pixelBytes.data() + (p * dataset.height + y) * dataset.width;
      std::copy_n(source, dataset.width, padded.data() + (p * height + y + top) * width + left);
    }
  }
  dataset.pixelBytes = std::move(padded);
  dataset.height = height;
  dataset.width = width;
  dataset.measureNormalization();
}

}  // namespace

std::shared_ptr<const Dataset> openDataset(const DatasetSpec& spec) {
  if (spec.split != "train" && spec.split != "test") throw DataError("data set split must be 'train' or 'test', not '" + spec.split + "'");
  Dataset dataset;
  if (spec.kind == "default") {
    if (!spec.variant.empty() && spec.variant != "shapes32" && spec.variant != "shapes28") {
      throw DataError("the default data set's variant is 'shapes32' (32×32 RGB) or 'shapes28' (28×28 gray), not '" + spec.variant + "'");
    }
    dataset = defaultDataset(spec.variant == "shapes28" ? ShapesVariant::Gray28 : ShapesVariant::Rgb32, spec.split == "train", spec.seed);
    if (spec.folder.height > 0 || spec.folder.width > 0) padTo(dataset, spec.folder.height, spec.folder.width);
  } else if (spec.kind == "idx") {
    dataset = openIdx(spec);
  } else if (spec.kind == "cifar") {
    dataset = openCifar(spec);
  } else if (spec.kind == "folder") {
    requirePaths(spec, 1, "paths [root folder with one sub-folder per class]");
    dataset = readImageFolder(spec.paths[0], spec.folder);
    if (!spec.classNames.empty()) throw DataError(spec.paths[0] + ": an image folder's class names are its sub-folder names; drop classNames");
  } else if (spec.kind == "npy") {
    dataset = openNumpy(spec);
  } else {
    throw DataError("unknown data set kind '" + spec.kind + "'; use default, idx, cifar, folder or npy");
  }
  return std::make_shared<const Dataset>(std::move(dataset));
}

SplitIndices splitValidation(const Dataset& dataset, double fraction, uint64_t seed, bool stratified) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw DataError("validation fraction must be in [0, 1), not " + std::to_string(fraction));
  }
  uint64_t state = seed ^ 0x5EED5F11ULL;
  const auto shuffle = [&state](std::vector<int64_t>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[static_cast<size_t>(randomBelow(state, i))]);
  };
  SplitIndices split;
  std::vector<std::vector<int64_t>> groups;
  if (stratified) {
    groups.resize(dataset.classNames.size());
    for (int64_t i = 0; i < dataset.count(); ++i) groups[static_cast<size_t>(dataset.labels[static_cast<size_t>(i)])].push_back(i);
  } else {
    groups.emplace_back(static_cast<size_t>(dataset.count()));
    std::iota(groups[0].begin(), groups[0].end(), int64_t{0});
  }
  for (std::vector<int64_t>& group : groups) {
    shuffle(group);
    const size_t held = static_cast<size_t>(std::llround(fraction * static_cast<double>(group.size())));
    split.validation.insert(split.validation.end(), group.begin(), group.begin() + static_cast<std::ptrdiff_t>(held));
    split.train.insert(split.train.end(), group.begin() + static_cast<std::ptrdiff_t>(held), group.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

}  // namespace netlens::data
