// Shape: the dimensions of a tensor, and the helpers every op uses on them (numel, axes, broadcasting).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qkv {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
std::string str(const Shape& shape);  // "[2, 3]"

// Maps a possibly negative axis into [0, rank); throws naming `op` when it is out of range.
int normalize_axis(int axis, int rank, const char* op);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Row-major strides of `shape` as seen from `out` (right-aligned), with 0 where `shape` is broadcast.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out);

// Splits `shape` around `axis` into outer * size * inner, the loop bounds of every axis-wise kernel.
struct AxisSplit {
  int64_t outer, size, inner;
};
AxisSplit split_at(const Shape& shape, int axis);

}  // namespace qkv
