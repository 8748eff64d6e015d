// Counter-based random numbers (Philox4x32-10): explicit, serializable state, the same stream on any thread count.
#pragma once

#include <array>
#include <cstdint>

namespace qkv {

// Philox4x32-10 (Salmon et al., SC'11): four 32-bit random words from a 64-bit key and a 128-bit counter.
// Being a pure function of (key, counter), any element's number can be computed independently, which is
// what makes dropout masks independent of thread scheduling.
std::array<uint32_t, 4> philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo);

// Words w[first, first + n) of the (key, counter_hi) stream, where w[i] = philox(key, counter_hi, i / 4)[i % 4],
// into out[0, n): many counters at once, in a loop the compiler vectorises (dropout masks are made this way).
void philox_words(uint64_t key, uint64_t counter_hi, uint64_t first, int64_t n, uint32_t* out);

// Maps a random word to a float in [0, 1) using its top 24 bits.
inline float to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// A sequential stream: the i-th word is philox(seed, stream, i / 4)[i % 4]. The state is (seed, stream, offset).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  uint32_t next_u32();
  float uniform();  // [0, 1)
  float normal();   // standard normal (Box-Muller)

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }  // restores a saved state

 private:
  uint64_t seed_, stream_, offset_ = 0;
};

}  // namespace qkv
