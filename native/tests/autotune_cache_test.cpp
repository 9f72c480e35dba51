// The cuDNN autotuning cache without a GPU: keys tell every convolution parameter apart, a file written
// is read back with the same entries, entries of another GPU or cuDNN version are kept but not used,
// two writers merge instead of losing each other's entries, the file is replaced atomically (no
// temporary left behind), and a corrupt, foreign or other-version file is ignored with a notice.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "autotune_cache.h"
#include "test_support.h"

using namespace netlens;
using namespace netlens::test;
using namespace netlens::cuda;

namespace {

ConvolutionKey sampleKey() {
  ConvolutionKey key;
  key.n = 64;
  key.c = 3;
  key.h = 32;
  key.w = 32;
  key.k = 64;
  key.r = 3;
  key.s = 3;
  key.padH = key.padW = 1;
  return key;
}

DeviceIdentity h100() { return {"NVIDIA H100 80GB HBM3", 9, 0, "9.19.0"}; }

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

bool anyContains(const std::vector<std::string>& notices, const std::string& fragment) {
  for (const std::string& notice : notices) {
    if (notice.find(fragment) != std::string::npos) return true;
  }
  return false;
}

void keysTellParametersApart() {
  const ConvolutionKey base = sampleKey();
  check(base.text() == "fwd x=64x3x32x32 w=64x3x3 pad=1,1 stride=1,1 dilation=1,1 groups=1 float fma",
        "key text is canonical: " + base.text());
  std::set<std::string> texts{base.text()};
  const auto variant = [&](auto change, const std::string& what) {
    ConvolutionKey key = base;
    change(key);
    check(texts.insert(key.text()).second, "the key changes with " + what + ": " + key.text());
  };
  variant([](ConvolutionKey& k) { k.n = 128; }, "the batch");
  variant([](ConvolutionKey& k) { k.c = 4; }, "the input channels");
  variant([](ConvolutionKey& k) { k.h = 31; }, "the height");
  variant([](ConvolutionKey& k) { k.w = 31; }, "the width");
  variant([](ConvolutionKey& k) { k.k = 32; }, "the output channels");
  variant([](ConvolutionKey& k) { k.r = 5; }, "the window height");
  variant([](ConvolutionKey& k) { k.s = 5; }, "the window width");
  variant([](ConvolutionKey& k) { k.padH = 0; }, "the vertical padding");
  variant([](ConvolutionKey& k) { k.padW = 0; }, "the horizontal padding");
  variant([](ConvolutionKey& k) { k.strideH = 2; }, "the vertical stride");
  variant([](ConvolutionKey& k) { k.strideW = 2; }, "the horizontal stride");
  variant([](ConvolutionKey& k) { k.dilationH = 2; }, "the vertical dilation");
  variant([](ConvolutionKey& k) { k.dilationW = 2; }, "the horizontal dilation");
  variant([](ConvolutionKey& k) { k.groups = 3; }, "the groups");
  variant([](ConvolutionKey& k) { k.dataType = "bfloat16"; }, "the data type");
  variant([](ConvolutionKey& k) { k.math = "tensor_op"; }, "the math type");
  variant([](ConvolutionKey& k) { k.direction = ConvolutionDirection::BackwardData; }, "the direction (backward data)");
  variant([](ConvolutionKey& k) { k.direction = ConvolutionDirection::BackwardFilter; }, "the direction (backward filter)");
  const DeviceIdentity a = h100();
  DeviceIdentity b = a;
  b.cudnnVersion = "9.20.0";
  DeviceIdentity c = a;
  c.computeMinor = 1;
  check(a.text() != b.text() && a.text() != c.text(), "the device text changes with the cuDNN version and compute capability");
}

void roundTripAndDevices(const std::string& folder) {
  const std::string path = folder + "/nested/cache.json";
  AutotuneCache cache;
  const ConvolutionKey key = sampleKey();
  ConvolutionKey backward = key;
  backward.direction = ConvolutionDirection::BackwardFilter;
  cache.store(h100(), key, {1, 2, 4096, 0.125});
  cache.store(h100(), backward, {3, 1, 0, 0.5});
  DeviceIdentity other{"NVIDIA A100-SXM4-40GB \"quoted\"\\", 8, 0, "9.19.0"};
  cache.store(other, key, {6, 1, 1 << 20, 0.25});
  std::string error;
  check(cache.save(path, &error), "save creates the folder and writes: " + error);
  check(!exists(path + ".tmp." + std::to_string(static_cast<long>(::getpid()))), "no temporary file is left behind");

  AutotuneCache reread;
  const std::vector<std::string> notices = reread.load(path);
  check(notices.empty(), "a file the cache wrote reads back without notices");
  check(reread.size() == 3, "all 3 entries read back, got " + std::to_string(reread.size()));
  TunedAlgorithm found;
  check(reread.lookup(h100(), key, &found) && found.algorithm == 1 && found.mathType == 2 && found.workspaceBytes == 4096 &&
            found.milliseconds == 0.125,
        "the forward entry reads back field for field");
  check(reread.lookup(h100(), backward, &found) && found.algorithm == 3, "the backward-filter entry reads back");
  check(reread.lookup(other, key, &found) && found.algorithm == 6, "a GPU name with quotes and backslashes survives the round trip");
  DeviceIdentity newerCudnn = h100();
  newerCudnn.cudnnVersion = "9.20.0";
  check(!reread.lookup(newerCudnn, key, &found), "another cuDNN version finds nothing");
  ConvolutionKey bf16 = key;
  bf16.dataType = "bfloat16";
  check(!reread.lookup(h100(), bf16, &found), "another data type finds nothing");
  check(reread.serialize() == cache.serialize(), "serialize is stable across a round trip");
}

void mergeKeepsBothWriters(const std::string& folder) {
  const std::string path = folder + "/merge.json";
  AutotuneCache first, second;
  ConvolutionKey a = sampleKey(), b = sampleKey();
  b.k = 128;
  first.store(h100(), a, {1, 1, 0, 1.0});
  second.store(h100(), b, {2, 1, 0, 2.0});
  std::string error;
  check(first.save(path, &error), "first writer saves: " + error);
  // The second process read the file before the first wrote it: its save must keep the first's entry.
  check(second.save(path, &error), "second writer saves: " + error);
  AutotuneCache reread;
  reread.load(path);
  TunedAlgorithm found;
  check(reread.lookup(h100(), a, &found) && found.algorithm == 1, "the first writer's entry survives the second's save");
  check(reread.lookup(h100(), b, &found) && found.algorithm == 2, "the second writer's entry is there");
  // A newer timing of the same shape replaces the file's.
  AutotuneCache third;
  third.store(h100(), a, {5, 1, 0, 0.5});
  check(third.save(path, &error), "third writer saves: " + error);
  AutotuneCache again;
  again.load(path);
  check(again.lookup(h100(), a, &found) && found.algorithm == 5, "the saving process's own entry wins over the file's");
  // Merging into a cache that already has an entry keeps the in-memory one.
  AutotuneCache memory;
  memory.store(h100(), b, {7, 1, 0, 0.1});
  memory.load(path);
  check(memory.lookup(h100(), b, &found) && found.algorithm == 7, "load does not overwrite entries already in memory");
}

void badFilesAreIgnored(const std::string& folder) {
  AutotuneCache cache;
  check(cache.load(folder + "/missing.json").empty(), "a missing file is no notice");
  const std::string corrupt = folder + "/corrupt.json";
  writeFile(corrupt, "{\"format\": \"netlens-cudnn-autotune\", \"version\": 1, \"devices\": [ {");
  std::vector<std::string> notices = cache.load(corrupt);
  check(anyContains(notices, "not a valid autotuning cache") && cache.size() == 0, "a truncated file is ignored with a notice");
  writeFile(corrupt, "\x89PNG\r\n binary");
  check(anyContains(cache.load(corrupt), "not a valid autotuning cache"), "a binary file is ignored with a notice");
  const std::string foreign = folder + "/foreign.json";
  writeFile(foreign, "{\"format\": \"something-else\", \"version\": 1, \"devices\": []}");
  check(anyContains(cache.load(foreign), "not a Netlens cuDNN autotuning cache"), "another program's JSON is ignored with a notice");
  writeFile(foreign, "[1, 2, 3]");
  check(anyContains(cache.load(foreign), "not a Netlens cuDNN autotuning cache"), "a JSON array is ignored with a notice");
  const std::string newer = folder + "/newer.json";
  writeFile(newer, "{\"format\": \"netlens-cudnn-autotune\", \"version\": 2, \"devices\": [{\"gpu\": \"X\", "
                   "\"compute_capability\": \"9.0\", \"cudnn\": \"9.19.0\", \"convolutions\": {\"k\": {\"algorithm\": 1, "
                   "\"math_type\": 1, \"workspace_bytes\": 0, \"ms\": 1}}}]}");
  notices = cache.load(newer);
  check(anyContains(notices, "another version") && cache.size() == 0, "a file of another version is ignored with a notice");
  // One bad entry among good ones: the good ones are used, the bad ones counted.
  const std::string mixed = folder + "/mixed.json";
  writeFile(mixed, "{\"format\": \"netlens-cudnn-autotune\", \"version\": 1, \"devices\": ["
                   "{\"gpu\": \"G\", \"compute_capability\": \"8.6\", \"cudnn\": \"9.1.0\", \"convolutions\": {"
                   "\"good\": {\"algorithm\": 1, \"math_type\": 0, \"workspace_bytes\": 0, \"ms\": 0.5},"
                   "\"negative\": {\"algorithm\": -1, \"math_type\": 0, \"workspace_bytes\": 0, \"ms\": 0.5},"
                   "\"fraction\": {\"algorithm\": 1.5, \"math_type\": 0, \"workspace_bytes\": 0, \"ms\": 0.5},"
                   "\"missing\": {\"algorithm\": 1}}},"
                   "{\"gpu\": \"H\", \"compute_capability\": \"nine\", \"cudnn\": \"9.1.0\", \"convolutions\": {}},"
                   "7]}");
  AutotuneCache partial;
  notices = partial.load(mixed);
  check(partial.size() == 1, "only the good entry is kept, got " + std::to_string(partial.size()));
  check(anyContains(notices, "5 unusable autotuning entries ignored"), "the bad entries and devices are counted in one notice");
  std::string error;
  AutotuneCache unwritable;
  unwritable.store(h100(), sampleKey(), {1, 1, 0, 1.0});
  check(!unwritable.save("/proc/netlens-no-such-folder/cache.json", &error) && !error.empty(),
        "an unwritable place is an error message, not a crash: " + error);
}

void cachePathRules() {
  const auto withEnvironment = [](const char* name, const char* value) {
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  };
  withEnvironment("NETLENS_CUDNN_AUTOTUNE_CACHE", nullptr);
  withEnvironment("XDG_CACHE_HOME", "/xdg");
  check(autotuneCachePath("") == "/xdg/netlens/cudnn-autotune.json", "default under XDG_CACHE_HOME: " + autotuneCachePath(""));
  withEnvironment("XDG_CACHE_HOME", nullptr);
  withEnvironment("HOME", "/home/user");
  check(autotuneCachePath("") == "/home/user/.cache/netlens/cudnn-autotune.json", "default under ~/.cache: " + autotuneCachePath(""));
  withEnvironment("NETLENS_CUDNN_AUTOTUNE_CACHE", "/env/cache.json");
  check(autotuneCachePath("") == "/env/cache.json", "the variable overrides the default");
  check(autotuneCachePath("/option.json") == "/option.json", "the session option overrides the variable");
  check(autotuneCachePath("none").empty(), "\"none\" keeps the cache in memory only");
  withEnvironment("NETLENS_CUDNN_AUTOTUNE_CACHE", "none");
  check(autotuneCachePath("").empty(), "the variable set to \"none\" keeps it in memory too");
  withEnvironment("NETLENS_CUDNN_AUTOTUNE_CACHE", nullptr);
}

void processCacheIsShared(const std::string& folder) {
  const std::string path = folder + "/process.json";
  AutotuneCache seed;
  seed.store(h100(), sampleKey(), {4, 1, 0, 1.0});
  std::string error;
  seed.save(path, &error);
  std::vector<std::string> notices;
  AutotuneCache& first = processAutotuneCache(path, &notices);
  AutotuneCache& second = processAutotuneCache(path, &notices);
  TunedAlgorithm found;
  check(&first == &second, "one cache per file in a process");
  check(first.lookup(h100(), sampleKey(), &found) && found.algorithm == 4, "the process cache is loaded from its file on first use");
  check(&processAutotuneCache("", nullptr) != &first, "the in-memory-only cache is another one");
}

}  // namespace

int main() {
  char folderTemplate[] = "/tmp/netlens-autotune-XXXXXX";
  const char* folder = ::mkdtemp(folderTemplate);
  if (folder == nullptr) {
    std::fprintf(stderr, "cannot create a temporary folder\n");
    return 1;
  }
  keysTellParametersApart();
  roundTripAndDevices(folder);
  mergeKeepsBothWriters(folder);
  badFilesAreIgnored(folder);
  cachePathRules();
  processCacheIsShared(folder);
  const std::string cleanup = std::string("rm -rf '") + folder + "'";
  if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", folder);
  return finish("autotune_cache_test");
}
