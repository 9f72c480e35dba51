// The cuDNN autotuning cache (see autotune_cache.h): keys, the JSON file and its checks. No CUDA here.
#include "autotune_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "netlens/json.h"

namespace netlens::cuda {
namespace {

std::string jsonString(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (u < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

// mkdir -p of the folder holding `file`.
bool makeParentFolders(const std::string& file, std::string* error) {
  for (size_t slash = file.find('/', 1); slash != std::string::npos; slash = file.find('/', slash + 1)) {
    const std::string folder = file.substr(0, slash);
    if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
      if (error) *error = "cannot create " + folder + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// The fields of one entry, or why it is unusable.
bool readEntry(const JsonValue& value, TunedAlgorithm* entry, std::string* why) {
  try {
    if (!value.isObject()) {
      *why = "not an object";
      return false;
    }
    entry->algorithm = static_cast<int>(value.at("algorithm").asInt());
    entry->mathType = static_cast<int>(value.at("math_type").asInt());
    const int64_t workspace = value.at("workspace_bytes").asInt();
    entry->milliseconds = value.at("ms").asNumber();
    if (entry->algorithm < 0 || entry->mathType < 0 || workspace < 0 || !(entry->milliseconds >= 0.0)) {
      *why = "negative or invalid numbers";
      return false;
    }
    entry->workspaceBytes = static_cast<uint64_t>(workspace);
    return true;
  } catch (const JsonError& error) {
    *why = error.what();
    return false;
  }
}

}  // namespace

const char* directionName(ConvolutionDirection direction) {
  switch (direction) {
    case ConvolutionDirection::Forward: return "fwd";
    case ConvolutionDirection::BackwardData: return "bwd-data";
    case ConvolutionDirection::BackwardFilter: return "bwd-filter";
  }
  return "?";
}

std::string ConvolutionKey::text() const {
  const auto number = [](int64_t value) { return std::to_string(value); };
  return std::string(directionName(direction)) + " x=" + number(n) + "x" + number(c) + "x" + number(h) + "x" + number(w) +
         " w=" + number(k) + "x" + number(r) + "x" + number(s) + " pad=" + number(padH) + "," + number(padW) +
         " stride=" + number(strideH) + "," + number(strideW) + " dilation=" + number(dilationH) + "," + number(dilationW) +
         " groups=" + number(groups) + " " + dataType + " " + math;
}

std::string DeviceIdentity::text() const {
  return gpuName + " | sm " + std::to_string(computeMajor) + "." + std::to_string(computeMinor) + " | cuDNN " + cudnnVersion;
}

bool AutotuneCache::lookup(const DeviceIdentity& device, const ConvolutionKey& key, TunedAlgorithm* found) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto forDevice = entries_.find(device.text());
  if (forDevice == entries_.end()) return false;
  const auto entry = forDevice->second.find(key.text());
  if (entry == forDevice->second.end()) return false;
  *found = entry->second;
  return true;
}

void AutotuneCache::store(const DeviceIdentity& device, const ConvolutionKey& key, const TunedAlgorithm& tuned) {
  const std::lock_guard<std::mutex> lock(mutex_);
  devices_[device.text()] = device;
  entries_[device.text()][key.text()] = tuned;
}

size_t AutotuneCache::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& [device, entries] : entries_) count += entries.size();
  return count;
}

std::string AutotuneCache::serialize() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "{\n  \"format\": " << jsonString(kFormat) << ",\n  \"version\": " << kVersion << ",\n  \"devices\": [";
  bool firstDevice = true;
  for (const auto& [deviceText, entries] : entries_) {
    const DeviceIdentity& device = devices_.at(deviceText);
    out << (firstDevice ? "\n" : ",\n") << "    {\"gpu\": " << jsonString(device.gpuName) << ", \"compute_capability\": "
        << jsonString(std::to_string(device.computeMajor) + "." + std::to_string(device.computeMinor))
        << ", \"cudnn\": " << jsonString(device.cudnnVersion) << ",\n     \"convolutions\": {";
    firstDevice = false;
    bool firstEntry = true;
    for (const auto& [key, entry] : entries) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.6g", std::isfinite(entry.milliseconds) ? entry.milliseconds : 0.0);
      out << (firstEntry ? "\n" : ",\n") << "       " << jsonString(key) << ": {\"algorithm\": " << entry.algorithm
          << ", \"math_type\": " << entry.mathType << ", \"workspace_bytes\": " << entry.workspaceBytes << ", \"ms\": " << ms << "}";
      firstEntry = false;
    }
    out << (firstEntry ? "}}" : "\n     }}");
  }
  out << (firstDevice ? "]\n}\n" : "\n  ]\n}\n");
  return out.str();
}

std::vector<std::string> AutotuneCache::merge(const std::string& document, const std::string& origin) {
  std::vector<std::string> notices;
  JsonValue root;
  try {
    root = parseJson(document);
  } catch (const JsonError& error) {
    notices.push_back(origin + ": not a valid autotuning cache (" + error.what() + "); ignored, the convolutions are timed again");
    return notices;
  }
  const JsonValue* format = root.isObject() ? root.find("format") : nullptr;
  const JsonValue* version = root.isObject() ? root.find("version") : nullptr;
  if (format == nullptr || !format->isString() || format->asString() != kFormat) {
    notices.push_back(origin + ": not a Netlens cuDNN autotuning cache (no \"format\": \"" + std::string(kFormat) + "\"); ignored");
    return notices;
  }
  if (version == nullptr || !version->isNumber() || version->asNumber() != static_cast<double>(kVersion)) {
    notices.push_back(origin + ": autotuning cache of another version (this engine reads version " + std::to_string(kVersion) +
                      "); ignored, the convolutions are timed again");
    return notices;
  }
  const JsonValue* devices = root.find("devices");
  if (devices == nullptr || !devices->isArray()) {
    notices.push_back(origin + ": autotuning cache without a \"devices\" list; ignored");
    return notices;
  }
  int skipped = 0;
  std::string firstReason;
  const std::lock_guard<std::mutex> lock(mutex_);
  for (const JsonValue& deviceValue : devices->asArray()) {
    DeviceIdentity device;
    const JsonValue* convolutions = nullptr;
    try {
      if (!deviceValue.isObject()) throw JsonError("a device is not an object");
      device.gpuName = deviceValue.at("gpu").asString();
      const std::string capability = deviceValue.at("compute_capability").asString();
      const size_t dot = capability.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 >= capability.size() ||
          capability.find_first_not_of("0123456789.") != std::string::npos) {
        throw JsonError("compute_capability \"" + capability + "\" is not MAJOR.MINOR");
      }
      device.computeMajor = std::atoi(capability.substr(0, dot).c_str());
      device.computeMinor = std::atoi(capability.substr(dot + 1).c_str());
      device.cudnnVersion = deviceValue.at("cudnn").asString();
      convolutions = &deviceValue.at("convolutions");
      if (!convolutions->isObject()) throw JsonError("convolutions is not an object");
    } catch (const JsonError& error) {
      ++skipped;
      if (firstReason.empty()) firstReason = error.what();
      continue;
    }
    const std::string deviceText = device.text();
    for (const auto& [key, value] : convolutions->asObject()) {
      TunedAlgorithm entry;
      std::string why;
      if (!readEntry(value, &entry, &why)) {
        ++skipped;
        if (firstReason.empty()) firstReason = "\"" + key + "\": " + why;
        continue;
      }
      const auto known = entries_.find(deviceText);
      if (known != entries_.end() && known->second.count(key) != 0) continue;
      devices_[deviceText] = device;
      entries_[deviceText][key] = entry;
    }
  }
  if (skipped > 0) {
    notices.push_back(origin + ": " + std::to_string(skipped) + " unusable autotuning entr" + (skipped == 1 ? "y" : "ies") +
                      " ignored (first: " + firstReason + ")");
  }
  return notices;
}

std::vector<std::string> AutotuneCache::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {};
  std::ostringstream text;
  text << file.rdbuf();
  return merge(text.str(), path);
}

bool AutotuneCache::save(const std::string& path, std::string* error) {
  // What the file holds now (another process may have tuned other shapes since this one read it),
  // with this cache's entries on top.
  AutotuneCache combined;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    combined.devices_ = devices_;
    combined.entries_ = entries_;
  }
  combined.load(path);
  if (!makeParentFolders(path, error)) return false;
  const std::string temporary = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      if (error) *error = "cannot write " + temporary + ": " + std::strerror(errno);
      return false;
    }
    out << combined.serialize();
    out.flush();
    if (!out) {
      if (error) *error = "cannot write " + temporary;
      std::remove(temporary.c_str());
      return false;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    if (error) *error = "cannot rename " + temporary + " to " + path + ": " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

std::string autotuneCachePath(const std::string& configured) {
  std::string path = configured.empty() ? environment("NETLENS_CUDNN_AUTOTUNE_CACHE") : configured;
  if (path == "none") return {};
  if (!path.empty()) return path;
  const std::string xdg = environment("XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg + "/netlens/cudnn-autotune.json";
  const std::string home = environment("HOME");
  return (home.empty() ? std::string("/tmp") : home + "/.cache") + "/netlens/cudnn-autotune.json";
}

AutotuneCache& processAutotuneCache(const std::string& path, std::vector<std::string>* notices) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<AutotuneCache>> caches;
  const std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<AutotuneCache>& cache = caches[path];
  if (!cache) {
    cache = std::make_unique<AutotuneCache>();
    if (!path.empty()) {
      std::vector<std::string> loaded = cache->load(path);
      if (notices) notices->insert(notices->end(), loaded.begin(), loaded.end());
    }
  }
  return *cache;
}

}  // namespace netlens::cuda
