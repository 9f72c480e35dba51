// NumPy .npy arrays and .npz archives (zip, stored or deflate members, zip64 sizes), read without Python.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "file_bytes.h"
#include "netlens/data.h"

namespace netlens::data {
namespace {

/** The text after `'key':` in the header dict, or empty. */
std::string headerField(const std::string& header, const std::string& key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return "";
  size_t colon = header.find(':', at);
  if (colon == std::string::npos) return "";
  ++colon;
  while (colon < header.size() && header[colon] == ' ') ++colon;
  return header.substr(colon);
}

size_t elementSize(const std::string& dtype) {
  if (dtype == "<f4" || dtype == "<i4" || dtype == "<u4") return 4;
  if (dtype == "<f8" || dtype == "<i8" || dtype == "<u8") return 8;
  if (dtype == "|u1" || dtype == "|i1" || dtype == "|b1" || dtype == "<u1") return 1;
  return 0;
}

}  // namespace

NumpyArray parseNpy(const std::vector<uint8_t>& contents, const std::string& origin) {
  static const uint8_t kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (contents.size() < 10 || !std::equal(std::begin(kMagic), std::end(kMagic), contents.begin())) {
    throw DataError(origin + ": not a NumPy .npy file (no \\x93NUMPY magic at offset 0); save arrays with numpy.save");
  }
  const int major = contents[6];
  size_t headerLength = 0;
  size_t headerStart = 0;
  if (major == 1) {
    headerLength = readLittleEndian16(contents.data() + 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (contents.size() < 12) throw DataError(origin + ": truncated in the .npy header (offset 8)");
    headerLength = readLittleEndian32(contents.data() + 8);
    headerStart = 12;
  } else {
    throw DataError(origin + ": .npy format version " + std::to_string(major) + " at offset 6 is not supported (1, 2 or 3)");
  }
  if (contents.size() < headerStart + headerLength) {
    throw DataError(origin + ": truncated: the header needs " + std::to_string(headerLength) + " bytes from offset " +
                    std::to_string(headerStart) + " but the file has " + std::to_string(contents.size()) + "; save it again");
  }
  const std::string header(reinterpret_cast<const char*>(contents.data() + headerStart), headerLength);
  NumpyArray array;
  const std::string descr = headerField(header, "descr");
  if (descr.size() < 2 || descr[0] != '\'') {
    throw DataError(origin + ": header field 'descr' is missing or not a simple dtype (" + header.substr(0, 60) +
                    "); structured arrays are not supported, save a plain numeric array");
  }
  array.dtype = descr.substr(1, descr.find('\'', 1) - 1);
  if (array.dtype == "|O" || array.dtype == "O") {
    throw DataError(origin + ": dtype object (header field 'descr') holds Python objects, not numbers; convert with "
                    "np.asarray(x, dtype=np.float32) (or an integer dtype for labels) and save again");
  }
  if (!array.dtype.empty() && array.dtype[0] == '>') {
    throw DataError(origin + ": dtype " + array.dtype + " is big-endian (header field 'descr'); save it with x.astype(x.dtype.newbyteorder('<'))");
  }
  if (elementSize(array.dtype) == 0) {
    throw DataError(origin + ": dtype " + array.dtype + " (header field 'descr') is not supported; use float32, float64, uint8, int32 or int64");
  }
  const std::string fortran = headerField(header, "fortran_order");
  if (fortran.rfind("True", 0) == 0) {
    throw DataError(origin + ": stored in Fortran order (header field 'fortran_order' is True); save np.ascontiguousarray(x) instead");
  }
  const std::string shapeText = headerField(header, "shape");
  if (shapeText.empty() || shapeText[0] != '(') throw DataError(origin + ": header field 'shape' is missing or malformed");
  size_t position = 1;
  while (position < shapeText.size() && shapeText[position] != ')') {
    if (std::isdigit(static_cast<unsigned char>(shapeText[position]))) {
      int64_t extent = 0;
      while (position < shapeText.size() && std::isdigit(static_cast<unsigned char>(shapeText[position]))) {
        extent = extent * 10 + (shapeText[position] - '0');
        ++position;
      }
      array.shape.push_back(extent);
    } else {
      ++position;
    }
  }
  size_t total = elementSize(array.dtype);
  for (const int64_t extent : array.shape) total *= static_cast<size_t>(extent);
  const size_t dataStart = headerStart + headerLength;
  const size_t available = contents.size() - dataStart;
  if (available < total) {
    throw DataError(origin + ": truncated: shape " + shapeText.substr(0, shapeText.find(')') + 1) + " of " + array.dtype + " needs " +
                    std::to_string(total) + " bytes from offset " + std::to_string(dataStart) + " but only " +
                    std::to_string(available) + " are there; save the array again");
  }
  array.bytes.assign(contents.begin() + static_cast<std::ptrdiff_t>(dataStart),
                     contents.begin() + static_cast<std::ptrdiff_t>(dataStart + total));
  return array;
}

std::vector<std::pair<std::string, std::vector<uint8_t>>> readZipMembers(const std::string& path) {
  const std::vector<uint8_t> bytes = readFileBytes(path);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  constexpr uint32_t kEndSignature = 0x06054b50;
  size_t end = std::string::npos;
  for (size_t at = bytes.size() >= 22 ? bytes.size() - 22 : 0; bytes.size() >= 22; --at) {
    if (readLittleEndian32(bytes.data() + at) == kEndSignature) {
      end = at;
      break;
    }
    if (at == 0 || bytes.size() - at > 22 + 65535) break;
  }
  if (end == std::string::npos) {
    throw DataError(path + ": no zip end-of-directory record (truncated, or not a .npz); save it again with np.savez");
  }
  uint64_t entries = readLittleEndian16(bytes.data() + end + 10);
  uint64_t directoryOffset = readLittleEndian32(bytes.data() + end + 16);
  if (directoryOffset == 0xFFFFFFFFu || entries == 0xFFFF) {
    // Zip64: the zip64 end record's locator sits just before the classic record.
    if (end < 20 || readLittleEndian32(bytes.data() + end - 20) != 0x07064b50) throw DataError(path + ": zip64 locator missing before offset " + std::to_string(end));
    const uint64_t record = readLittleEndian64(bytes.data() + end - 20 + 8);
    if (record + 56 > bytes.size() || readLittleEndian32(bytes.data() + record) != 0x06064b50) throw DataError(path + ": zip64 end record corrupt at offset " + std::to_string(record));
    entries = readLittleEndian64(bytes.data() + record + 32);
    directoryOffset = readLittleEndian64(bytes.data() + record + 48);
  }
  std::vector<std::pair<std::string, std::vector<uint8_t>>> members;
  uint64_t at = directoryOffset;
  for (uint64_t entry = 0; entry < entries; ++entry) {
    if (at + 46 > bytes.size() || readLittleEndian32(bytes.data() + at) != 0x02014b50) {
      throw DataError(path + ": zip central directory entry " + std::to_string(entry) + " is corrupt at offset " + std::to_string(at) + "; save the archive again");
    }
    const uint8_t* header = bytes.data() + at;
    const uint16_t flags = readLittleEndian16(header + 8);
    const uint16_t method = readLittleEndian16(header + 10);
    uint64_t compressedSize = readLittleEndian32(header + 20);
    uint64_t size = readLittleEndian32(header + 24);
    const uint16_t nameLength = readLittleEndian16(header + 28);
    const uint16_t extraLength = readLittleEndian16(header + 30);
    const uint16_t commentLength = readLittleEndian16(header + 32);
    uint64_t localOffset = readLittleEndian32(header + 42);
    if (at + 46 + nameLength + extraLength > bytes.size()) throw DataError(path + ": zip entry " + std::to_string(entry) + " runs past the end of the file");
    const std::string name(reinterpret_cast<const char*>(header + 46), nameLength);
    // Zip64 extra field: 64-bit values replace exactly the 32-bit fields that hold 0xFFFFFFFF, in order.
    for (uint64_t extra = 0; extra + 4 <= extraLength;) {
      const uint8_t* field = header + 46 + nameLength + extra;
      const uint16_t id = readLittleEndian16(field);
      const uint16_t length = readLittleEndian16(field + 2);
      if (id == 0x0001) {
        size_t cursor = 4;
        const auto take = [&](uint64_t& value) {
          if (value == 0xFFFFFFFFu && cursor + 8 <= 4u + length) {
            value = readLittleEndian64(field + cursor);
            cursor += 8;
          }
        };
        take(size);
        take(compressedSize);
        take(localOffset);
      }
      extra += 4u + length;
    }
    const std::string origin = path + " (member " + name + ")";
    if (flags & 0x1) throw DataError(origin + ": encrypted zip members are not supported");
    if (localOffset + 30 > bytes.size() || readLittleEndian32(bytes.data() + localOffset) != 0x04034b50) {
      throw DataError(origin + ": local header missing at offset " + std::to_string(localOffset) + "; the archive is truncated or corrupt");
    }
    const uint64_t dataStart = localOffset + 30 + readLittleEndian16(bytes.data() + localOffset + 26) + readLittleEndian16(bytes.data() + localOffset + 28);
    if (dataStart + compressedSize > bytes.size()) {
      throw DataError(origin + ": truncated: " + std::to_string(compressedSize) + " bytes from offset " + std::to_string(dataStart) +
                      " run past the end of the file (" + std::to_string(bytes.size()) + " bytes); save the archive again");
    }
    std::vector<uint8_t> contents;
    if (method == 0) {
      contents.assign(bytes.begin() + static_cast<std::ptrdiff_t>(dataStart), bytes.begin() + static_cast<std::ptrdiff_t>(dataStart + compressedSize));
    } else if (method == 8) {
      contents = inflateRaw(bytes.data() + dataStart, compressedSize, size, origin);
    } else {
      throw DataError(origin + ": compression method " + std::to_string(method) + " is not supported (stored or deflate: np.savez / np.savez_compressed)");
    }
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    members.emplace_back(key, std::move(contents));
    at += 46u + nameLength + extraLength + commentLength;
  }
  return members;
}

namespace {

double elementAt(const NumpyArray& array, size_t index) {
  const uint8_t* at = array.bytes.data() + index * elementSize(array.dtype);
  const std::string& t = array.dtype;
  if (t == "<f4") { float v; std::memcpy(&v, at, 4); return v; }
  if (t == "<f8") { double v; std::memcpy(&v, at, 8); return v; }
  if (t == "<i4") { int32_t v; std::memcpy(&v, at, 4); return v; }
  if (t == "<u4") { uint32_t v; std::memcpy(&v, at, 4); return v; }
  if (t == "<i8") { int64_t v; std::memcpy(&v, at, 8); return static_cast<double>(v); }
  if (t == "<u8") { uint64_t v; std::memcpy(&v, at, 8); return static_cast<double>(v); }
  if (t == "|i1") return static_cast<int8_t>(*at);
  return *at;  // |u1, |b1
}

Dataset datasetFromArrays(const NumpyArray& images, const NumpyArray& labels, ArrayLayout layout, const std::string& imagesOrigin,
                          const std::string& labelsOrigin) {
  Dataset dataset;
  dataset.name = baseName(imagesOrigin);
  const std::vector<int64_t>& shape = images.shape;
  bool channelsLast = false;
  if (shape.size() == 3) {
    dataset.channels = 1;
    dataset.height = shape[1];
    dataset.width = shape[2];
  } else if (shape.size() == 4) {
    const auto isChannelCount = [](int64_t extent) { return extent == 1 || extent == 3 || extent == 4; };
    // Auto: NHWC only when the last axis looks like channels and the second cannot be (it is larger than 4).
    channelsLast = layout == ArrayLayout::Nhwc || (layout == ArrayLayout::Auto && isChannelCount(shape[3]) && shape[1] > 4);
    dataset.channels = channelsLast ? shape[3] : shape[1];
    dataset.height = channelsLast ? shape[1] : shape[2];
    dataset.width = channelsLast ? shape[2] : shape[3];
  } else {
    throw DataError(imagesOrigin + ": images have shape rank " + std::to_string(shape.size()) +
                    "; expected N×H×W, N×C×H×W or N×H×W×C");
  }
  if (labels.shape.size() != 1) {
    throw DataError(labelsOrigin + ": labels have rank " + std::to_string(labels.shape.size()) + "; expected one integer per image (shape (N,))");
  }
  if (labels.shape[0] != shape[0]) {
    throw DataError(labelsOrigin + ": holds " + std::to_string(labels.shape[0]) + " labels but " + imagesOrigin + " holds " +
                    std::to_string(shape[0]) + " images");
  }
  const int64_t count = shape[0];
  const int64_t plane = dataset.height * dataset.width;
  const size_t total = static_cast<size_t>(count * dataset.channels * plane);
  const bool bytes = images.dtype == "|u1" || images.dtype == "<u1";
  if (bytes) dataset.pixelBytes.resize(total); else dataset.pixelFloats.resize(total);
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t c = 0; c < dataset.channels; ++c) {
      for (int64_t i = 0; i < plane; ++i) {
        const size_t target = static_cast<size_t>((n * dataset.channels + c) * plane + i);
        const size_t source = channelsLast ? static_cast<size_t>((n * plane + i) * dataset.channels + c) : target;
        if (bytes) dataset.pixelBytes[target] = images.bytes[source];
        else dataset.pixelFloats[target] = static_cast<float>(elementAt(images, source));
      }
    }
  }
  int64_t highest = 0;
  for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
    const double value = elementAt(labels, i);
    if (value < 0 || value != static_cast<double>(static_cast<int64_t>(value))) {
      throw DataError(labelsOrigin + ": label " + std::to_string(value) + " of sample " + std::to_string(i) +
                      " is not a non-negative integer class index");
    }
    dataset.labels.push_back(static_cast<int64_t>(value));
    highest = std::max(highest, dataset.labels.back());
  }
  for (int64_t c = 0; c <= highest; ++c) dataset.classNames.push_back(std::to_string(c));
  dataset.measureNormalization();
  dataset.validate(imagesOrigin);
  return dataset;
}

}  // namespace

Dataset readNumpy(const std::string& imagesPath, const std::string& labelsPath, ArrayLayout layout) {
  const NumpyArray images = parseNpy(readFileBytes(imagesPath), imagesPath);
  const NumpyArray labels = parseNpy(readFileBytes(labelsPath), labelsPath);
  return datasetFromArrays(images, labels, layout, imagesPath, labelsPath);
}

Dataset readNpz(const std::string& path, const std::string& imagesKey, const std::string& labelsKey, ArrayLayout layout) {
  const auto members = readZipMembers(path);
  const auto find = [&](const std::string& key) -> const std::vector<uint8_t>& {
    for (const auto& member : members) {
      if (member.first == key) return member.second;
    }
    std::string present;
    for (const auto& member : members) present += (present.empty() ? "" : ", ") + member.first;
    throw DataError(path + ": has no array '" + key + "' (it holds: " + present + "); pass imagesKey/labelsKey");
  };
  const std::string imagesOrigin = path + "[" + imagesKey + "]";
  const std::string labelsOrigin = path + "[" + labelsKey + "]";
  const NumpyArray images = parseNpy(find(imagesKey), imagesOrigin);
  const NumpyArray labels = parseNpy(find(labelsKey), labelsOrigin);
  Dataset dataset = datasetFromArrays(images, labels, layout, imagesOrigin, labelsOrigin);
  dataset.name = baseName(path);
  return dataset;
}

}  // namespace netlens::data
