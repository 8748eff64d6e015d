// Reductions: sum and mean over everything or one axis, max over one axis (values and indices).
#pragma once

#include "core/tensor.h"

namespace qkv {

Tensor sum(const Tensor& x);   // rank 0
Tensor mean(const Tensor& x);  // rank 0
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);

// The largest value along `axis` and its first index; the gradient flows to that index only.
struct MaxResult {
  Tensor values;
  Ids indices;
};
MaxResult max(const Tensor& x, int axis, bool keepdim = false);

}  // namespace qkv
