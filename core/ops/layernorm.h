// Fused layer normalisation over the last axis, with optional weight and bias.
#pragma once

#include "core/tensor.h"

namespace qkv {

// x [..., C]; weight and bias [C], either may be undefined (no scale or no shift). eps 1e-5 as PyTorch.
Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

}  // namespace qkv
