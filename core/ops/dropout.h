// Inverted dropout with a counter-based mask: the same mask for the same key, whatever the thread count.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

// Zeroes each element with probability p and scales the rest by 1 / (1 - p). Element i is dropped when
// philox(seed, stream, i / 4)[i % 4] falls below p, so (seed, stream) names the mask: callers put the step,
// micro-step and call site into `stream` so masks never repeat. p == 0 returns x itself; p == 1 zeroes.
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint64_t stream);

}  // namespace qkv
