// The affine map of a Linear layer, x W^T + b, as one op: the bias is the GEMM's starting value.
#pragma once

#include "core/tensor.h"

namespace qkv {

// x [..., K], weight [N, K] (PyTorch's layout: BLAS reads it transposed), bias [N] or undefined -> [..., N].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace qkv
