// Image folders (one sub-folder per class, like torchvision's ImageFolder): PNG through libpng's
// simplified API, JPEG through libjpeg(-turbo), each compiled in only when its library was found.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

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
DecodedImage decodePng(const std::vector<uint8_t>& bytes, int channels, const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    const std::string reason = image.message;
    png_image_free(&image);
    throw DataError(path + ": unreadable PNG (" + reason + "); re-export the image");
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  DecodedImage decoded;
  decoded.channels = channels;
  decoded.height = image.height;
  decoded.width = image.width;
  decoded.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, decoded.pixels.data(), 0, nullptr)) {
    const std::string reason = image.message;
    png_image_free(&image);
    throw DataError(path + ": unreadable PNG (" + reason + "); the file is truncated or corrupt, re-export it");
  }
  return decoded;
}
#endif

#if NETLENS_WITH_JPEG
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

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
bool decodeJpegInto(const std::vector<uint8_t>& bytes, int channels, std::vector<uint8_t>& pixels, int64_t& height, int64_t& width,
                    char* message) {
  jpeg_decompress_struct info;
  JpegErrorManager errors;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = netlensJpegErrorExit;
  errors.base.emit_message = netlensJpegEmitMessage;
  errors.message[0] = '\0';
  if (setjmp(errors.jump)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  height = info.output_height;
  width = info.output_width;
  const size_t stride = static_cast<size_t>(info.output_width) * static_cast<size_t>(info.output_components);
  pixels.resize(stride * info.output_height);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = pixels.data() + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

DecodedImage decodeJpeg(const std::vector<uint8_t>& bytes, int channels, const std::string& path) {
  DecodedImage decoded;
  decoded.channels = channels;
  char message[JMSG_LENGTH_MAX] = {0};
  if (!decodeJpegInto(bytes, channels, decoded.pixels, decoded.height, decoded.width, message)) {
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
