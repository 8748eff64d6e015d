// Helpers the batchers share: unbiased random indices, shuffling, and padding rows into an Ids batch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

// A uniform integer in [0, n), without modulo bias (rejection sampling). n must be positive.
int64_t uniform_index(Rng& rng, int64_t n);

// Fisher-Yates shuffle driven by `rng`.
void shuffle(std::vector<int64_t>& v, Rng& rng);

// The indices 0..n-1 shuffled and cut into batches of B (the last one may be smaller): one epoch.
std::vector<std::vector<int64_t>> shuffled_batches(int64_t n, int64_t B, Rng& rng);

// Rows of different lengths as one [rows, T] batch, T the longest row (at least 1), filled with `pad`.
Ids pad_rows(const std::vector<const std::vector<int32_t>*>& rows, int32_t pad);

}  // namespace qkv
