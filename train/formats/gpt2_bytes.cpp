#include "train/formats/gpt2_bytes.h"

#include <array>
#include <cstdint>

#include "data/utf8.h"

namespace qkv {

namespace {

bool stands_for_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

// byte -> the code point that spells it.
std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) t[static_cast<size_t>(b)] = stands_for_itself(b) ? static_cast<uint32_t>(b) : next++;
  return t;
}
const std::array<uint32_t, 256> kByteChar = make_table();

// The table's code points are all below 256 + 68: code point -> byte, or -1.
std::array<int16_t, 256 + 68> make_inverse() {
  std::array<int16_t, 256 + 68> inv{};
  inv.fill(-1);
  for (int b = 0; b < 256; ++b) inv[kByteChar[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
  return inv;
}
const std::array<int16_t, 256 + 68> kCharByte = make_inverse();

}  // namespace

std::optional<std::string> gpt2_key_bytes(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (uint64_t i = 0; i < key.size();) {
    uint32_t cp = 0;
    const int len = utf8_decode(key, i, &cp);
    if (len == 0) return std::nullopt;
    i += static_cast<uint64_t>(len);
    if (cp >= kCharByte.size() || kCharByte[cp] < 0) return std::nullopt;
    out += static_cast<char>(kCharByte[cp]);
  }
  return out;
}

std::string gpt2_bytes_key(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8_append(out, kByteChar[b]);
  return out;
}

}  // namespace qkv
