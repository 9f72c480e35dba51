// MNIST-style IDX files and CIFAR binary batches: fixed binary layouts, checked field by field.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "file_bytes.h"
#include "netlens/data.h"

namespace netlens::data {
namespace {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the whole (decompressed) file
  size_t dataOffset = 0;
};

IdxArray readIdxFile(const std::string& path, size_t expectedRank, const char* role) {
  IdxArray array;
  array.bytes = readMaybeGzip(path);
  const std::vector<uint8_t>& bytes = array.bytes;
  const std::string fix = std::string("; expected an IDX ") + role + " file (" +
                          (expectedRank == 3 ? "magic 00 00 08 03, e.g. train-images-idx3-ubyte" : "magic 00 00 08 01, e.g. train-labels-idx1-ubyte") + ")";
  if (bytes.size() < 4) throw DataError(path + ": only " + std::to_string(bytes.size()) + " bytes, too short for the IDX magic at offset 0" + fix);
  if (bytes[0] != 0 || bytes[1] != 0) throw DataError(path + ": wrong magic at offset 0 (not an IDX file)" + fix);
  if (bytes[2] != 0x08) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", bytes[2]);
    throw DataError(path + ": element type " + code + " at offset 2 is not unsigned byte (0x08); only ubyte IDX files are supported" + fix);
  }
  if (bytes[3] != expectedRank) {
    throw DataError(path + ": has " + std::to_string(bytes[3]) + " dimensions (offset 3), a " + role + " file has " +
                    std::to_string(expectedRank) + fix);
  }
  array.dataOffset = 4 + 4 * expectedRank;
  if (bytes.size() < array.dataOffset) {
    throw DataError(path + ": truncated in the header: " + std::to_string(bytes.size()) + " bytes, the dimensions end at offset " +
                    std::to_string(array.dataOffset) + "; fetch the file again");
  }
  size_t total = 1;
  for (size_t d = 0; d < expectedRank; ++d) {
    const uint32_t extent = readBigEndian32(bytes.data() + 4 + 4 * d);
    if (extent == 0 && d > 0) throw DataError(path + ": dimension " + std::to_string(d) + " (offset " + std::to_string(4 + 4 * d) + ") is 0");
    array.dims.push_back(extent);
    total *= extent;
  }
  const size_t available = bytes.size() - array.dataOffset;
  if (available < total) {
    throw DataError(path + ": truncated: the header promises " + std::to_string(total) + " bytes of data from offset " +
                    std::to_string(array.dataOffset) + " but only " + std::to_string(available) +
                    " are there; the download or decompression was cut short, fetch the file again");
  }
  if (available > total) {
    throw DataError(path + ": " + std::to_string(available - total) + " unexpected bytes after the data (ends at offset " +
                    std::to_string(array.dataOffset + total) + "); the header's dimensions do not match the file");
  }
  return array;
}

}  // namespace

const std::vector<std::string>& fashionMnistClassNames() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

Dataset readIdx(const std::string& imagesPath, const std::string& labelsPath, const std::vector<std::string>& classNames) {
  const IdxArray images = readIdxFile(imagesPath, 3, "images");
  const IdxArray labels = readIdxFile(labelsPath, 1, "labels");
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(labelsPath + ": holds " + std::to_string(labels.dims[0]) + " labels but " + imagesPath + " holds " +
                    std::to_string(images.dims[0]) + " images; pair the images with their own labels file");
  }
  Dataset dataset;
  dataset.name = "mnist";
  dataset.channels = 1;
  dataset.height = images.dims[1];
  dataset.width = images.dims[2];
  dataset.pixelBytes.assign(images.bytes.begin() + static_cast<std::ptrdiff_t>(images.dataOffset), images.bytes.end());
  dataset.labels.assign(labels.bytes.begin() + static_cast<std::ptrdiff_t>(labels.dataOffset), labels.bytes.end());
  if (classNames.empty()) {
    const int64_t highest = dataset.labels.empty() ? 9 : *std::max_element(dataset.labels.begin(), dataset.labels.end());
    for (int64_t c = 0; c <= std::max<int64_t>(9, highest); ++c) dataset.classNames.push_back(std::to_string(c));
  } else {
    dataset.classNames = classNames;
  }
  for (size_t i = 0; i < dataset.labels.size(); ++i) {
    if (dataset.labels[i] >= static_cast<int64_t>(dataset.classNames.size())) {
      throw DataError(labelsPath + ": label " + std::to_string(dataset.labels[i]) + " at offset " +
                      std::to_string(labels.dataOffset + i) + " is not below the " + std::to_string(dataset.classNames.size()) +
                      " classes; check the labels file");
    }
  }
  dataset.mean = {0.1307f};
  dataset.std = {0.3081f};
  dataset.validate(imagesPath);
  return dataset;
}

namespace {

std::vector<std::string> readNameList(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> names;
  std::string line;
  while (std::getline(file, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

const std::vector<std::string>& cifar10Names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird", "cat", "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace

Dataset readCifar(const std::vector<std::string>& paths, int classesCount) {
  if (classesCount != 10 && classesCount != 100) throw DataError("CIFAR has 10 or 100 classes, not " + std::to_string(classesCount));
  if (paths.empty()) throw DataError("CIFAR: no batch files given");
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t labelBytes = classesCount == 100 ? 2 : 1;
  const int64_t record = labelBytes + kPixels;
  Dataset dataset;
  dataset.name = classesCount == 100 ? "cifar100" : "cifar10";
  dataset.channels = 3;
  dataset.height = dataset.width = 32;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> bytes = readFileBytes(path);
    if (bytes.empty()) throw DataError(path + ": empty file; expected CIFAR-" + std::to_string(classesCount) + " records of " + std::to_string(record) + " bytes");
    if (static_cast<int64_t>(bytes.size()) % record != 0) {
      const int64_t whole = static_cast<int64_t>(bytes.size()) / record;
      throw DataError(path + ": truncated or not CIFAR-" + std::to_string(classesCount) + ": " + std::to_string(bytes.size()) +
                      " bytes is not a whole number of " + std::to_string(record) + "-byte records (record " + std::to_string(whole) +
                      " at offset " + std::to_string(whole * record) + " is cut short)" +
                      (classesCount == 10 ? "; for CIFAR-100 (train.bin/test.bin) use variant cifar100" : "; for CIFAR-10 use variant cifar10") +
                      ", or fetch the file again");
    }
    const int64_t records = static_cast<int64_t>(bytes.size()) / record;
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* entry = bytes.data() + r * record;
      const int64_t fine = entry[labelBytes - 1];
      const int64_t limit = classesCount;
      if (fine >= limit) {
        throw DataError(path + ": label " + std::to_string(fine) + " of record " + std::to_string(r) + " (offset " +
                        std::to_string(r * record + labelBytes - 1) + ") is not below " + std::to_string(limit) +
                        "; this is not a CIFAR-" + std::to_string(classesCount) + " file");
      }
      if (classesCount == 100) {
        if (entry[0] >= 20) {
          throw DataError(path + ": coarse label " + std::to_string(entry[0]) + " of record " + std::to_string(r) + " (offset " +
                          std::to_string(r * record) + ") is not below 20; this is not a CIFAR-100 file");
        }
        dataset.coarseLabels.push_back(entry[0]);
      }
      dataset.labels.push_back(fine);
      dataset.pixelBytes.insert(dataset.pixelBytes.end(), entry + labelBytes, entry + record);
    }
  }
  const std::string directory = directoryOf(paths[0]);
  if (classesCount == 10) {
    const std::vector<std::string> names = readNameList(directory + "/batches.meta.txt");
    dataset.classNames = names.size() == 10 ? names : cifar10Names();
    dataset.mean = {0.4914f, 0.4822f, 0.4465f};
    dataset.std = {0.2470f, 0.2435f, 0.2616f};
  } else {
    dataset.classNames = readNameList(directory + "/fine_label_names.txt");
    if (dataset.classNames.size() != 100) {
      dataset.classNames.clear();
      for (int c = 0; c < 100; ++c) dataset.classNames.push_back("class " + std::to_string(c));
    }
    dataset.coarseClassNames = readNameList(directory + "/coarse_label_names.txt");
    if (dataset.coarseClassNames.size() != 20) {
      dataset.coarseClassNames.clear();
      for (int c = 0; c < 20; ++c) dataset.coarseClassNames.push_back("superclass " + std::to_string(c));
    }
    dataset.mean = {0.5071f, 0.4865f, 0.4409f};
    dataset.std = {0.2673f, 0.2564f, 0.2762f};
  }
  dataset.validate(paths[0]);
  return dataset;
}

}  // namespace netlens::data
