// Data sets and loaders: the default data set is the same bytes on every run (a recorded checksum),
// balanced and learnable-but-not-trivial; every reader round-trips files written here or by
// scripts/goldens/make_data_fixtures.py (NumPy, gzip, Pillow); bad and truncated files get errors
// naming the file and the problem; the loader's background thread prepares ahead, propagates
// exceptions and shuts down cleanly.
// Usage: data_test <tests/native/fixtures/data>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "netlens/data.h"
#include "netlens/data_loader.h"
#include "test_support.h"

using namespace netlens;
using namespace netlens::data;
using netlens::test::check;
using netlens::test::expectThrows;

namespace fs = std::filesystem;

namespace {

// Recorded from the first run; a change here means the default data set changed for every user.
constexpr uint64_t kShapes32TrainChecksum = 0x6016e101eab38456ULL;
constexpr uint64_t kShapes28TrainChecksum = 0x82eae04666935960ULL;

int fixturePixel(int64_t n, int64_t c, int64_t y, int64_t x) { return static_cast<int>((n * 31 + c * 11 + y * 7 + x * 3) % 256); }

std::string fixtures;
fs::path scratch;

void writeBytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> readBytes(const fs::path& path) {
  const std::string text = netlens::test::readFile(path.string());
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::vector<uint8_t> truncated(std::vector<uint8_t> bytes, size_t keep) {
  bytes.resize(keep);
  return bytes;
}

void pushBigEndian(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}

std::vector<float> sample(const Dataset& dataset, int64_t index, int64_t* label = nullptr) {
  std::vector<float> image(static_cast<size_t>(dataset.sampleSize()));
  const int64_t value = dataset.readSample(index, image.data());
  if (label) *label = value;
  return image;
}

void testDefaultDataset() {
  const Dataset train32 = defaultDataset(ShapesVariant::Rgb32, true);
  const Dataset again32 = defaultDataset(ShapesVariant::Rgb32, true);
  const Dataset train28 = defaultDataset(ShapesVariant::Gray28, true);
  const uint64_t checksum32 = datasetChecksum(train32);
  const uint64_t checksum28 = datasetChecksum(train28);
  std::printf("shapes32 train checksum 0x%016llx, shapes28 train checksum 0x%016llx\n", static_cast<unsigned long long>(checksum32),
              static_cast<unsigned long long>(checksum28));
  check(checksum32 == datasetChecksum(again32), "the default data set is the same on a second generation");
  check(checksum32 == kShapes32TrainChecksum, "shapes32 matches its recorded checksum");
  check(checksum28 == kShapes28TrainChecksum, "shapes28 matches its recorded checksum");
  check(train32.count() == kShapesTrainCount && train32.sampleShape() == std::vector<int64_t>{3, 32, 32}, "shapes32 is 10000×3×32×32");
  check(train28.count() == kShapesTrainCount && train28.sampleShape() == std::vector<int64_t>{1, 28, 28}, "shapes28 is 10000×1×28×28");
  check(train32.classNames.size() == 10 && train32.classNames[0] == "circle" && train32.classNames[9] == "dots", "ten named classes");
  for (const int64_t count : train32.classCounts()) check(count == 1000, "every class has 1000 training images");
  const Dataset test28 = defaultDataset(ShapesVariant::Gray28, false);
  check(test28.count() == kShapesTestCount, "the test split has 2000 images");
  for (const int64_t count : test28.classCounts()) check(count == 200, "every class has 200 test images");
  check(datasetChecksum(generateShapes(ShapesVariant::Gray28, 100, 1)) != datasetChecksum(generateShapes(ShapesVariant::Gray28, 100, 2)),
        "another seed gives other images");
  check(std::vector<uint8_t>(test28.pixelBytes.begin(), test28.pixelBytes.begin() + 784) !=
            std::vector<uint8_t>(train28.pixelBytes.begin(), train28.pixelBytes.begin() + 784),
        "test images are not training images");
  check(train28.mean.size() == 1 && train28.mean[0] > 0.2f && train28.mean[0] < 0.8f && train28.std[0] > 0.1f, "measured normalization");

  // Learnable but not trivial: a nearest-class-mean classifier on raw pixels beats chance clearly
  // yet stays far from perfect (positions, sizes and colours vary), so a CNN has something to learn.
  const int64_t size = train28.sampleSize();
  std::vector<std::vector<double>> centroids(10, std::vector<double>(static_cast<size_t>(size), 0.0));
  for (int64_t n = 0; n < train28.count(); ++n) {
    int64_t label = 0;
    const std::vector<float> image = sample(train28, n, &label);
    for (int64_t i = 0; i < size; ++i) centroids[static_cast<size_t>(label)][static_cast<size_t>(i)] += image[static_cast<size_t>(i)] / 1000.0;
  }
  int64_t correct = 0;
  for (int64_t n = 0; n < test28.count(); ++n) {
    int64_t label = 0;
    const std::vector<float> image = sample(test28, n, &label);
    double best = INFINITY;
    int64_t guess = -1;
    for (int64_t c = 0; c < 10; ++c) {
      double distance = 0.0;
      for (int64_t i = 0; i < size; ++i) {
        const double difference = image[static_cast<size_t>(i)] - centroids[static_cast<size_t>(c)][static_cast<size_t>(i)];
        distance += difference * difference;
      }
      if (distance < best) {
        best = distance;
        guess = c;
      }
    }
    correct += guess == label;
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(test28.count());
  std::printf("shapes28 nearest-class-mean accuracy: %.3f (chance 0.100)\n", accuracy);
  check(accuracy > 0.12 && accuracy < 0.9, "nearest-class-mean accuracy is between chance and trivial");
}

void testIdx() {
  const Dataset gz = readIdx(fixtures + "/idx-images.gz", fixtures + "/idx-labels.gz");
  check(gz.count() == 6 && gz.sampleShape() == std::vector<int64_t>{1, 5, 4}, "IDX from gzip: 6 images of 5×4");
  bool pixelsMatch = true;
  for (int64_t n = 0; n < 6; ++n) {
    int64_t label = 0;
    const std::vector<float> image = sample(gz, n, &label);
    pixelsMatch = pixelsMatch && label == n % 3;
    for (int64_t y = 0; y < 5; ++y) {
      for (int64_t x = 0; x < 4; ++x) pixelsMatch = pixelsMatch && image[static_cast<size_t>(y * 4 + x)] == fixturePixel(n, 0, y, x) / 255.0f;
    }
  }
  check(pixelsMatch, "IDX pixels and labels round-trip");
  check(gz.classNames.size() == 10 && gz.classNames[3] == "3", "MNIST class names are the digits");

  std::vector<uint8_t> images = {0, 0, 8, 3};
  pushBigEndian(images, 6);
  pushBigEndian(images, 5);
  pushBigEndian(images, 4);
  for (int64_t n = 0; n < 6; ++n)
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 4; ++x) images.push_back(static_cast<uint8_t>(fixturePixel(n, 0, y, x)));
  std::vector<uint8_t> labels = {0, 0, 8, 1};
  pushBigEndian(labels, 6);
  for (int n = 0; n < 6; ++n) labels.push_back(static_cast<uint8_t>(n % 3));
  const fs::path dir = scratch / "idx";
  writeBytes(dir / "train-images-idx3-ubyte", images);
  writeBytes(dir / "train-labels-idx1-ubyte", labels);
  DatasetSpec spec;
  spec.kind = "idx";
  spec.paths = {dir.string()};
  spec.variant = "fashion";
  const auto plain = openDataset(spec);
  check(plain->pixelBytes == gz.pixelBytes && plain->labels == gz.labels, "plain IDX in a directory equals the gzip fixture");
  check(plain->classNames[9] == "Ankle boot", "Fashion-MNIST class names");

  const std::string images2 = (dir / "bad-images").string();
  const std::string labels2 = (dir / "train-labels-idx1-ubyte").string();
  writeBytes(images2, truncated(images, 100));
  expectThrows([&] { readIdx(images2, labels2); }, "bad-images: truncated: the header promises 120 bytes of data from offset 16 but only 84", "truncated IDX");
  std::vector<uint8_t> wrongMagic = images;
  wrongMagic[0] = 0x1f;
  wrongMagic[1] = 0x00;
  writeBytes(images2, wrongMagic);
  expectThrows([&] { readIdx(images2, labels2); }, "wrong magic at offset 0", "wrong IDX magic");
  writeBytes(images2, labels);
  expectThrows([&] { readIdx(images2, labels2); }, "has 1 dimensions (offset 3), a images file has 3", "labels file given as images");
  std::vector<uint8_t> floatType = images;
  floatType[2] = 0x0D;
  writeBytes(images2, floatType);
  expectThrows([&] { readIdx(images2, labels2); }, "element type 0x0d at offset 2", "non-ubyte IDX");
  std::vector<uint8_t> fewerLabels = {0, 0, 8, 1};
  pushBigEndian(fewerLabels, 5);
  for (int n = 0; n < 5; ++n) fewerLabels.push_back(0);
  writeBytes(dir / "five-labels", fewerLabels);
  expectThrows([&] { readIdx((dir / "train-images-idx3-ubyte").string(), (dir / "five-labels").string()); },
               "five-labels: holds 5 labels but", "label count mismatch");
  const std::vector<uint8_t> gzBytes = readBytes(fixtures + "/idx-images.gz");
  writeBytes(dir / "cut.gz", truncated(gzBytes, gzBytes.size() / 2));
  expectThrows([&] { readIdx((dir / "cut.gz").string(), labels2); }, "cut.gz: gzip stream is truncated", "truncated gzip");
  expectThrows([&] { readIdx((dir / "missing").string(), labels2); }, "missing: cannot open", "missing file");
}

std::vector<uint8_t> cifarRecords(int records, int labelBytes, int firstLabel) {
  std::vector<uint8_t> bytes;
  for (int r = 0; r < records; ++r) {
    if (labelBytes == 2) bytes.push_back(static_cast<uint8_t>((firstLabel + r) % 20));
    bytes.push_back(static_cast<uint8_t>(firstLabel + r));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) bytes.push_back(static_cast<uint8_t>(fixturePixel(r, c, y, x)));
  }
  return bytes;
}

void testCifar() {
  const fs::path dir10 = scratch / "cifar10";
  for (int batch = 1; batch <= 5; ++batch) writeBytes(dir10 / ("data_batch_" + std::to_string(batch) + ".bin"), cifarRecords(2, 1, batch));
  writeBytes(dir10 / "test_batch.bin", cifarRecords(3, 1, 0));
  DatasetSpec spec;
  spec.kind = "cifar";
  spec.paths = {dir10.string()};
  const auto train = openDataset(spec);
  check(train->count() == 10 && train->classNames[0] == "airplane", "CIFAR-10 directory: five batches of 2, named classes");
  check(train->labels[0] == 1 && train->labels[9] == 6, "CIFAR-10 labels in file order");
  const std::vector<float> image = sample(*train, 1);
  check(image[static_cast<size_t>(2 * 1024 + 3 * 32 + 4)] == fixturePixel(1, 2, 3, 4) / 255.0f, "CIFAR pixels are planar RGB");
  spec.split = "test";
  check(openDataset(spec)->count() == 3, "CIFAR-10 test split reads test_batch.bin");
  spec.variant = "cifar50";
  expectThrows([&] { openDataset(spec); }, "the CIFAR variant is 'cifar10' or 'cifar100', not 'cifar50'", "unknown CIFAR variant");

  const fs::path dir100 = scratch / "cifar100";
  writeBytes(dir100 / "train.bin", cifarRecords(4, 2, 96));
  std::ofstream(dir100 / "coarse_label_names.txt") << "";
  const Dataset hundred = readCifar({(dir100 / "train.bin").string()}, 100);
  check(hundred.count() == 4 && hundred.labels[2] == 98 && hundred.coarseLabels[2] == 98 % 20, "CIFAR-100 fine and coarse labels");
  check(hundred.classNames.size() == 100 && hundred.coarseClassNames.size() == 20, "CIFAR-100 class lists");
  expectThrows([&] { readCifar({(dir100 / "train.bin").string()}, 10); }, "not a whole number of 3073-byte records", "CIFAR-100 read as CIFAR-10");

  writeBytes(scratch / "cut.bin", truncated(cifarRecords(3, 1, 0), 3073 * 2 + 100));
  expectThrows([&] { readCifar({(scratch / "cut.bin").string()}, 10); }, "cut.bin: truncated or not CIFAR-10: 6246 bytes is not a whole number of 3073-byte records (record 2 at offset 6146 is cut short)",
               "truncated CIFAR");
  writeBytes(scratch / "badlabel.bin", cifarRecords(3, 1, 10));
  expectThrows([&] { readCifar({(scratch / "badlabel.bin").string()}, 10); }, "badlabel.bin: label 10 of record 0 (offset 0) is not below 10", "CIFAR label out of range");
  writeBytes(scratch / "empty.bin", {});
  expectThrows([&] { readCifar({(scratch / "empty.bin").string()}, 10); }, "empty.bin: empty file", "empty CIFAR file");
}

void testNumpy() {
  const Dataset stored = readNpz(fixtures + "/stored.npz", "x", "y");
  check(stored.count() == 4 && stored.sampleShape() == std::vector<int64_t>{2, 3, 3} && !stored.pixelFloats.empty(), "stored .npz: float32 N×C×H×W");
  const Dataset deflated = readNpz(fixtures + "/deflate.npz", "images", "targets", ArrayLayout::Nhwc);
  check(deflated.count() == 4 && deflated.sampleShape() == std::vector<int64_t>{3, 3, 2} && !deflated.pixelBytes.empty(),
        "deflate .npz: uint8 N×H×W×C becomes C×H×W");
  const Dataset split = readNumpy(fixtures + "/images-f8.npy", fixtures + "/labels-i8.npy");
  bool storedOk = true;
  bool deflatedOk = true;
  bool splitOk = true;
  for (int64_t n = 0; n < 4; ++n) {
    int64_t storedLabel = 0;
    int64_t deflatedLabel = 0;
    const std::vector<float> a = sample(stored, n, &storedLabel);
    const std::vector<float> b = sample(deflated, n, &deflatedLabel);
    const std::vector<float> c = sample(split, n);
    storedOk = storedOk && storedLabel == n % 3 && split.labels[static_cast<size_t>(n)] == n % 3;
    deflatedOk = deflatedOk && deflatedLabel == n % 3;
    for (int64_t ch = 0; ch < 2; ++ch)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 3; ++x) {
          const size_t at = static_cast<size_t>((ch * 3 + y) * 3 + x);
          storedOk = storedOk && std::fabs(a[at] - fixturePixel(n, ch, y, x) / 255.0f) < 1e-6f;
          splitOk = splitOk && std::fabs(c[at] - fixturePixel(n, ch, y, x) / 255.0f) < 1e-6f;
        }
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 2; ++x) deflatedOk = deflatedOk && b[static_cast<size_t>((ch * 3 + y) * 2 + x)] == fixturePixel(n, ch, y, x) / 255.0f;
  }
  check(storedOk, "stored .npz values and labels round-trip");
  check(deflatedOk, "deflate .npz values (NHWC → NCHW) and int32 labels round-trip");
  check(splitOk, "float64 .npy images and int64 .npy labels round-trip");

  expectThrows([&] { readNumpy(fixtures + "/fortran.npy", fixtures + "/labels-i8.npy"); }, "fortran.npy: stored in Fortran order", "Fortran order");
  expectThrows([&] { readNumpy(fixtures + "/object.npy", fixtures + "/labels-i8.npy"); }, "object.npy: dtype object", "object dtype");
  expectThrows([&] { readNumpy(fixtures + "/big-endian.npy", fixtures + "/labels-i8.npy"); }, "big-endian.npy: dtype >f4 is big-endian", "big-endian dtype");
  expectThrows([&] { readNumpy(fixtures + "/images-f8.npy", fixtures + "/images-f8.npy"); }, "images-f8.npy: labels have rank 4", "images given as labels");
  expectThrows([&] { readNpz(fixtures + "/stored.npz", "images", "y"); }, "stored.npz: has no array 'images' (it holds: x, y)", "missing npz key");
  const std::vector<uint8_t> npz = readBytes(fixtures + "/deflate.npz");
  writeBytes(scratch / "cut.npz", truncated(npz, npz.size() - 30));
  expectThrows([&] { readNpz((scratch / "cut.npz").string(), "images", "targets"); }, "cut.npz: no zip end-of-directory record", "truncated npz");
  std::vector<uint8_t> corrupt = npz;
  for (size_t i = 60; i < 120 && i < corrupt.size(); ++i) corrupt[i] ^= 0x5a;
  writeBytes(scratch / "corrupt.npz", corrupt);
  expectThrows([&] { readNpz((scratch / "corrupt.npz").string(), "images", "targets"); }, "corrupt.npz", "corrupt npz names the file");
  const std::vector<uint8_t> npy = readBytes(fixtures + "/images-f8.npy");
  writeBytes(scratch / "cut.npy", truncated(npy, npy.size() - 8));
  expectThrows([&] { readNumpy((scratch / "cut.npy").string(), fixtures + "/labels-i8.npy"); },
               "cut.npy: truncated: shape (4, 2, 3, 3) of <f8 needs 576 bytes from offset 128 but only 568", "truncated npy");
  writeBytes(scratch / "not.npy", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  expectThrows([&] { readNumpy((scratch / "not.npy").string(), fixtures + "/labels-i8.npy"); }, "not.npy: not a NumPy .npy file", "not an npy");
}

void testFolder() {
  FolderOptions options;
  const Dataset folder = readImageFolder(fixtures + "/folder", options);
  check(folder.classNames == std::vector<std::string>{"cats", "dogs"}, "class names are the sorted sub-folders");
  check(folder.count() == 6 && folder.sampleShape() == std::vector<int64_t>{3, 6, 5}, "six 6×5 RGB images");
  check(folder.labels == std::vector<int64_t>{0, 0, 0, 1, 1, 1}, "labels follow the folders");
  // cats: 0.png, 2.png, flat.jpg; dogs: 1.png, 3.png, gray.png.
  const std::vector<float> png = sample(folder, 1);
  bool pngOk = true;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 6; ++y)
      for (int64_t x = 0; x < 5; ++x) pngOk = pngOk && png[static_cast<size_t>((c * 6 + y) * 5 + x)] == fixturePixel(2, c, y, x) / 255.0f;
  check(pngOk, "PNG pixels round-trip exactly");
  const std::vector<float> jpeg = sample(folder, 2);
  check(std::fabs(jpeg[0] * 255 - 200) <= 3 && std::fabs(jpeg[30] * 255 - 100) <= 3 && std::fabs(jpeg[60] * 255 - 50) <= 3,
        "JPEG colour within 3 levels");
  const std::vector<float> gray = sample(folder, 5);
  check(gray[7] == fixturePixel(0, 0, 1, 2) / 255.0f && gray[30 + 7] == gray[7] && gray[60 + 7] == gray[7], "a gray PNG fills all three channels");
  options.channels = 1;
  options.height = 3;
  options.width = 4;
  const Dataset resized = readImageFolder(fixtures + "/folder", options);
  check(resized.sampleShape() == std::vector<int64_t>{1, 3, 4} && resized.count() == 6, "resized to 3×4 gray");

  expectThrows([&] { readImageFolder(fixtures + "/mixed", FolderOptions{}); }, "images differ in size, so give a size", "mixed sizes");
  FolderOptions sized;
  sized.height = sized.width = 5;
  check(readImageFolder(fixtures + "/mixed", sized).count() == 2, "mixed sizes with a target size");
  fs::create_directories(scratch / "empty" / "nothing");
  expectThrows([&] { readImageFolder((scratch / "empty").string(), FolderOptions{}); }, "nothing: class folder holds no .png/.jpg/.jpeg images", "empty class folder");
  fs::create_directories(scratch / "noclasses");
  expectThrows([&] { readImageFolder((scratch / "noclasses").string(), FolderOptions{}); }, "has no class sub-folders", "no class folders");
  const std::vector<uint8_t> pngBytes = readBytes(fixtures + "/folder/cats/0.png");
  writeBytes(scratch / "badpng" / "a" / "cut.png", truncated(pngBytes, pngBytes.size() - 20));
  expectThrows([&] { readImageFolder((scratch / "badpng").string(), FolderOptions{}); }, "cut.png: unreadable PNG", "truncated PNG");
  const std::vector<uint8_t> jpegBytes = readBytes(fixtures + "/folder/cats/flat.jpg");
  writeBytes(scratch / "badjpeg" / "a" / "cut.jpg", truncated(jpegBytes, jpegBytes.size() / 2));
  expectThrows([&] { readImageFolder((scratch / "badjpeg").string(), FolderOptions{}); }, "cut.jpg: unreadable JPEG", "truncated JPEG");
  writeBytes(scratch / "fake" / "a" / "text.png", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  expectThrows([&] { readImageFolder((scratch / "fake").string(), FolderOptions{}); }, "text.png: unreadable PNG", "not a PNG");
}

void testSplit() {
  const Dataset test28 = defaultDataset(ShapesVariant::Gray28, false);
  const SplitIndices stratified = splitValidation(test28, 0.1, 7, true);
  check(stratified.validation.size() == 200 && stratified.train.size() == 1800, "stratified split holds out 10%");
  std::vector<int64_t> perClass(10, 0);
  for (const int64_t index : stratified.validation) ++perClass[static_cast<size_t>(test28.labels[static_cast<size_t>(index)])];
  for (const int64_t count : perClass) check(count == 20, "stratified: 20 validation images per class");
  std::set<int64_t> all(stratified.train.begin(), stratified.train.end());
  all.insert(stratified.validation.begin(), stratified.validation.end());
  check(all.size() == 2000, "train and validation are disjoint and cover the data set");
  check(splitValidation(test28, 0.1, 7, true).validation == stratified.validation, "same seed, same split");
  check(splitValidation(test28, 0.1, 8, true).validation != stratified.validation, "another seed, another split");
  check(splitValidation(test28, 0.25, 7, false).validation.size() == 500, "unstratified split holds out 25%");
  expectThrows([&] { splitValidation(test28, 1.0, 7, true); }, "validation fraction must be in [0, 1)", "fraction 1");
}

/** A source whose samples are their own index, that can fail at one index, and records where it runs. */
class ProbeSource : public SampleSource {
 public:
  ProbeSource(int64_t count, int64_t failAt) : count_(count), failAt_(failAt) {}
  int64_t count() const override { return count_; }
  std::vector<int64_t> sampleShape() const override { return {1, 2, 2}; }
  int64_t readSample(int64_t index, float* image) const override {
    reads.fetch_add(1);
    if (std::this_thread::get_id() == mainThread) readOnMainThread = true;
    if (index == failAt_) throw DataError("probe: sample " + std::to_string(index) + " is unreadable");
    for (int i = 0; i < 4; ++i) image[i] = static_cast<float>(index);
    return index % 5;
  }
  mutable std::atomic<int64_t> reads{0};
  mutable std::atomic<bool> readOnMainThread{false};
  std::thread::id mainThread = std::this_thread::get_id();

 private:
  int64_t count_;
  int64_t failAt_;
};

void testLoader() {
  auto probe = std::make_shared<ProbeSource>(23, -1);
  LoaderOptions options;
  options.batchSize = 5;
  options.seed = 3;
  BatchLoader loader(probe, options);
  check(loader.batchesPerEpoch() == 5, "23 samples in batches of 5: 5 batches");
  std::vector<int64_t> firstOrder;
  Batch batch;
  std::vector<int64_t> sizes;
  while (loader.next(batch)) {
    sizes.push_back(batch.shape[0]);
    for (int64_t i = 0; i < batch.shape[0]; ++i) firstOrder.push_back(static_cast<int64_t>(batch.images[static_cast<size_t>(i * 4)]));
  }
  check(sizes == std::vector<int64_t>{5, 5, 5, 5, 3}, "the last batch holds the remainder");
  check(std::set<int64_t>(firstOrder.begin(), firstOrder.end()).size() == 23, "an epoch visits every sample once");
  bool sorted = std::is_sorted(firstOrder.begin(), firstOrder.end());
  check(!sorted, "shuffled");
  check(!probe->readOnMainThread, "samples are read on the background thread");
  loader.startEpoch(1);
  std::vector<int64_t> secondOrder;
  while (loader.next(batch)) {
    for (int64_t i = 0; i < batch.shape[0]; ++i) secondOrder.push_back(static_cast<int64_t>(batch.images[static_cast<size_t>(i * 4)]));
  }
  check(secondOrder != firstOrder, "each epoch has its own order");
  BatchLoader repeat(probe, options);
  std::vector<int64_t> repeatOrder;
  while (repeat.next(batch)) {
    for (int64_t i = 0; i < batch.shape[0]; ++i) repeatOrder.push_back(static_cast<int64_t>(batch.images[static_cast<size_t>(i * 4)]));
  }
  check(repeatOrder == firstOrder, "same seed and epoch, same order");
  options.dropLast = true;
  check(BatchLoader(probe, options).batchesPerEpoch() == 4, "dropLast drops the short batch");

  // Double buffering: while the caller holds batch 0, batch 1 is prepared without another next().
  auto ahead = std::make_shared<ProbeSource>(40, -1);
  LoaderOptions aheadOptions;
  aheadOptions.batchSize = 4;
  aheadOptions.shuffle = false;
  BatchLoader prefetching(ahead, aheadOptions);
  prefetching.next(batch);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ahead->reads.load() < 8 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  check(ahead->reads.load() == 8 || ahead->reads.load() == 12, "the next batch is prepared ahead, and no more than one or two ahead");

  // Shutdown: destroying a loader whose thread waits for a free slot returns promptly.
  const auto started = std::chrono::steady_clock::now();
  {
    BatchLoader abandoned(ahead, aheadOptions);
    abandoned.next(batch);
  }
  prefetching.stop();
  check(!prefetching.next(batch), "a stopped loader's epoch is over");
  const double shutdownSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  check(shutdownSeconds < 5.0, "shutdown joins the thread promptly");

  // A failing sample surfaces from next() with its message, after the batches before it.
  auto failing = std::make_shared<ProbeSource>(20, 13);
  LoaderOptions failOptions;
  failOptions.batchSize = 4;
  failOptions.shuffle = false;
  BatchLoader broken(failing, failOptions);
  int delivered = 0;
  expectThrows([&] {
    while (broken.next(batch)) ++delivered;
  }, "probe: sample 13 is unreadable", "the worker's exception reaches the caller");
  check(delivered == 3, "the batches before the failing one are delivered");
  broken.startEpoch(1);
  check(broken.next(batch), "a new epoch starts after an error");

  expectThrows([&] { LoaderOptions bad; bad.batchSize = 0; BatchLoader(probe, bad); }, "batch size must be at least 1", "batch size 0");
  expectThrows([&] {
    LoaderOptions bad;
    bad.augmentation.mean = {0.5f, 0.5f};
    bad.augmentation.std = {0.5f, 0.5f};
    BatchLoader(probe, bad);
  }, "one mean and one std per channel (1)", "wrong normalization channels");
}

void testAugmentation() {
  // Normalizing with the data set's own statistics gives mean ≈ 0 and std ≈ 1.
  auto test28 = std::make_shared<Dataset>(defaultDataset(ShapesVariant::Gray28, false));
  LoaderOptions options;
  options.batchSize = 500;
  options.augmentation.mean = test28->mean;
  options.augmentation.std = test28->std;
  BatchLoader loader(test28, options);
  Batch batch;
  double sum = 0.0;
  double squares = 0.0;
  double count = 0.0;
  while (loader.next(batch)) {
    for (const float value : batch.images) {
      sum += value;
      squares += static_cast<double>(value) * value;
      count += 1;
    }
  }
  const double mean = sum / count;
  const double deviation = std::sqrt(squares / count - mean * mean);
  check(std::fabs(mean) < 1e-3 && std::fabs(deviation - 1.0) < 1e-3, "normalized data has mean 0 and std 1");

  // Crop with padding is a shift with zeros coming in; flip mirrors; both repeat for the same seed.
  std::vector<float> original(2 * 4 * 5);
  for (size_t i = 0; i < original.size(); ++i) original[i] = static_cast<float>(i + 1);
  Augmentation crop;
  crop.cropPadding = 2;
  crop.horizontalFlip = true;
  std::vector<float> scratchBuffer;
  int shifted = 0;
  int flipped = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    std::vector<float> image = original;
    uint64_t state = seed;
    augmentImage(image.data(), 2, 4, 5, crop, state, scratchBuffer);
    std::vector<float> again = original;
    uint64_t sameState = seed;
    augmentImage(again.data(), 2, 4, 5, crop, sameState, scratchBuffer);
    check(image == again, "augmentation repeats for the same seed");
    // Recover the shift and flip by search; exactly one (dy, dx, flip) must explain the output.
    int explanations = 0;
    for (int flip = 0; flip < 2; ++flip) {
      for (int dy = -2; dy <= 2; ++dy) {
        for (int dx = -2; dx <= 2; ++dx) {
          bool matches = true;
          for (int c = 0; c < 2 && matches; ++c)
            for (int y = 0; y < 4 && matches; ++y)
              for (int x = 0; x < 5 && matches; ++x) {
                const int croppedX = flip ? 4 - x : x;
                const int sy = y + dy;
                const int sx = croppedX + dx;
                const float expected = sy >= 0 && sy < 4 && sx >= 0 && sx < 5 ? original[static_cast<size_t>((c * 4 + sy) * 5 + sx)] : 0.0f;
                matches = image[static_cast<size_t>((c * 4 + y) * 5 + x)] == expected;
              }
          if (matches) {
            ++explanations;
            shifted += dy != 0 || dx != 0;
            flipped += flip;
          }
        }
      }
    }
    check(explanations == 1, "the output is the input shifted (zero-filled) and maybe mirrored");
  }
  check(shifted > 20 && flipped > 10 && flipped < 54, "crops and flips both happen, at random");
}

/**
 * A codec compiled in but unusable at run time (ctest data_without_png / data_without_jpeg point
 * NETLENS_LIBPNG / NETLENS_LIBJPEG at nothing or at the wrong library): its files fail with the file,
 * the library and the fix named, and the other format still decodes.
 */
void testUnavailableCodec(const std::vector<ImageFormatStatus>& statuses) {
  for (const ImageFormatStatus& status : statuses) {
    const bool png = status.format == "png";
    const std::string sourceName = png ? "cats/0.png" : "cats/flat.jpg";
    const fs::path folder = scratch / ("only-" + status.format);
    writeBytes(folder / "a" / fs::path(sourceName).filename(), readBytes(fixtures + "/folder/" + sourceName));
    if (status.available) {
      check(status.problem.empty(), status.format + " is available and has no problem");
      check(readImageFolder(folder.string(), FolderOptions{}).count() == 1, status.format + " still decodes while the other codec is missing");
      continue;
    }
    check(status.compiledIn && !status.problem.empty(), status.format + " reports why it is unavailable: " + status.problem);
    const std::string soname = png ? "libpng16.so.16" : "libjpeg.so.";
    const std::string variable = png ? "NETLENS_LIBPNG" : "NETLENS_LIBJPEG";
    check(status.problem.find("apt-get install") != std::string::npos && status.problem.find(variable) != std::string::npos,
          status.format + " status names the fix");
    const std::string file = (folder / "a" / fs::path(sourceName).filename()).string();
    expectThrows([&] { readImageFolder(folder.string(), FolderOptions{}); }, file + ": cannot read " + (png ? "PNG: " : "JPEG: ") + soname,
                 status.format + " error names the file and the library");
    expectThrows([&] { readImageFolder(folder.string(), FolderOptions{}); }, "apt-get install", status.format + " error names the fix");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: data_test <tests/native/fixtures/data>\n");
    return 2;
  }
  fixtures = argv[1];
  scratch = fs::temp_directory_path() / ("netlens-data-test-" + std::to_string(::getpid()));
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  const std::vector<std::string> formats = imageFormatsCompiledIn();
  std::printf("image formats compiled in: %zu, zlib: %s\n", formats.size(), zlibCompiledIn() ? "yes" : "no");
  const std::vector<ImageFormatStatus> statuses = imageFormatStatus();
  bool allAvailable = true;
  for (const ImageFormatStatus& status : statuses) {
    std::printf("image format %s: compiled in %s, available %s (%s)%s%s\n", status.format.c_str(), status.compiledIn ? "yes" : "no",
                status.available ? "yes" : "no", status.library.c_str(), status.problem.empty() ? "" : ": ", status.problem.c_str());
    allAvailable = allAvailable && status.available;
  }
  try {
    testDefaultDataset();
    testIdx();
    testCifar();
    testNumpy();
    if (allAvailable) {
      testFolder();
    } else if (formats.size() == 2) {
      std::printf("image codec unavailable at run time: checking its error and the other format\n");
      testUnavailableCodec(statuses);
    } else {
      std::printf("skipping image folder checks: PNG/JPEG not compiled in\n");
      expectThrows([&] { readImageFolder(fixtures + "/folder", FolderOptions{}); }, "not compiled in", "missing codec is reported");
    }
    testSplit();
    testLoader();
    testAugmentation();
  } catch (const std::exception& error) {
    check(false, std::string("unexpected exception: ") + error.what());
  }
  fs::remove_all(scratch);
  return netlens::test::finish("data_test");
}
