// Writing token files (NOTE [token files]): raw ids in a dtype, or an llm.c shard with its header.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "data/token_file.h"

namespace qkv {

class TokenWriter {
 public:
  // Creates (or empties) `path`; an llm.c shard starts with a header whose count close() fills in. Errors
  // name the path and the system's reason (a full disk).
  TokenWriter(const std::string& path, TokenDtype dtype, bool llmc);
  ~TokenWriter();
  TokenWriter(const TokenWriter&) = delete;
  TokenWriter& operator=(const TokenWriter&) = delete;

  void write(std::span<const int32_t> ids);
  // Flushes and closes; for a shard, first writes its token count into the header.
  void close();
  uint64_t count() const { return count_; }

 private:
  void put(const void* bytes, size_t n);

  std::string path_;
  std::FILE* f_ = nullptr;
  TokenDtype dtype_;
  bool llmc_;
  uint64_t count_ = 0;
  std::string scratch_;
};

// Copies tokens [begin, begin + count) of the raw `dtype` file at `from` to `to`.
void copy_tokens(const std::string& from, TokenDtype dtype, uint64_t begin, uint64_t count, TokenWriter& to);

}  // namespace qkv
