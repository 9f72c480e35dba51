// Reading whole data files, gzip included, and the error text every reader shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace netlens::data {

/** The file's bytes; DataError naming the path when it cannot be opened or read. */
std::vector<uint8_t> readFileBytes(const std::string& path);
/** True when the bytes start with the gzip magic (1f 8b). */
bool isGzip(const std::vector<uint8_t>& bytes);
/** Decompresses a gzip stream (zlib); DataError naming `origin` when corrupt or zlib is not compiled in. */
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& bytes, const std::string& origin);
/** Decompresses raw deflate data (zip members) of known output size. */
std::vector<uint8_t> inflateRaw(const uint8_t* data, size_t size, size_t expectedSize, const std::string& origin);
/** readFileBytes, then gunzip when the file is gzip-compressed. */
std::vector<uint8_t> readMaybeGzip(const std::string& path);
/** Big- and little-endian reads from a byte buffer (the caller checks bounds). */
uint32_t readBigEndian32(const uint8_t* bytes);
uint32_t readLittleEndian32(const uint8_t* bytes);
uint16_t readLittleEndian16(const uint8_t* bytes);
uint64_t readLittleEndian64(const uint8_t* bytes);
/** The last path component, for messages about files in a list. */
std::string baseName(const std::string& path);
std::string directoryOf(const std::string& path);
bool isDirectory(const std::string& path);
bool isRegularFile(const std::string& path);

}  // namespace netlens::data
