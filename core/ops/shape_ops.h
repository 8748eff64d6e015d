// Shape ops: reshape (shares the buffer), transpose and permute (contiguous copies), concat, slice.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace qkv {

Tensor reshape(const Tensor& x, const Shape& shape);  // one dimension may be -1
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int a, int b);
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end) along axis

}  // namespace qkv
