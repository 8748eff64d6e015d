// Merge pair -> merge rank for BPE encoding: an open-addressing hash table, since encoding looks up every pair
// of adjacent tokens (std::unordered_map's prime modulo and node chasing took a fifth of GPT-2's encode time).
#pragma once

#include <cstdint>
#include <vector>

namespace qkv {

class PairRanks {
 public:
  void clear();
  // False when the pair is already there (its rank is kept).
  bool insert(int32_t a, int32_t b, int32_t rank);
  // The pair's rank, or -1.
  int32_t find(int32_t a, int32_t b) const {
    if (size_ == 0) return -1;
    const uint64_t key = pack(a, b);
    for (uint64_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return ranks_[i];
      if (keys_[i] == kEmpty) return -1;
    }
  }

 private:
  // Ids are never negative, so no pair packs to all ones.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  // Fibonacci hashing: the multiply mixes both ids into the top bits.
  uint64_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();

  std::vector<uint64_t> keys_;
  std::vector<int32_t> ranks_;
  uint64_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

}  // namespace qkv
