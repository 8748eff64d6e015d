// Rotary position embedding (RoPE, Su et al. 2021) applied to queries or keys, with its backward.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

// x [..., T, hs] with hs even; position of row t is offset + t. The two halves of each head are rotated
// as pairs (x_i, x_{i + hs/2}) by angle pos * base^(-2i / hs): the "rotate half" layout of GPT-NeoX and
// LLaMA.
Tensor rope(const Tensor& x, int64_t offset, float base = 10000.0f);

}  // namespace qkv
