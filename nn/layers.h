// The basic layers: Linear, Embedding, LayerNorm, Dropout, and the dropout context that names every mask.
#pragma once

#include <cstdint>
#include <memory>

#include "core/tensor.h"
#include "nn/module.h"

namespace qkv {

// Names the dropout masks of one forward pass. The trainer sets (seed, step) before each forward pass,
// and every dropout site takes the next call number, so masks never repeat across sites or steps and do
// not depend on thread scheduling.
struct DropoutContext {
  uint64_t seed = 0;
  uint64_t step = 0;  // folds rank, step and micro-step: see the trainer
  uint32_t call = 0;
  void begin(uint64_t new_seed, uint64_t new_step) {
    seed = new_seed;
    step = new_step;
    call = 0;
  }
  uint64_t next_stream() { return (step << 20) | call++; }
};
using DropoutHandle = std::shared_ptr<DropoutContext>;

// y = x W^T + b, W [out, in] as in PyTorch. Parameters start at zero: each model initialises its own.
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias);
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]
  Tensor weight, bias;                    // [out, in], [out] or undefined
};

// Rows of a table selected by id: [V, C].
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim);
  Tensor forward(const Ids& ids) const;  // [...] -> [..., C]
  Tensor weight;
};

class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, bool bias);  // weight ones, bias zeros (when present); eps 1e-5
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
};

// Inverted dropout, active only in training mode.
class Dropout : public Module {
 public:
  Dropout(float p, DropoutHandle context) : p_(p), context_(std::move(context)) {}
  Tensor forward(const Tensor& x) const;
  float p() const { return p_; }

 private:
  float p_;
  DropoutHandle context_;
};

}  // namespace qkv
