// Checked binary archives over cereal: fixed-width values, and lengths checked before anything is allocated.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cereal {
class PortableBinaryOutputArchive;
class PortableBinaryInputArchive;
}  // namespace cereal

namespace qkv {

// NOTE [archives]: cereal writes the fixed-width values (little-endian, portable); lengths are uint64 and
// every length read is checked against the bytes that remain before a buffer is sized, because cereal's
// own vector and string loading passes a length from the file straight to resize(). Never size_t, never
// polymorphic type names: an archive's layout is exactly the sequence of write calls.
class ArchiveWriter {
 public:
  ArchiveWriter();                            // into memory: bytes(), take()
  explicit ArchiveWriter(std::ostream& out);  // straight into `out` (a checkpoint file, a hash); bytes() is empty
  ~ArchiveWriter();
  void u8(uint8_t v);
  void i32(int32_t v);
  void u32(uint32_t v);
  void i64(int64_t v);
  void u64(uint64_t v);
  void f32(float v);
  void f64(double v);
  void str(std::string_view s);
  void floats(const float* data, int64_t n);  // length, then the values
  void i32s(const std::vector<int32_t>& v);
  std::string bytes();    // everything written so far
  std::string take() &&;  // the same without a copy (a checkpoint's payload is the model's size); ends the writer

 private:
  void raw(const void* data, uint64_t n);
  std::ostringstream os_;
  std::unique_ptr<cereal::PortableBinaryOutputArchive> ar_;
};

class ArchiveReader {
 public:
  // `source` names the file in error messages ("ckpt.qkv").
  ArchiveReader(std::string bytes, std::string source);
  ~ArchiveReader();
  uint8_t u8(const char* what);
  int32_t i32(const char* what);
  uint32_t u32(const char* what);
  int64_t i64(const char* what);
  uint64_t u64(const char* what);
  float f32(const char* what);
  double f64(const char* what);
  std::string str(const char* what);
  std::vector<float> floats(const char* what);
  std::vector<int32_t> i32s(const char* what);
  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return size_ - offset_; }
  const std::string& source() const { return source_; }

 private:
  void need(uint64_t n, const char* what);  // throws qkv::Error unless n bytes remain
  template <class T>
  T value(const char* what);
  uint64_t length(uint64_t element_size, const char* what);
  void raw(void* data, uint64_t n);
  std::string source_;
  uint64_t size_, offset_ = 0;
  std::istringstream is_;
  std::unique_ptr<cereal::PortableBinaryInputArchive> ar_;
};

// FNV-1a, 64-bit: the checksum over a checkpoint's payload. `h` carries the hash of the bytes before these,
// so that a large file can be hashed in chunks.
constexpr uint64_t kFnv1a64Basis = 0xcbf29ce484222325ull;
uint64_t fnv1a64(std::string_view bytes, uint64_t h = kFnv1a64Basis);

// Counts the bytes written to it and hashes them with FNV-1a 64, keeping none: the size and checksum of a
// file's payload before the payload is written (a checkpoint's header comes first).
class HashingSink : public std::streambuf {
 public:
  uint64_t size() const { return size_; }
  uint64_t hash() const { return hash_; }

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  uint64_t size_ = 0, hash_ = kFnv1a64Basis;
};

// A file's size and the FNV-1a 64 of its bytes, read in chunks (a corpus may be large); errors as read_file's.
struct FileHash {
  uint64_t size = 0, fnv1a64 = 0;
};
FileHash hash_file(const std::string& path);

// The whole file as bytes; a qkv::Error naming the path when it cannot be read (missing, a directory, ...).
std::string read_file(const std::string& path);
// Writes to PATH.tmp, flushes and fsyncs, then renames over PATH: a crash leaves the old file or the new one.
// A failed write (a full disk, a file size limit) is a qkv::Error naming PATH and the system's reason; it
// removes PATH.tmp and leaves PATH as it was. `faults` false exempts the write from QKV_FAULT below (a run's
// side files, so that the fault's byte offset still lands in the checkpoint write it is aimed at).
void write_file_atomic(const std::string& path, std::string_view bytes, bool faults = true);
// The same for a file made of parts (a header and a large payload, without joining them in memory).
void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts, bool faults = true);

// NOTE [fault hook]: a test hook, not a feature. The environment variable QKV_FAULT makes write_file_atomic
// fail on purpose, so tests can check that no moment of a write loses the previous file:
//   kill_after_bytes:N    raise SIGKILL on this process once N bytes of PATH.tmp are written (a crash)
//   enospc_after_bytes:N  fail the write with ENOSPC once N bytes are written (a full disk)
// Every atomic write of the process honours it (checkpoints, tokenizers, exports); a write shorter than N
// bytes is not touched. Unset or empty means no fault. tests/cli/test_faults.sh drives it.
struct WriteFault {
  enum class Kind { kNone, kKill, kEnospc };
  Kind kind = Kind::kNone;
  uint64_t after_bytes = 0;
};
// QKV_FAULT parsed; an unparsable value is a qkv::Error naming it (main checks it before any work).
WriteFault write_fault_from_env();

// write_file_atomic for a file written as it is made, of a size known in advance (a checkpoint: its payload is
// serialized straight into the file, so saving a model needs no second copy of it in memory). write() takes
// bytes in order; commit() checks that exactly `total` came, then flushes, fsyncs and renames. Destroyed
// without commit(), it removes PATH.tmp. The same errors and QKV_FAULT as write_file_atomic.
class AtomicFile : public std::streambuf {
 public:
  AtomicFile(const std::string& path, uint64_t total, bool faults = true);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const char* data, size_t n);
  void commit();

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  void flush_buffer();
  void put(const char* p, size_t n);
  std::string path_, tmp_;
  uint64_t total_, done_ = 0;  // bytes expected; bytes written to the file
  WriteFault fault_;
  int fd_ = -1;
  std::vector<char> buffer_;  // small writes (cereal writes a float at a time) are gathered here
};

}  // namespace qkv
