// A file mapped read-only into memory: its pages are read on first touch and the kernel may drop them again,
// so a file larger than memory costs no anonymous memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qkv {

class MappedFile {
 public:
  // Maps all of `path` (PROT_READ, MAP_SHARED); a qkv::Error naming the path when it is missing, not a
  // regular file or cannot be mapped. An empty file maps to no bytes.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace qkv
