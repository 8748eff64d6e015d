// Softmax and log-softmax over the last axis, and masked_fill (the usual way to mask attention scores).
#pragma once

#include "core/tensor.h"

namespace qkv {

Tensor softmax(const Tensor& x);      // over the last axis
Tensor log_softmax(const Tensor& x);  // over the last axis, computed stably (x - max - log sum exp)

// y = x where mask is 0, `value` where mask is 1; the mask broadcasts to x's shape (NumPy rules).
Tensor masked_fill(const Tensor& x, const Mask& mask, float value);

}  // namespace qkv
