// bfloat16 as 16 bits: the top half of a float, rounded to nearest even; NaN stays NaN, infinity stays infinity.
#pragma once

#include <cstdint>
#include <cstring>

namespace qkv {

inline uint16_t to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // ties go to the even bf16
  return static_cast<uint16_t>(bits >> 16);
}

inline float from_bf16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// x rounded to the nearest bf16, as a float.
inline float round_bf16(float x) { return from_bf16(to_bf16(x)); }

}  // namespace qkv
