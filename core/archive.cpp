#include "core/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cereal/archives/portable_binary.hpp>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace qkv {

ArchiveWriter::ArchiveWriter() : ar_(std::make_unique<cereal::PortableBinaryOutputArchive>(os_)) {}
ArchiveWriter::ArchiveWriter(std::ostream& out) : ar_(std::make_unique<cereal::PortableBinaryOutputArchive>(out)) {}
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
std::string ArchiveWriter::take() && {
  ar_.reset();
  return std::move(os_).str();
}

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

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {
// The checks of read_file and hash_file, so both name the same problems the same way.
std::ifstream open_for_reading(const std::string& path) {
  std::error_code ec;
  QKV_CHECK(std::filesystem::exists(path, ec), path, ": no such file");
  QKV_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  QKV_CHECK(in.good(), path, ": cannot be opened for reading (permission?)");
  return in;
}
}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  QKV_CHECK(!in.bad(), path, ": read error");
  return ss.str();
}

FileHash hash_file(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  FileHash out{0, kFnv1a64Basis};
  std::string chunk(1 << 20, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize n = in.gcount();
    out.size += static_cast<uint64_t>(n);
    out.fnv1a64 = fnv1a64(std::string_view(chunk.data(), static_cast<size_t>(n)), out.fnv1a64);
  }
  QKV_CHECK(!in.bad(), path, ": read error");
  return out;
}

WriteFault write_fault_from_env() {
  const char* env = std::getenv("QKV_FAULT");
  std::string_view spec = env ? env : "";
  WriteFault f;
  if (spec.empty()) return f;
  const std::pair<std::string_view, WriteFault::Kind> kinds[] = {{"kill_after_bytes:", WriteFault::Kind::kKill},
                                                                 {"enospc_after_bytes:", WriteFault::Kind::kEnospc}};
  for (const auto& [prefix, kind] : kinds) {
    if (spec.substr(0, prefix.size()) != prefix) continue;
    std::string_view n = spec.substr(prefix.size());
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), f.after_bytes);
    if (ec == std::errc() && end == n.data() + n.size() && !n.empty()) {
      f.kind = kind;
      return f;
    }
  }
  QKV_FAIL("QKV_FAULT=\"", spec,
           "\": expected kill_after_bytes:N or enospc_after_bytes:N with N a byte count (a test hook; unset it "
           "for normal runs)");
}

namespace {

// Removes the partial PATH.tmp and reports why the write failed; PATH itself was not touched.
[[noreturn]] void fail_write(int fd, const std::string& path, const std::string& tmp, const char* doing, int err,
                             size_t done, size_t total) {
  if (fd >= 0) ::close(fd);
  ::unlink(tmp.c_str());
  QKV_FAIL("cannot write ", path, ": ", doing, " ", tmp, " failed after ", done, " of ", total,
           " bytes: ", std::strerror(err), "; ", path, " is unchanged");
}

// NOTE [fault hook]: fires exactly when `done` reaches the fault's byte count.
void maybe_inject(const WriteFault& fault, size_t done, int fd, const std::string& path, const std::string& tmp,
                  size_t total) {
  if (fault.kind == WriteFault::Kind::kNone || done != fault.after_bytes) return;
  if (fault.kind == WriteFault::Kind::kKill) {
    ::kill(::getpid(), SIGKILL);
    std::abort();  // not reached: SIGKILL cannot be caught
  }
  fail_write(fd, path, tmp, "writing", ENOSPC, done, total);
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes, bool faults) {
  write_file_atomic(path, std::initializer_list<std::string_view>{bytes}, faults);
}

void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts, bool faults) {
  uint64_t total = 0;
  for (std::string_view p : parts) total += p.size();
  AtomicFile file(path, total, faults);
  for (std::string_view p : parts) file.write(p.data(), p.size());
  file.commit();
}

namespace {
constexpr size_t kFileBuffer = size_t{1} << 20;
}  // namespace

AtomicFile::AtomicFile(const std::string& path, uint64_t total, bool faults)
    : path_(path), tmp_(path + ".tmp"), total_(total), fault_(faults ? write_fault_from_env() : WriteFault{}) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) fail_write(-1, path_, tmp_, "opening", errno, 0, total_);
  buffer_.reserve(kFileBuffer);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;  // committed, or a failure already cleaned up
  ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(const char* data, size_t n) {
  if (buffer_.size() + n > kFileBuffer) flush_buffer();
  if (n >= kFileBuffer) return put(data, n);  // a large piece goes to the file as it is
  buffer_.insert(buffer_.end(), data, data + n);
}

void AtomicFile::flush_buffer() {
  put(buffer_.data(), buffer_.size());
  buffer_.clear();
}

// Writes n bytes at the file's end, stopping exactly at the fault's offset (NOTE [fault hook]).
void AtomicFile::put(const char* p, size_t n) {
  for (;;) {
    const int fd = fd_;
    fd_ = -1;  // a failure below closes the file and removes PATH.tmp itself
    maybe_inject(fault_, done_, fd, path_, tmp_, total_);
    fd_ = fd;
    if (n == 0) return;
    size_t chunk = n;
    if (fault_.kind != WriteFault::Kind::kNone && fault_.after_bytes > done_)
      chunk = std::min<size_t>(chunk, fault_.after_bytes - done_);
    ssize_t w = ::write(fd_, p, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int err = errno;
      fd_ = -1;
      fail_write(fd, path_, tmp_, "writing", err, done_, total_);
    }
    done_ += static_cast<size_t>(w);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  flush_buffer();
  const int fd = fd_;
  fd_ = -1;
  if (done_ != total_) {  // a writer that announced one size and wrote another: never rename such a file
    ::close(fd);
    ::unlink(tmp_.c_str());
    QKV_FAIL("cannot write ", path_, ": ", done_, " bytes written where ", total_, " were announced; ", path_,
             " is unchanged");
  }
  if (::fsync(fd) != 0) fail_write(fd, path_, tmp_, "flushing", errno, done_, total_);
  if (::close(fd) != 0) fail_write(-1, path_, tmp_, "closing", errno, done_, total_);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    QKV_FAIL("cannot rename ", tmp_, " to ", path_, ": ", std::strerror(err), "; ", path_, " is unchanged");
  }
}

AtomicFile::int_type AtomicFile::overflow(int_type c) {
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    const char ch = traits_type::to_char_type(c);
    write(&ch, 1);
  }
  return traits_type::not_eof(c);
}

std::streamsize AtomicFile::xsputn(const char* s, std::streamsize n) {
  write(s, static_cast<size_t>(n));
  return n;
}

HashingSink::int_type HashingSink::overflow(int_type c) {
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    const char ch = traits_type::to_char_type(c);
    xsputn(&ch, 1);
  }
  return traits_type::not_eof(c);
}

std::streamsize HashingSink::xsputn(const char* s, std::streamsize n) {
  hash_ = fnv1a64(std::string_view(s, static_cast<size_t>(n)), hash_);
  size_ += static_cast<uint64_t>(n);
  return n;
}

}  // namespace qkv
