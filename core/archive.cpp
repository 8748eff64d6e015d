#include "core/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cereal/archives/portable_binary.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace qkv {

ArchiveWriter::ArchiveWriter() : ar_(std::make_unique<cereal::PortableBinaryOutputArchive>(os_)) {}
ArchiveWriter::~ArchiveWriter() = default;

// Bytes go through cereal as chars: binary_data's element size must be sizeof(char), not sizeof(void).
void ArchiveWriter::raw(const void* data, uint64_t n) {
  (*ar_)(cereal::binary_data(static_cast<char*>(const_cast<void*>(data)), n));
}
void ArchiveWriter::u8(uint8_t v) { (*ar_)(v); }
void ArchiveWriter::i32(int32_t v) { (*ar_)(v); }
void ArchiveWriter::u32(uint32_t v) { (*ar_)(v); }
void ArchiveWriter::i64(int64_t v) { (*ar_)(v); }
void ArchiveWriter::u64(uint64_t v) { (*ar_)(v); }
void ArchiveWriter::f32(float v) { (*ar_)(v); }
void ArchiveWriter::f64(double v) { (*ar_)(v); }
void ArchiveWriter::str(std::string_view s) {
  u64(s.size());
  raw(s.data(), s.size());
}
void ArchiveWriter::floats(const float* data, int64_t n) {
  u64(static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) f32(data[i]);  // element-wise, so the portable archive fixes the byte order
}
void ArchiveWriter::i32s(const std::vector<int32_t>& v) {
  u64(v.size());
  for (int32_t x : v) i32(x);
}
std::string ArchiveWriter::bytes() { return os_.str(); }

ArchiveReader::ArchiveReader(std::string bytes, std::string source)
    : source_(std::move(source)), size_(bytes.size()), is_(std::move(bytes)) {
  // The portable archive reads a one-byte endianness tag first.
  need(1, "archive header");
  ar_ = std::make_unique<cereal::PortableBinaryInputArchive>(is_);
  offset_ = 1;
}
ArchiveReader::~ArchiveReader() = default;

void ArchiveReader::need(uint64_t n, const char* what) {
  QKV_CHECK(n <= size_ - offset_, source_, ": truncated or corrupted at byte ", offset_, ": reading ", what, " needs ",
            n, " bytes, ", size_ - offset_, " remain");
}

template <class T>
T ArchiveReader::value(const char* what) {
  need(sizeof(T), what);
  T v{};
  (*ar_)(v);
  offset_ += sizeof(T);
  return v;
}

uint8_t ArchiveReader::u8(const char* what) { return value<uint8_t>(what); }
int32_t ArchiveReader::i32(const char* what) { return value<int32_t>(what); }
uint32_t ArchiveReader::u32(const char* what) { return value<uint32_t>(what); }
int64_t ArchiveReader::i64(const char* what) { return value<int64_t>(what); }
uint64_t ArchiveReader::u64(const char* what) { return value<uint64_t>(what); }
float ArchiveReader::f32(const char* what) { return value<float>(what); }
double ArchiveReader::f64(const char* what) { return value<double>(what); }

uint64_t ArchiveReader::length(uint64_t element_size, const char* what) {
  uint64_t n = u64(what);
  QKV_CHECK(n <= (size_ - offset_) / element_size, source_, ": corrupted at byte ", offset_ - 8, ": ", what,
            " declares ", n, " elements of ", element_size, " bytes but only ", size_ - offset_, " bytes remain");
  return n;
}

void ArchiveReader::raw(void* data, uint64_t n) {
  (*ar_)(cereal::binary_data(static_cast<char*>(data), n));
  offset_ += n;
}

std::string ArchiveReader::str(const char* what) {
  std::string s(length(1, what), '\0');
  raw(s.data(), s.size());
  return s;
}

std::vector<float> ArchiveReader::floats(const char* what) {
  std::vector<float> v(length(sizeof(float), what));
  for (float& x : v) x = value<float>(what);
  return v;
}

std::vector<int32_t> ArchiveReader::i32s(const char* what) {
  std::vector<int32_t> v(length(sizeof(int32_t), what));
  for (int32_t& x : v) x = value<int32_t>(what);
  return v;
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  QKV_CHECK(std::filesystem::exists(path, ec), path, ": no such file");
  QKV_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  QKV_CHECK(in.good(), path, ": cannot be opened for reading (permission?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  QKV_CHECK(!in.bad(), path, ": read error");
  return ss.str();
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  QKV_CHECK(fd >= 0, tmp, ": cannot be opened for writing");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      QKV_FAIL(tmp, ": write failed after ", done, " bytes (disk full?)");
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    ::unlink(tmp.c_str());
    QKV_FAIL(tmp, ": could not be flushed to disk");
  }
  QKV_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
}

}  // namespace qkv
