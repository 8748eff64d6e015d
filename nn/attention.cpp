#include "nn/attention.h"

#include "core/ops.h"

namespace qkv {
namespace {
// [B, T, n * C] holding n projections side by side -> n tensors [B, NH, T, hs].
std::vector<Tensor> split_projections(const Tensor& x, int64_t n, int64_t n_head) {
  int64_t B = x.size(0), T = x.size(1), hs = x.size(2) / (n * n_head);
  Tensor heads = permute(x.reshape({B, T, n, n_head, hs}), {2, 0, 3, 1, 4});  // [n, B, NH, T, hs]
  std::vector<Tensor> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(slice(heads, 0, i, i + 1).reshape({B, n_head, T, hs}));
  return out;
}

void check_input(const Tensor& x, int64_t C, const char* what) {
  QKV_CHECK(x.dim() == 3 && x.size(2) == C, "attention: expected ", what, " of shape [B, T, ", C, "], got ",
            str(x.shape()));
}
}  // namespace

MultiHeadAttention::MultiHeadAttention(int64_t d_model, int64_t n_head, bool bias, float dropout, bool cross, bool rope,
                                       DropoutHandle context)
    : d_model_(d_model), n_head_(n_head), dropout_(dropout), context_(std::move(context)) {
  QKV_CHECK(n_head > 0 && d_model % n_head == 0, "attention: n_head ", n_head, " does not divide d_model ", d_model);
  if (cross) {
    c_q_ = register_module("c_q", std::make_shared<Linear>(d_model, d_model, bias));
    c_kv_ = register_module("c_kv", std::make_shared<Linear>(d_model, 2 * d_model, bias));
  } else {
    c_attn_ = register_module("c_attn", std::make_shared<Linear>(d_model, 3 * d_model, bias));
  }
  c_proj_ = register_module("c_proj", std::make_shared<Linear>(d_model, d_model, bias));
  resid_dropout_ = register_module("resid_dropout", std::make_shared<Dropout>(dropout, context_));
  if (rope) rope_ = register_module("rope", std::make_shared<RotaryPositions>());
}

Tensor MultiHeadAttention::forward(const Tensor& x, const AttentionCall& call) {
  QKV_CHECK(c_attn_ != nullptr, "attention: a cross-attention layer needs a memory");
  check_input(x, d_model_, "x");
  std::vector<Tensor> qkv = split_projections(c_attn_->forward(x), 3, n_head_);  // q, k, v [B, NH, T, hs]
  Tensor q = qkv[0], k = qkv[1], v = qkv[2];
  int64_t offset = call.cache ? call.cache->length() : 0;  // position of the first new token
  if (rope_) {
    q = rope_->forward(q, offset);
    k = rope_->forward(k, offset);
  }
  if (call.cache) {
    if (offset > 0) {
      k = concat({call.cache->k, k}, 2);
      v = concat({call.cache->v, v}, 2);
    }
    call.cache->k = k;
    call.cache->v = v;
  }
  return attend(q, k, v, call);
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& memory, const AttentionCall& call) {
  QKV_CHECK(c_q_ != nullptr, "attention: a self-attention layer takes no memory");
  check_input(x, d_model_, "x");
  Tensor q = split_projections(c_q_->forward(x), 1, n_head_)[0];
  Tensor k, v;
  if (call.cache && call.cache->k.defined()) {  // the memory's keys and values do not change while decoding
    k = call.cache->k;
    v = call.cache->v;
  } else {
    check_input(memory, d_model_, "memory");
    QKV_CHECK(memory.size(0) == x.size(0), "attention: memory batch ", memory.size(0), " differs from x batch ",
              x.size(0));
    std::vector<Tensor> kv = split_projections(c_kv_->forward(memory), 2, n_head_);
    k = kv[0];
    v = kv[1];
    if (call.cache) *call.cache = KVCache{k, v};
  }
  AttentionCall cross = call;
  cross.causal = false;
  return attend(q, k, v, cross);
}

Tensor MultiHeadAttention::attend(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionCall& call) {
  AttentionOptions o;
  o.causal = call.causal;
  o.key_padding = call.key_padding;
  o.weights_out = call.weights_out;
  if (training() && dropout_ > 0.0f) {
    o.dropout = dropout_;
    o.seed = context_->seed;
    o.stream = context_->next_stream();
  }
  int64_t B = q.size(0), T = q.size(2);
  Tensor y = permute(attention(q, k, v, o), {0, 2, 1, 3}).reshape({B, T, d_model_});  // heads side by side again
  return resid_dropout_->forward(c_proj_->forward(y));
}

}  // namespace qkv
