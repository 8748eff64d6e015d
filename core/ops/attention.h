// Scaled dot-product attention in one function with its backward, so a faster kernel can replace it alone.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

struct AttentionOptions {
  bool causal =
      false;  // query i sees key j only when j <= i + (Tk - Tq): with a KV cache the queries are the last ones
  const Mask* key_padding = nullptr;  // [B, Tk], 1 = a padding key that nobody attends to
  float dropout = 0.0f;               // on the attention weights, as PyTorch's dropout_p
  uint64_t seed = 0, stream = 0;      // the dropout mask's key (see dropout())
  Tensor* weights_out = nullptr;      // if set, receives the attention weights [B, NH, Tq, Tk] (before dropout)
};

// q [B, NH, Tq, hs], k and v [B, NH, Tk, hs] -> [B, NH, Tq, hs] = softmax(q k^T / sqrt(hs) + mask) v.
// A query that can see no key (all its keys masked) outputs zeros rather than NaN.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});

}  // namespace qkv
