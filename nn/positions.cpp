#include "nn/positions.h"

#include <cmath>

#include "core/ops.h"

namespace qkv {
namespace {
void check_range(int64_t T, int64_t offset, int64_t max_len) {
  QKV_CHECK(offset >= 0 && T >= 0 && offset + T <= max_len, "positions: positions ", offset, "..", offset + T - 1,
            " exceed the model's ", max_len, " positions (block_size)");
}
}  // namespace

LearnedPositions::LearnedPositions(int64_t max_len, int64_t dim) {
  weight = register_parameter("weight", Tensor::zeros({max_len, dim}));
}

Tensor LearnedPositions::forward(int64_t T, int64_t offset) const {
  check_range(T, offset, weight.size(0));
  return slice(weight, 0, offset, offset + T);
}

SinusoidalPositions::SinusoidalPositions(int64_t max_len, int64_t dim) : table_(Tensor::zeros({max_len, dim})) {
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; 2 * i < dim; ++i) {
      double angle = static_cast<double>(pos) / std::pow(10000.0, 2.0 * static_cast<double>(i) / dim);
      table_.data()[pos * dim + 2 * i] = static_cast<float>(std::sin(angle));
      if (2 * i + 1 < dim) table_.data()[pos * dim + 2 * i + 1] = static_cast<float>(std::cos(angle));
    }
}

Tensor SinusoidalPositions::forward(int64_t T, int64_t offset) const {
  check_range(T, offset, table_.size(0));
  return slice(table_, 0, offset, offset + T);
}

Tensor RotaryPositions::forward(const Tensor& x, int64_t offset, int64_t head_size) const {
  return rope(x, offset, base_, head_size);
}

}  // namespace qkv
