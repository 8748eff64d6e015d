// Inverted dropout with a counter-based mask: the same mask for the same key, whatever the thread count.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

// Zeroes each element with probability p and scales the rest by 1 / (1 - p). Element i is dropped when
// philox(seed, stream, i / 4)[i % 4] falls below p, so (seed, stream) names the mask: callers put the step,
// micro-step and call site into `stream` so masks never repeat. p == 0 returns x itself; p == 1 zeroes.
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint64_t stream);

// The mask itself on elements [first, first + n) of the (seed, stream) stream: dst[e] = 0 where element
// first + e is dropped, else src[e] * keep (keep alone when src is null). dst may be src. Attention drops its
// weights through this, with the same mask in forward and backward.
void apply_dropout_mask(float p, float keep, uint64_t seed, uint64_t stream, uint64_t first, const float* src,
                        float* dst, int64_t n);

}  // namespace qkv
