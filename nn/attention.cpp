#include "nn/attention.h"

#include "core/ops.h"

namespace qkv {
namespace {
// Columns [col, col + width) of h.x as a tensor of their own (a copy), for RoPE and the KV cache.
Tensor own_columns(const Heads& h) {
  if (h.col == 0 && h.width == h.x.size(2)) return h.x;
  return slice(h.x, 2, h.col, h.col + h.width);
}

void check_input(const Tensor& x, int64_t C, const char* what) {
  QKV_CHECK(x.dim() == 3 && x.size(2) == C, "attention: expected ", what, " of shape [B, T, ", C, "], got ",
            str(x.shape()));
}
}  // namespace

void KVCache::select_rows(const std::vector<int64_t>& rows) {
  for (Tensor* t : {&k, &v})
    if (t->defined()) *t = t->select_rows(rows);
  sums.select_rows(rows);
}

AttentionConfig attention_config(const ModelConfig& c, bool cross) {
  return {.d_model = c.d_model,
          .n_head = c.n_head,
          .bias = c.bias,
          .dropout = c.dropout,
          .cross = cross,
          .rope = !cross && c.positions == Positions::Rope,
          .kind = cross ? AttentionKind::Full : c.attention,
          .window = c.window};
}

MultiHeadAttention::MultiHeadAttention(const AttentionConfig& config, DropoutHandle context)
    : d_model_(config.d_model),
      n_head_(config.n_head),
      dropout_(config.dropout),
      kind_(config.kind),
      window_(config.window),
      context_(std::move(context)) {
  QKV_CHECK(kind_ != AttentionKind::Local || window_ > 0, "attention: local attention needs a positive window, got ",
            window_);
  QKV_CHECK(n_head_ > 0 && d_model_ % n_head_ == 0, "attention: n_head ", n_head_, " does not divide d_model ",
            d_model_);
  const int64_t C = d_model_;
  if (config.cross) {
    c_q_ = register_module("c_q", std::make_shared<Linear>(C, C, config.bias));
    c_kv_ = register_module("c_kv", std::make_shared<Linear>(C, 2 * C, config.bias));
  } else {
    c_attn_ = register_module("c_attn", std::make_shared<Linear>(C, 3 * C, config.bias));
  }
  c_proj_ = register_module("c_proj", std::make_shared<Linear>(C, C, config.bias));
  resid_dropout_ = register_module("resid_dropout", std::make_shared<Dropout>(dropout_, context_));
  if (config.rope) rope_ = register_module("rope", std::make_shared<RotaryPositions>());
}

Tensor MultiHeadAttention::forward(const Tensor& x, const AttentionCall& call) {
  QKV_CHECK(c_attn_ != nullptr, "attention: a cross-attention layer needs a memory");
  check_input(x, d_model_, "x");
  const int64_t C = d_model_;
  Tensor qkv = c_attn_->forward(x);  // [B, T, 3C]: the heads of q, k and v are read from it in place
  Heads q{qkv, 0, C}, k{qkv, C, C}, v{qkv, 2 * C, C};
  int64_t offset = call.cache ? call.cache->length() : 0;  // position of the first new token
  if (rope_) {
    q = {rope_->forward(own_columns(q), offset, C / n_head_), 0, C};
    k = {rope_->forward(own_columns(k), offset, C / n_head_), 0, C};
  }
  if (call.cache && kind_ == AttentionKind::Linear) {  // decoding: the running sums replace the cache
    QKV_CHECK(call.causal, "attention: a cache with linear attention is for causal decoding");
    call.cache->linear_length += x.size(1);
    Tensor y = linear_attention(q, k, v, n_head_,
                                {.causal = true, .weights_out = call.weights_out, .state = &call.cache->sums});
    return resid_dropout_->forward(c_proj_->forward(y));
  }
  if (call.cache) {
    Tensor kt = own_columns(k), vt = own_columns(v);
    if (offset > 0) {
      kt = concat({call.cache->k, kt}, 1);
      vt = concat({call.cache->v, vt}, 1);
    }
    call.cache->k = kt;
    call.cache->v = vt;
    k = {kt, 0, C};
    v = {vt, 0, C};
  }
  return attend(q, k, v, call);
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& memory, const AttentionCall& call) {
  QKV_CHECK(c_q_ != nullptr, "attention: a self-attention layer takes no memory");
  check_input(x, d_model_, "x");
  const int64_t C = d_model_;
  Heads q{c_q_->forward(x), 0, C}, k, v;
  if (call.cache && call.cache->k.defined()) {  // the memory's keys and values do not change while decoding
    k = {call.cache->k, 0, C};
    v = {call.cache->v, 0, C};
  } else {
    check_input(memory, d_model_, "memory");
    QKV_CHECK(memory.size(0) == x.size(0), "attention: memory batch ", memory.size(0), " differs from x batch ",
              x.size(0));
    Tensor kv = c_kv_->forward(memory);  // [B, S, 2C]
    k = {kv, 0, C};
    v = {kv, C, C};
    if (call.cache) {
      *call.cache = KVCache{own_columns(k), own_columns(v), {}, 0};
      k = {call.cache->k, 0, C};
      v = {call.cache->v, 0, C};
    }
  }
  AttentionCall cross = call;
  cross.causal = false;
  return attend(q, k, v, cross);
}

Tensor MultiHeadAttention::attend(const Heads& q, const Heads& k, const Heads& v, const AttentionCall& call) {
  AttentionOptions o;
  o.causal = call.causal;
  o.key_padding = call.key_padding;
  o.weights_out = call.weights_out;
  if (training() && dropout_ > 0.0f) {
    o.dropout = dropout_;
    o.seed = context_->seed;
    o.stream = context_->next_stream();
  }
  if (kind_ == AttentionKind::Linear) {  // no weights matrix, so no dropout on it (the stream above is still drawn)
    o.dropout = 0.0f;
    return resid_dropout_->forward(c_proj_->forward(linear_attention(q, k, v, n_head_, o)));
  }
  if (kind_ == AttentionKind::Local) o.window = window_;
  Tensor y = attention(q, k, v, n_head_, o);  // [B, T, C], heads side by side
  return resid_dropout_->forward(c_proj_->forward(y));
}

}  // namespace qkv
