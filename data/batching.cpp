#include "data/batching.h"

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace qkv {

int64_t uniform_index(Rng& rng, int64_t n) {
  QKV_CHECK(n > 0, "uniform_index: range ", n, " must be positive");
  const auto range = static_cast<uint64_t>(n);
  if (range <= (1ull << 32)) {
    // Reject the top partial block of 2^32 so that every residue is equally likely.
    const uint64_t limit = (1ull << 32) - (1ull << 32) % range;
    uint64_t x;
    do x = rng.next_u32();
    while (x >= limit);
    return static_cast<int64_t>(x % range);
  }
  const uint64_t rem = (0 - range) % range;  // 2^64 mod range: the partial block to reject
  uint64_t x;
  do x = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
  while (rem != 0 && x > ~0ull - rem);
  return static_cast<int64_t>(x % range);
}

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i)
    std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(uniform_index(rng, i + 1))]);
}

std::vector<std::vector<int64_t>> shuffled_batches(int64_t n, int64_t B, Rng& rng) {
  QKV_CHECK(n >= 0 && B > 0, "shuffled_batches: ", n, " examples in batches of ", B, ", expected B > 0");
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  shuffle(order, rng);
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i = 0; i < n; i += B) batches.emplace_back(order.begin() + i, order.begin() + std::min(n, i + B));
  return batches;
}

Ids pad_rows(const std::vector<const std::vector<int32_t>*>& rows, int32_t pad) {
  size_t T = 1;
  for (const auto* row : rows) T = std::max(T, row->size());
  const auto B = static_cast<int64_t>(rows.size());
  Ids out(std::vector<int32_t>(rows.size() * T, pad), {B, static_cast<int64_t>(T)});
  for (size_t b = 0; b < rows.size(); ++b) std::copy(rows[b]->begin(), rows[b]->end(), out.data.begin() + b * T);
  return out;
}

}  // namespace qkv
