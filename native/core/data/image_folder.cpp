// Image folders (one sub-folder per class, like torchvision's ImageFolder): PNG through libpng's
// simplified API, JPEG through libjpeg(-turbo). Each is compiled in only when its headers were found,
// and its library is opened with dlopen at first use, never linked: a machine without libpng (or with
// another libjpeg ABI) still loads the add-on, and only that format reports what is missing.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "dynlib.h"
#include "file_bytes.h"
#include "netlens/data.h"

#if NETLENS_WITH_PNG
#include <png.h>
#endif
#if NETLENS_WITH_JPEG
#include <csetjmp>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#endif

namespace netlens::data {
namespace {

struct DecodedImage {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // interleaved H×W×C
};

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

#if NETLENS_WITH_PNG
// libpng16.so.16 is the soname of every libpng 1.6, whose ABI is stable across its point releases.
constexpr const char* kPngSoname = "libpng16.so.16";
constexpr const char* kPngInstallHint =
    "install libpng 1.6 (Debian/Ubuntu: apt-get install libpng16-16, named libpng16-16t64 on newer releases; "
    "Fedora: dnf install libpng) or set NETLENS_LIBPNG to the path of a libpng16.so.16";

struct PngApi {
  SharedLibrary library{{kPngSoname}, "NETLENS_LIBPNG"};
  decltype(&png_access_version_number) versionNumber = nullptr;
  decltype(&png_image_begin_read_from_memory) beginReadFromMemory = nullptr;
  decltype(&png_image_finish_read) finishRead = nullptr;
  decltype(&png_image_free) free = nullptr;

  PngApi() {
    if (!library.usable()) return;
    if (!library.bind(versionNumber, "png_access_version_number") || !library.bind(beginReadFromMemory, "png_image_begin_read_from_memory") ||
        !library.bind(finishRead, "png_image_finish_read") || !library.bind(free, "png_image_free")) {
      return;
    }
    // png_image's layout is fixed within a minor series (1.6.x), which is what the soname promises;
    // check it anyway, since NETLENS_LIBPNG can point at any file.
    const unsigned long version = versionNumber();
    if (version / 100 != PNG_LIBPNG_VER / 100) {
      library.reject(library.name() + " is libpng " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) +
                     ", but this engine was built for libpng " + PNG_LIBPNG_VER_STRING);
    }
  }
};

const PngApi& pngApi() {
  static const PngApi api;  // opened once, on first use, by whichever thread gets here first
  return api;
}

DecodedImage decodePng(const std::vector<uint8_t>& bytes, int channels, const std::string& path) {
  const PngApi& png = pngApi();
  if (!png.library.usable()) {
    throw DataError(path + ": cannot read PNG: " + kPngSoname + " is not usable (" + png.library.problem() + "); " + kPngInstallHint);
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png.beginReadFromMemory(&image, bytes.data(), bytes.size())) {
    const std::string reason = image.message;
    png.free(&image);
    throw DataError(path + ": unreadable PNG (" + reason + "); re-export the image");
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  DecodedImage decoded;
  decoded.channels = channels;
  decoded.height = image.height;
  decoded.width = image.width;
  decoded.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png.finishRead(&image, nullptr, decoded.pixels.data(), 0, nullptr)) {
    const std::string reason = image.message;
    png.free(&image);
    throw DataError(path + ": unreadable PNG (" + reason + "); the file is truncated or corrupt, re-export it");
  }
  return decoded;
}
#endif

#if NETLENS_WITH_JPEG
// libjpeg's ABI follows JPEG_LIB_VERSION (62, 70, 80, 90): the structs this file allocates differ in
// layout between them, so only the soname matching the headers used at build time may be opened.
#define NETLENS_JPEG_STRINGIFY_(x) #x
#define NETLENS_JPEG_STRINGIFY(x) NETLENS_JPEG_STRINGIFY_(x)
#if JPEG_LIB_VERSION == 62
constexpr const char* kJpegSoname = "libjpeg.so.62";
constexpr const char* kJpegPackages = "Debian: apt-get install libjpeg62-turbo; Ubuntu: apt-get install libjpeg62; Fedora: dnf install libjpeg-turbo";
#elif JPEG_LIB_VERSION == 80
constexpr const char* kJpegSoname = "libjpeg.so.8";
constexpr const char* kJpegPackages = "Ubuntu: apt-get install libjpeg-turbo8; Debian: apt-get install libjpeg8";
#elif JPEG_LIB_VERSION == 70
constexpr const char* kJpegSoname = "libjpeg.so.7";
constexpr const char* kJpegPackages = "install the libjpeg 7 runtime package of your distribution";
#elif JPEG_LIB_VERSION == 90
constexpr const char* kJpegSoname = "libjpeg.so.9";
constexpr const char* kJpegPackages = "Debian/Ubuntu: apt-get install libjpeg9";
#else
#error "unknown JPEG_LIB_VERSION: add its soname and packages here"
#endif

struct JpegApi {
  SharedLibrary library{{kJpegSoname}, "NETLENS_LIBJPEG"};
  decltype(&jpeg_std_error) stdError = nullptr;
  decltype(&jpeg_CreateDecompress) createDecompress = nullptr;
  decltype(&jpeg_mem_src) memorySource = nullptr;
  decltype(&jpeg_read_header) readHeader = nullptr;
  decltype(&jpeg_start_decompress) startDecompress = nullptr;
  decltype(&jpeg_read_scanlines) readScanlines = nullptr;
  decltype(&jpeg_finish_decompress) finishDecompress = nullptr;
  decltype(&jpeg_destroy_decompress) destroyDecompress = nullptr;

  // A library of another ABI is still caught at decode time: jpeg_CreateDecompress compares the
  // JPEG_LIB_VERSION and struct size it is given with its own and fails through error_exit.
  JpegApi() {
    if (!library.usable()) return;
    library.bind(stdError, "jpeg_std_error") && library.bind(createDecompress, "jpeg_CreateDecompress") &&
        library.bind(memorySource, "jpeg_mem_src") && library.bind(readHeader, "jpeg_read_header") &&
        library.bind(startDecompress, "jpeg_start_decompress") && library.bind(readScanlines, "jpeg_read_scanlines") &&
        library.bind(finishDecompress, "jpeg_finish_decompress") && library.bind(destroyDecompress, "jpeg_destroy_decompress");
  }
};

const JpegApi& jpegApi() {
  static const JpegApi api;  // opened once, on first use, by whichever thread gets here first
  return api;
}

std::string jpegInstallHint() {
  return std::string("this engine was built against libjpeg ABI " NETLENS_JPEG_STRINGIFY(JPEG_LIB_VERSION) " and never opens another ABI; install it (") +
         kJpegPackages + ") or set NETLENS_LIBJPEG to the path of a " + kJpegSoname;
}

struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// Called by the library through the error manager's function pointers, so it needs C linkage and
// must not return: it jumps back to decodeJpegInto's setjmp, across the library's frames (which
// hold no C++ objects, so skipping them is sound).
extern "C" void netlensJpegErrorExit(j_common_ptr info) {
  JpegErrorManager* manager = reinterpret_cast<JpegErrorManager*>(info->err);
  (*info->err->format_message)(info, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings (e.g. "premature end of data") would otherwise go to stderr and leave gray rows; treat as errors.
extern "C" void netlensJpegEmitMessage(j_common_ptr info, int level) {
  if (level < 0) netlensJpegErrorExit(info);
}

/**
 * Decodes into `pixels` (resized here); false with `message` set on failure. Kept free of objects with
 * destructors between setjmp and the calls that may longjmp back to it.
 */
bool decodeJpegInto(const JpegApi& jpeg, const std::vector<uint8_t>& bytes, int channels, std::vector<uint8_t>& pixels, int64_t& height,
                    int64_t& width, char* message) {
  jpeg_decompress_struct info;
  JpegErrorManager errors;
  info.err = jpeg.stdError(&errors.base);
  errors.base.error_exit = netlensJpegErrorExit;
  errors.base.emit_message = netlensJpegEmitMessage;
  errors.message[0] = '\0';
  if (setjmp(errors.jump)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
    jpeg.destroyDecompress(&info);
    return false;
  }
  // What the jpeg_create_decompress macro expands to; the version and size let the library refuse a mismatch.
  jpeg.createDecompress(&info, JPEG_LIB_VERSION, sizeof(info));
  jpeg.memorySource(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg.readHeader(&info, TRUE);
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg.startDecompress(&info);
  height = info.output_height;
  width = info.output_width;
  const size_t stride = static_cast<size_t>(info.output_width) * static_cast<size_t>(info.output_components);
  pixels.resize(stride * info.output_height);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = pixels.data() + stride * info.output_scanline;
    jpeg.readScanlines(&info, &row, 1);
  }
  jpeg.finishDecompress(&info);
  jpeg.destroyDecompress(&info);
  return true;
}

DecodedImage decodeJpeg(const std::vector<uint8_t>& bytes, int channels, const std::string& path) {
  const JpegApi& jpeg = jpegApi();
  if (!jpeg.library.usable()) {
    throw DataError(path + ": cannot read JPEG: " + kJpegSoname + " is not usable (" + jpeg.library.problem() + "); " + jpegInstallHint());
  }
  DecodedImage decoded;
  decoded.channels = channels;
  char message[JMSG_LENGTH_MAX] = {0};
  if (!decodeJpegInto(jpeg, bytes, channels, decoded.pixels, decoded.height, decoded.width, message)) {
    throw DataError(path + ": unreadable JPEG (" + message + "); the file is truncated or corrupt, re-export it");
  }
  return decoded;
}
#endif

DecodedImage decodeImage(const std::string& path, [[maybe_unused]] int channels) {
  const std::string extension = lowercase(std::filesystem::path(path).extension().string());
  const std::vector<uint8_t> bytes = readFileBytes(path);
  if (extension == ".png") {
#if NETLENS_WITH_PNG
    return decodePng(bytes, channels, path);
#else
    throw DataError(path + ": PNG support was not compiled in (libpng was not found when the engine was built; install libpng-dev and rebuild)");
#endif
  }
#if NETLENS_WITH_JPEG
  return decodeJpeg(bytes, channels, path);
#else
  throw DataError(path + ": JPEG support was not compiled in (libjpeg was not found when the engine was built; install libjpeg62-turbo-dev and rebuild)");
#endif
}

/** Bilinear resize of interleaved pixels, sampling at pixel centres (as PyTorch's align_corners=False). */
std::vector<uint8_t> resizeBilinear(const DecodedImage& image, int64_t height, int64_t width) {
  std::vector<uint8_t> result(static_cast<size_t>(height * width * image.channels));
  const double scaleY = static_cast<double>(image.height) / static_cast<double>(height);
  const double scaleX = static_cast<double>(image.width) / static_cast<double>(width);
  for (int64_t y = 0; y < height; ++y) {
    const double sourceY = std::clamp((y + 0.5) * scaleY - 0.5, 0.0, static_cast<double>(image.height - 1));
    const int64_t y0 = static_cast<int64_t>(sourceY);
    const int64_t y1 = std::min(y0 + 1, image.height - 1);
    const double fy = sourceY - static_cast<double>(y0);
    for (int64_t x = 0; x < width; ++x) {
      const double sourceX = std::clamp((x + 0.5) * scaleX - 0.5, 0.0, static_cast<double>(image.width - 1));
      const int64_t x0 = static_cast<int64_t>(sourceX);
      const int64_t x1 = std::min(x0 + 1, image.width - 1);
      const double fx = sourceX - static_cast<double>(x0);
      for (int64_t c = 0; c < image.channels; ++c) {
        const auto at = [&](int64_t row, int64_t column) {
          return static_cast<double>(image.pixels[static_cast<size_t>((row * image.width + column) * image.channels + c)]);
        };
        const double top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const double bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        result[static_cast<size_t>((y * width + x) * image.channels + c)] =
            static_cast<uint8_t>(std::lround(std::clamp(top * (1 - fy) + bottom * fy, 0.0, 255.0)));
      }
    }
  }
  return result;
}

bool isImageFile(const std::filesystem::path& path) {
  const std::string extension = lowercase(path.extension().string());
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

}  // namespace

std::vector<std::string> imageFormatsCompiledIn() {
  std::vector<std::string> formats;
#if NETLENS_WITH_PNG
  formats.push_back("png");
#endif
#if NETLENS_WITH_JPEG
  formats.push_back("jpeg");
#endif
  return formats;
}

std::vector<ImageFormatStatus> imageFormatStatus() {
  std::vector<ImageFormatStatus> statuses;
  ImageFormatStatus png;
  png.format = "png";
#if NETLENS_WITH_PNG
  png.compiledIn = true;
  png.library = pngApi().library.name();
  png.available = pngApi().library.usable();
  if (!png.available) png.problem = pngApi().library.problem() + "; " + kPngInstallHint;
#else
  png.library = "libpng16.so.16";
  png.problem = "not compiled in: libpng's headers were not found when the engine was built (install libpng-dev and rebuild)";
#endif
  statuses.push_back(png);
  ImageFormatStatus jpeg;
  jpeg.format = "jpeg";
#if NETLENS_WITH_JPEG
  jpeg.compiledIn = true;
  jpeg.library = jpegApi().library.name();
  jpeg.available = jpegApi().library.usable();
  if (!jpeg.available) jpeg.problem = jpegApi().library.problem() + "; " + jpegInstallHint();
#else
  jpeg.library = "libjpeg";
  jpeg.problem = "not compiled in: libjpeg's headers were not found when the engine was built (install libjpeg62-turbo-dev and rebuild)";
#endif
  statuses.push_back(jpeg);
  return statuses;
}

std::vector<uint8_t> readImageForModel(const std::string& path, int channels, int64_t height, int64_t width) {
  if (channels != 1 && channels != 3) throw DataError(path + ": channels must be 1 or 3, not " + std::to_string(channels));
  if (height <= 0 || width <= 0) throw DataError(path + ": the target size must be positive");
  const DecodedImage image = decodeImage(path, channels);
  // The smaller scale that still covers the target in both directions; the overhang is cropped.
  const double scale = std::max(static_cast<double>(height) / static_cast<double>(image.height),
                                static_cast<double>(width) / static_cast<double>(image.width));
  const int64_t scaledHeight = std::max<int64_t>(height, std::llround(static_cast<double>(image.height) * scale));
  const int64_t scaledWidth = std::max<int64_t>(width, std::llround(static_cast<double>(image.width) * scale));
  const std::vector<uint8_t> scaled =
      scaledHeight == image.height && scaledWidth == image.width ? image.pixels : resizeBilinear(image, scaledHeight, scaledWidth);
  const int64_t top = (scaledHeight - height) / 2;
  const int64_t left = (scaledWidth - width) / 2;
  const int64_t plane = height * width;
  std::vector<uint8_t> planar(static_cast<size_t>(plane * channels));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        planar[static_cast<size_t>(c * plane + y * width + x)] =
            scaled[static_cast<size_t>(((y + top) * scaledWidth + (x + left)) * channels + c)];
      }
    }
  }
  return planar;
}

Dataset readImageFolder(const std::string& root, const FolderOptions& options) {
  namespace fs = std::filesystem;
  if (options.channels != 1 && options.channels != 3) throw DataError(root + ": channels must be 1 or 3, not " + std::to_string(options.channels));
  if ((options.height > 0) != (options.width > 0) || options.height < 0 || options.width < 0) {
    throw DataError(root + ": size must give both a positive height and width");
  }
  if (!isDirectory(root)) throw DataError(root + ": not a folder; an image folder holds one sub-folder of images per class");
  std::vector<fs::path> classFolders;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    if (entry.is_directory() && entry.path().filename().string()[0] != '.') classFolders.push_back(entry.path());
  }
  if (error) throw DataError(root + ": cannot list (" + error.message() + ")");
  std::sort(classFolders.begin(), classFolders.end());
  if (classFolders.empty()) {
    throw DataError(root + ": has no class sub-folders; put each class's images in their own folder (root/cat/1.png, root/dog/2.jpg)");
  }
  Dataset dataset;
  dataset.name = fs::path(root).filename().string();
  dataset.channels = options.channels;
  dataset.height = options.height;
  dataset.width = options.width;
  std::string sizeSource;
  for (size_t classIndex = 0; classIndex < classFolders.size(); ++classIndex) {
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(classFolders[classIndex], error)) {
      if (entry.is_regular_file() && isImageFile(entry.path())) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      throw DataError(classFolders[classIndex].string() + ": class folder holds no .png/.jpg/.jpeg images; add images or remove the folder");
    }
    dataset.classNames.push_back(classFolders[classIndex].filename().string());
    for (const fs::path& file : files) {
      const DecodedImage image = decodeImage(file.string(), options.channels);
      if (dataset.height == 0) {
        dataset.height = image.height;
        dataset.width = image.width;
        sizeSource = file.string();
      }
      std::vector<uint8_t> interleaved;
      if (image.height == dataset.height && image.width == dataset.width) {
        interleaved = image.pixels;
      } else if (options.height > 0) {
        interleaved = resizeBilinear(image, dataset.height, dataset.width);
      } else {
        throw DataError(file.string() + ": is " + std::to_string(image.width) + "×" + std::to_string(image.height) + " but " + sizeSource +
                        " is " + std::to_string(dataset.width) + "×" + std::to_string(dataset.height) +
                        "; images differ in size, so give a size (options.size: [height, width]) to resize them all");
      }
      // Interleaved H×W×C to planar C×H×W.
      const int64_t plane = dataset.height * dataset.width;
      const size_t start = dataset.pixelBytes.size();
      dataset.pixelBytes.resize(start + static_cast<size_t>(plane * dataset.channels));
      for (int64_t i = 0; i < plane; ++i) {
        for (int64_t c = 0; c < dataset.channels; ++c) {
          dataset.pixelBytes[start + static_cast<size_t>(c * plane + i)] = interleaved[static_cast<size_t>(i * dataset.channels + c)];
        }
      }
      dataset.labels.push_back(static_cast<int64_t>(classIndex));
    }
  }
  dataset.measureNormalization();
  dataset.validate(root);
  return dataset;
}

}  // namespace netlens::data
