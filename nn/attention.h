// Multi-head attention: self-attention with a fused QKV projection, or cross-attention; KV cache for decoding.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ops/attention.h"
#include "core/ops/linear_attention.h"
#include "core/tensor.h"
#include "nn/config.h"
#include "nn/layers.h"
#include "nn/positions.h"

namespace qkv {

// Keys and values seen so far, [B, T, C] each (heads side by side). For cross-attention they are the projected encoder
// memory, computed once per source. Linear attention keeps only its running sums, whose size does not grow.
struct KVCache {
  Tensor k, v;
  LinearAttentionState sums;  // linear attention in place of k and v
  int64_t linear_length = 0;  // tokens the sums hold
  int64_t length() const { return k.defined() ? k.size(1) : linear_length; }
  // Keeps batch entries `rows` of what the cache holds, in that order (repeats allowed): the beams beam search keeps.
  void select_rows(const std::vector<int64_t>& rows);
};

struct AttentionCall {
  bool causal = false;
  const Mask* key_padding = nullptr;  // [B, Tk], 1 = padding
  KVCache* cache = nullptr;           // decoding: extended (self) or filled once (cross)
  Tensor* weights_out = nullptr;      // receives [B, NH, Tq, Tk] for inspection
};

// What a MultiHeadAttention is. cross: queries from x, keys and values from a memory; rope: rotate q and k by
// position (self-attention only); kind and window: full, local (keys within `window` positions) or linear.
struct AttentionConfig {
  int64_t d_model = 0;
  int64_t n_head = 1;
  bool bias = false;
  float dropout = 0.0f;
  bool cross = false;
  bool rope = false;
  AttentionKind kind = AttentionKind::Full;
  int64_t window = 0;
};

// A model's self-attention (cross = false) or cross-attention sublayer. Cross-attention stays full and without
// RoPE: source and target positions do not line up.
AttentionConfig attention_config(const ModelConfig& c, bool cross);

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const AttentionConfig& config, DropoutHandle context);

  Tensor forward(const Tensor& x, const AttentionCall& call = {});                        // self: x [B, T, C]
  Tensor forward(const Tensor& x, const Tensor& memory, const AttentionCall& call = {});  // cross

  int64_t n_head() const { return n_head_; }

 private:
  Tensor attend(const Heads& q, const Heads& k, const Heads& v, const AttentionCall& call);

  int64_t d_model_, n_head_;
  float dropout_;
  AttentionKind kind_;
  int64_t window_;
  DropoutHandle context_;
  std::shared_ptr<Linear> c_attn_;  // self: [3C, C] -> q, k, v
  std::shared_ptr<Linear> c_q_;     // cross: [C, C] on x
  std::shared_ptr<Linear> c_kv_;    // cross: [2C, C] on the memory
  std::shared_ptr<Linear> c_proj_;
  std::shared_ptr<Dropout> resid_dropout_;
  std::shared_ptr<RotaryPositions> rope_;  // set when positions are rotary
};

}  // namespace qkv
