// Position information: learned position embeddings and the fixed sinusoids of Vaswani et al. (RoPE is an
// op, core/ops/rope.h, applied to queries and keys inside attention).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "nn/module.h"

namespace qkv {

// A learned row per position: weight [max_len, C]. Registered as an embedding table ("wpe.weight").
class LearnedPositions : public Module {
 public:
  LearnedPositions(int64_t max_len, int64_t dim);
  Tensor forward(int64_t T, int64_t offset = 0) const;  // rows offset .. offset + T - 1: [T, C]
  Tensor weight;
};

// PE(pos, 2i) = sin(pos / 10000^(2i / C)),  PE(pos, 2i + 1) = cos(pos / 10000^(2i / C)) (section 3.5).
// A fixed table, not a parameter.
class SinusoidalPositions : public Module {
 public:
  SinusoidalPositions(int64_t max_len, int64_t dim);
  Tensor forward(int64_t T, int64_t offset = 0) const;  // [T, C]
  const Tensor& table() const { return table_; }

 private:
  Tensor table_;
};

}  // namespace qkv
