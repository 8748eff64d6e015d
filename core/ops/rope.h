// Rotary position embedding (RoPE, Su et al. 2021) applied to queries or keys, with its backward.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

// x [..., T, W]: heads of head_size (hs, even; 0: hs = W) side by side in W; the position of row t is
// offset + t. The two halves of each head are rotated as pairs (x_i, x_{i + hs/2}) by angle
// pos * base^(-2i / hs): the "rotate half" layout of GPT-NeoX and LLaMA.
Tensor rope(const Tensor& x, int64_t offset, float base = 10000.0f, int64_t head_size = 0);

}  // namespace qkv
