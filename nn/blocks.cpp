#include "nn/blocks.h"

#include "core/ops.h"
#include "core/stop.h"

namespace qkv {

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Activation act, bool bias, float dropout, DropoutHandle context)
    : act_(act) {
  c_fc_ = register_module("c_fc", std::make_shared<Linear>(d_model, d_ff, bias));
  c_proj_ = register_module("c_proj", std::make_shared<Linear>(d_ff, d_model, bias));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(dropout, std::move(context)));
}

Tensor FeedForward::forward(const Tensor& x) const {
  Tensor h = c_fc_->forward(x);  // [B, T, d_ff]
  switch (act_) {
    case Activation::Gelu:
      h = gelu(h);
      break;
    case Activation::GeluTanh:
      h = gelu_tanh(h);
      break;
    case Activation::Relu:
      h = relu(h);
      break;
  }
  return dropout_->forward(c_proj_->forward(h));
}

namespace {
// One residual sublayer in either norm placement: pre: x + f(ln(x)); post: ln(x + f(x)).
template <class F>
Tensor residual(Norm norm, const LayerNorm& ln, const Tensor& x, F f) {
  return norm == Norm::Pre ? x + f(ln.forward(x)) : ln.forward(x + f(x));
}
}  // namespace

EncoderLayer::EncoderLayer(const ModelConfig& c, DropoutHandle context) : norm_(c.norm) {
  ln_1_ = register_module("ln_1", std::make_shared<LayerNorm>(c.d_model, c.bias));
  attn_ = register_module("attn", std::make_shared<MultiHeadAttention>(attention_config(c, false), context));
  ln_2_ = register_module("ln_2", std::make_shared<LayerNorm>(c.d_model, c.bias));
  mlp_ = register_module("mlp",
                         std::make_shared<FeedForward>(c.d_model, c.ff(), c.activation, c.bias, c.dropout, context));
}

Tensor EncoderLayer::forward(const Tensor& x, const Mask* padding, Tensor* weights_out) {
  check_stop();  // NOTE [stop between ops]
  AttentionCall call{false, padding, nullptr, weights_out};
  Tensor h = residual(norm_, *ln_1_, x, [&](const Tensor& t) { return attn_->forward(t, call); });
  return residual(norm_, *ln_2_, h, [&](const Tensor& t) { return mlp_->forward(t); });
}

DecoderLayer::DecoderLayer(const ModelConfig& c, bool cross, DropoutHandle context) : norm_(c.norm) {
  ln_1_ = register_module("ln_1", std::make_shared<LayerNorm>(c.d_model, c.bias));
  attn_ = register_module("attn", std::make_shared<MultiHeadAttention>(attention_config(c, false), context));
  if (cross) {
    ln_x_ = register_module("ln_x", std::make_shared<LayerNorm>(c.d_model, c.bias));
    cross_attn_ =
        register_module("cross_attn", std::make_shared<MultiHeadAttention>(attention_config(c, true), context));
  }
  ln_2_ = register_module("ln_2", std::make_shared<LayerNorm>(c.d_model, c.bias));
  mlp_ = register_module("mlp",
                         std::make_shared<FeedForward>(c.d_model, c.ff(), c.activation, c.bias, c.dropout, context));
}

Tensor DecoderLayer::forward(const Tensor& x, const Tensor& memory, const Mask* memory_padding,
                             DecoderLayerCache* cache, DecoderWeightsOut weights) {
  check_stop();  // NOTE [stop between ops]
  AttentionCall self{true, nullptr, cache ? &cache->self : nullptr, weights.self};
  Tensor h = residual(norm_, *ln_1_, x, [&](const Tensor& t) { return attn_->forward(t, self); });
  if (cross_attn_) {
    QKV_CHECK(memory.defined() || (cache && cache->cross.k.defined()), "decoder layer: cross-attention needs a memory");
    AttentionCall cross{false, memory_padding, cache ? &cache->cross : nullptr, weights.cross};
    h = residual(norm_, *ln_x_, h, [&](const Tensor& t) { return cross_attn_->forward(t, memory, cross); });
  }
  return residual(norm_, *ln_2_, h, [&](const Tensor& t) { return mlp_->forward(t); });
}

}  // namespace qkv
