// Data sets for training: the embedded default data set (shapes and patterns generated from a seed)
// and the readers for files users bring (MNIST IDX, CIFAR binary, image folders, NumPy .npy/.npz).
// Every data set is held in memory as images (C×H×W, uint8 or float) plus integer labels; the batch
// loader (netlens/data_loader.h) turns it into normalized, augmented float batches.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace netlens::data {

/** A bad, truncated or unsupported data file; the message names the file, where, and the fix. */
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/**
 * Anything that yields labelled images of one fixed shape. The loader reads samples through this,
 * so a data set kept on disk or decoded lazily can stand behind it as well as an in-memory one.
 */
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t count() const = 0;
  /** {channels, height, width}. */
  virtual std::vector<int64_t> sampleShape() const = 0;
  /** Writes sample `index` as floats (uint8 pixels scaled to [0, 1]) into `image` and returns its label. */
  virtual int64_t readSample(int64_t index, float* image) const = 0;
};

/** An in-memory data set: images (N×C×H×W) as bytes or floats, labels in [0, classNames.size()). */
class Dataset : public SampleSource {
 public:
  std::string name;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<std::string> classNames;
  /** Exactly one of the two holds the pixels: bytes (0..255) or floats (used as they are). */
  std::vector<uint8_t> pixelBytes;
  std::vector<float> pixelFloats;
  std::vector<int64_t> labels;
  /** CIFAR-100's 20 super-classes (empty elsewhere). */
  std::vector<int64_t> coarseLabels;
  std::vector<std::string> coarseClassNames;
  /** Per-channel normalization that suits this data (known statistics, or measured from the pixels). */
  std::vector<float> mean;
  std::vector<float> std;

  int64_t count() const override { return static_cast<int64_t>(labels.size()); }
  std::vector<int64_t> sampleShape() const override { return {channels, height, width}; }
  int64_t readSample(int64_t index, float* image) const override;
  int64_t sampleSize() const { return channels * height * width; }
  /** Counts per class, for balance checks and stratified splits. */
  std::vector<int64_t> classCounts() const;
  /** Sets mean/std from the pixels themselves (for data without published statistics). */
  void measureNormalization();
  /** Checks sizes and label ranges; throws DataError naming `origin`. */
  void validate(const std::string& origin) const;
};

// ---- the embedded default data set ----------------------------------------------------------------

enum class ShapesVariant { Rgb32, Gray28 };

/** The 10 classes, in label order. */
const std::vector<std::string>& shapesClassNames();
/** Fixed sizes of the default data set's splits. */
constexpr int64_t kShapesTrainCount = 10000;
constexpr int64_t kShapesTestCount = 2000;
constexpr uint64_t kShapesDefaultSeed = 20261127;

/**
 * Generates the default data set: `count` images, labels cycling through the 10 classes (so every
 * class has count/10 images), each with a random position, size, colours and noise drawn from an
 * integer generator seeded by `seed`. Integer arithmetic only, so the bytes are the same on every
 * machine and compiler for the same arguments.
 */
Dataset generateShapes(ShapesVariant variant, int64_t count, uint64_t seed);
/** The standard splits: train (10,000) from `seed`, test (2,000) from a seed derived from it. */
Dataset defaultDataset(ShapesVariant variant, bool train, uint64_t seed = kShapesDefaultSeed);
/** FNV-1a over the shape, pixels and labels: a fingerprint for determinism checks. */
uint64_t datasetChecksum(const Dataset& dataset);

// ---- readers --------------------------------------------------------------------------------------

/** MNIST / Fashion-MNIST IDX files (ubyte images N×H×W, ubyte labels N), plain or gzip-compressed. */
Dataset readIdx(const std::string& imagesPath, const std::string& labelsPath, const std::vector<std::string>& classNames = {});
/** Fashion-MNIST's class names. */
const std::vector<std::string>& fashionMnistClassNames();

/**
 * CIFAR binary batches. `classesCount` is 10 (records: label, 3072 pixels) or 100 (coarse label,
 * fine label, 3072 pixels). Class names come from batches.meta.txt / fine_label_names.txt beside the
 * first file when present.
 */
Dataset readCifar(const std::vector<std::string>& paths, int classesCount);

/** Image folder: one sub-folder per class (sorted by name), PNG or JPEG files inside. */
struct FolderOptions {
  /** 1 (gray) or 3 (RGB). */
  int channels = 3;
  /** Resize every image to this size; 0×0 means all images must already share one size. */
  int64_t height = 0;
  int64_t width = 0;
};
Dataset readImageFolder(const std::string& root, const FolderOptions& options);
/**
 * One PNG/JPEG file as a model of height×width input sees it: scaled (bilinear) so it covers the
 * size, then centre-cropped, as Resize + CenterCrop do. Planar C×H×W bytes.
 */
std::vector<uint8_t> readImageForModel(const std::string& path, int channels, int64_t height, int64_t width);
/** Which image formats this build can decode ("png", "jpeg") when their libraries are present. */
std::vector<std::string> imageFormatsCompiledIn();
/** One image format: whether it was compiled in and whether its library (opened at run time) loaded. */
struct ImageFormatStatus {
  std::string format;  // "png" or "jpeg"
  bool compiledIn = false;
  bool available = false;  // compiled in and its library loaded with every symbol needed
  std::string library;     // the soname or path opened (or tried)
  std::string problem;     // why it is not available, with the fix; empty when available
};
/** Every image format's status; the first call opens the codec libraries. */
std::vector<ImageFormatStatus> imageFormatStatus();
/** Whether gzip (.gz IDX) and deflate (.npz from np.savez_compressed) can be read. */
bool zlibCompiledIn();

/** Layout of 4-D image arrays in .npy files; Auto picks NHWC when the last axis is 1, 3 or 4 and the second is larger than 4, else NCHW. */
enum class ArrayLayout { Auto, Nchw, Nhwc };
/** NumPy arrays: images (N×H×W, N×C×H×W or N×H×W×C; uint8 scaled to [0,1], float kept) and labels (N). */
Dataset readNumpy(const std::string& imagesPath, const std::string& labelsPath, ArrayLayout layout = ArrayLayout::Auto);
/** The same from one .npz archive holding both arrays under `imagesKey` and `labelsKey`. */
Dataset readNpz(const std::string& path, const std::string& imagesKey, const std::string& labelsKey,
                ArrayLayout layout = ArrayLayout::Auto);

/** A decoded .npy array: its dtype converted to double for labels or to float for images. */
struct NumpyArray {
  std::string dtype;  // numpy's descr, e.g. "<f4", "|u1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // raw little-endian element bytes, C order
};
NumpyArray parseNpy(const std::vector<uint8_t>& contents, const std::string& origin);
/** Members of a .npz (zip) archive by name without the ".npy" suffix. */
std::vector<std::pair<std::string, std::vector<uint8_t>>> readZipMembers(const std::string& path);

// ---- opening by spec (what the binding and the CLI pass) ------------------------------------------

struct DatasetSpec {
  /** "default" | "idx" | "cifar" | "folder" | "npy". */
  std::string kind = "default";
  std::vector<std::string> paths;
  /** default: "shapes32" | "shapes28"; idx: "mnist" | "fashion"; cifar: "cifar10" | "cifar100". */
  std::string variant;
  /** "train" | "test": picks the default data set's split, and the files inside a directory path. */
  std::string split = "train";
  uint64_t seed = kShapesDefaultSeed;
  /** Image folders: channels and resize. Default data set: a larger size pads each image with zeros, centred (28×28 → 32×32 for LeNet-5). */
  FolderOptions folder;
  ArrayLayout layout = ArrayLayout::Auto;
  std::string imagesKey = "x";
  std::string labelsKey = "y";
  std::vector<std::string> classNames;
};
std::shared_ptr<const Dataset> openDataset(const DatasetSpec& spec);

// ---- validation split -----------------------------------------------------------------------------

struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};
/**
 * Holds out round(fraction·N) samples, chosen by a seeded shuffle. Stratified: each class gives the
 * same fraction (rounded per class, so the class mix of both parts matches the whole); otherwise
 * the held-out samples are drawn from the whole set regardless of class. Indices come back sorted.
 */
SplitIndices splitValidation(const Dataset& dataset, double fraction, uint64_t seed, bool stratified);

}  // namespace netlens::data
