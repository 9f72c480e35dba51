// Whole-file reads and zlib decompression for the data readers.
#include "file_bytes.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "netlens/data.h"

#if NETLENS_WITH_ZLIB
#include <zlib.h>
#endif

namespace netlens::data {

std::vector<uint8_t> readFileBytes(const std::string& path) {
  if (isDirectory(path)) throw DataError(path + ": is a directory, expected a file");
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw DataError(path + ": cannot open (" + std::strerror(errno) + "); check the path and its permissions");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw DataError(path + ": read error after " + std::to_string(bytes.size()) + " bytes");
  return bytes;
}

#if NETLENS_WITH_ZLIB
bool zlibCompiledIn() { return true; }
#else
bool zlibCompiledIn() { return false; }
#endif

bool isGzip(const std::vector<uint8_t>& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

#if NETLENS_WITH_ZLIB
namespace {

std::vector<uint8_t> inflateWith(int windowBits, const uint8_t* data, size_t size, size_t sizeHint, const std::string& origin,
                                 const char* what) {
  z_stream stream{};
  if (inflateInit2(&stream, windowBits) != Z_OK) throw DataError(origin + ": zlib could not start " + what);
  std::vector<uint8_t> output(sizeHint > 0 ? sizeHint : size * 4 + 1024);
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  size_t produced = 0;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (produced == output.size()) output.resize(output.size() * 2);
    stream.next_out = output.data() + produced;
    stream.avail_out = static_cast<uInt>(output.size() - produced);
    status = inflate(&stream, Z_NO_FLUSH);
    produced = output.size() - stream.avail_out;
    if (status == Z_STREAM_END) break;
    if (status == Z_BUF_ERROR && stream.avail_in == 0) {
      inflateEnd(&stream);
      throw DataError(origin + ": " + what + " stream is truncated after " + std::to_string(stream.total_in) +
                      " compressed bytes; the download was probably cut short, fetch the file again");
    }
    if (status != Z_OK && status != Z_BUF_ERROR) {
      const std::string reason = stream.msg ? stream.msg : "corrupt data";
      inflateEnd(&stream);
      throw DataError(origin + ": " + what + " data is corrupt at compressed byte " + std::to_string(stream.total_in) +
                      " (" + reason + "); fetch the file again");
    }
  }
  inflateEnd(&stream);
  output.resize(produced);
  return output;
}

}  // namespace

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& bytes, const std::string& origin) {
  // 16 + MAX_WBITS: expect a gzip header and trailer.
  return inflateWith(16 + MAX_WBITS, bytes.data(), bytes.size(), 0, origin, "gzip");
}

std::vector<uint8_t> inflateRaw(const uint8_t* data, size_t size, size_t expectedSize, const std::string& origin) {
  std::vector<uint8_t> output = inflateWith(-MAX_WBITS, data, size, expectedSize + 1, origin, "deflate");
  if (output.size() != expectedSize) {
    throw DataError(origin + ": deflate data gives " + std::to_string(output.size()) + " bytes, the archive says " +
                    std::to_string(expectedSize) + "; the archive is corrupt");
  }
  return output;
}
#else
std::vector<uint8_t> gunzip(const std::vector<uint8_t>&, const std::string& origin) {
  throw DataError(origin + ": gzip-compressed, but this build has no zlib (not compiled in); decompress it with `gunzip` first");
}
std::vector<uint8_t> inflateRaw(const uint8_t*, size_t, size_t, const std::string& origin) {
  throw DataError(origin + ": deflate-compressed, but this build has no zlib (not compiled in); save it with np.savez (stored) instead");
}
#endif

std::vector<uint8_t> readMaybeGzip(const std::string& path) {
  std::vector<uint8_t> bytes = readFileBytes(path);
  return isGzip(bytes) ? gunzip(bytes, path) : bytes;
}

uint32_t readBigEndian32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}
uint32_t readLittleEndian32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} | (uint32_t{bytes[1]} << 8) | (uint32_t{bytes[2]} << 16) | (uint32_t{bytes[3]} << 24);
}
uint16_t readLittleEndian16(const uint8_t* bytes) { return static_cast<uint16_t>(bytes[0] | (bytes[1] << 8)); }
uint64_t readLittleEndian64(const uint8_t* bytes) {
  return uint64_t{readLittleEndian32(bytes)} | (uint64_t{readLittleEndian32(bytes + 4)} << 32);
}

std::string baseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string directoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}
bool isDirectory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}
bool isRegularFile(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace netlens::data
