// Position information: learned position embeddings, the fixed sinusoids of Vaswani et al., and rotary
// positions (RoPE), which rotate queries and keys inside attention instead of adding to the embeddings.
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

// RoPE (Su et al. 2021): rotates each head's (q, k) pairs by an angle proportional to the position, so that
// q . k depends on the distance between positions. No parameters; see core/ops/rope.h for the layout.
class RotaryPositions : public Module {
 public:
  explicit RotaryPositions(float base = 10000.0f) : base_(base) {}
  // x [B, T, C] with heads of head_size side by side; the first position is `offset`.
  Tensor forward(const Tensor& x, int64_t offset, int64_t head_size) const;

 private:
  float base_;
};

}  // namespace qkv
