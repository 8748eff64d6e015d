// SHA-256 (FIPS 180-4), for naming the exact tokenizer file a token corpus was prepared with.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace qkv {

// Fed in pieces of any size; hex() ends it and gives the 64 lowercase hex digits.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  std::string hex();

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  uint64_t length_ = 0;  // bytes fed so far
};

std::string sha256_hex(std::string_view bytes);
// The file's digest, read in pieces; a qkv::Error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace qkv
