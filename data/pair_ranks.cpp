#include "data/pair_ranks.h"

namespace qkv {

void PairRanks::clear() {
  keys_.clear();
  ranks_.clear();
  mask_ = size_ = 0;
  shift_ = 64;
}

void PairRanks::grow() {
  std::vector<uint64_t> keys = std::move(keys_);
  std::vector<int32_t> ranks = std::move(ranks_);
  const uint64_t capacity = keys.empty() ? 16 : keys.size() * 2;
  keys_.assign(capacity, kEmpty);
  ranks_.assign(capacity, -1);
  mask_ = capacity - 1;
  shift_ = 64;
  for (uint64_t c = capacity; c > 1; c >>= 1) --shift_;
  for (uint64_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == kEmpty) continue;
    uint64_t j = slot(keys[i]);
    while (keys_[j] != kEmpty) j = (j + 1) & mask_;
    keys_[j] = keys[i];
    ranks_[j] = ranks[i];
  }
}

bool PairRanks::insert(int32_t a, int32_t b, int32_t rank) {
  if (2 * (size_ + 1) > keys_.size()) grow();  // at most half full keeps probes short
  const uint64_t key = pack(a, b);
  uint64_t i = slot(key);
  for (; keys_[i] != kEmpty; i = (i + 1) & mask_)
    if (keys_[i] == key) return false;
  keys_[i] = key;
  ranks_[i] = rank;
  ++size_;
  return true;
}

}  // namespace qkv
