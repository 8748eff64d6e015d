#include "core/rng.h"

#include <algorithm>
#include <cmath>

namespace qkv {

namespace {

// The ten rounds on one counter, in place; inline so that philox_words' loop vectorises over counters.
inline void philox_rounds(uint64_t key, uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3) {
  // Constants from the Random123 paper.
  constexpr uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57, kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kM0) * c0, p1 = static_cast<uint64_t>(kM1) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += kW0;
    k1 += kW1;
  }
}

}  // namespace

std::array<uint32_t, 4> philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  philox_rounds(key, c0, c1, c2, c3);
  return {c0, c1, c2, c3};
}

void philox_words(uint64_t key, uint64_t counter_hi, uint64_t first, int64_t n, uint32_t* out) {
  // Up to kCounters counters at a time go through the vectorised loop into a stack buffer; the words asked for
  // are copied out of it (the first and last counter may be only partly wanted).
  constexpr int64_t kCounters = 64;
  uint32_t words[4 * kCounters];
  uint64_t at = first, end = first + static_cast<uint64_t>(n);
  while (at < end) {
    uint64_t c_first = at / 4, c_end = std::min((end + 3) / 4, c_first + kCounters);
#pragma omp simd
    for (uint64_t c = c_first; c < c_end; ++c) {
      uint32_t c0 = static_cast<uint32_t>(c), c1 = static_cast<uint32_t>(c >> 32);
      uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
      philox_rounds(key, c0, c1, c2, c3);
      uint64_t w = 4 * (c - c_first);
      words[w] = c0;
      words[w + 1] = c1;
      words[w + 2] = c2;
      words[w + 3] = c3;
    }
    uint64_t stop = std::min(end, 4 * c_end);
    for (; at < stop; ++at) *out++ = words[at - 4 * c_first];
  }
}

uint32_t Rng::next_u32() {
  uint64_t i = offset_++;
  return philox(seed_, stream_, i / 4)[i % 4];
}

float Rng::uniform() { return to_unit_float(next_u32()); }

float Rng::normal() {
  // 1 - u keeps the log argument in (0, 1].
  float u1 = 1.0f - uniform(), u2 = uniform();
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958647692f * u2);
}

}  // namespace qkv
