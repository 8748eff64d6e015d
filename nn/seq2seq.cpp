#include "nn/seq2seq.h"

#include <cmath>

#include "core/ops.h"

namespace qkv {

Seq2Seq::Seq2Seq(const ModelConfig& config)
    : ModelBase(config), src_embed_(config_, context_, "seq2seq", true), tgt_embed_(src_embed_.with_own_positions()) {
  const ModelConfig& c = config_;
  register_module("embed", src_embed_.tokens);
  auto encoder = register_module("encoder", std::make_shared<ModuleList>());
  auto decoder = register_module("decoder", std::make_shared<ModuleList>());
  if (src_embed_.learned) {
    encoder->add("wpe", src_embed_.learned);
    decoder->add("wpe", tgt_embed_.learned);
  }
  if (src_embed_.sinusoids) register_module("positions", src_embed_.sinusoids);
  register_module("drop", src_embed_.drop);
  auto eh = encoder->add("h", std::make_shared<ModuleList>());
  auto dh = decoder->add("h", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i) {
    enc_.push_back(eh->add(std::to_string(i), std::make_shared<EncoderLayer>(c, context_)));
    dec_.push_back(dh->add(std::to_string(i), std::make_shared<DecoderLayer>(c, true, context_)));
  }
  if (c.norm == Norm::Pre) {
    enc_ln_f_ = encoder->add("ln_f", std::make_shared<LayerNorm>(c.d_model, c.bias));
    dec_ln_f_ = decoder->add("ln_f", std::make_shared<LayerNorm>(c.d_model, c.bias));
  }
}

void Seq2Seq::init_weights(Rng& rng) {
  for (auto& [name, p] : named_parameters()) {
    if (p.dim() < 2) continue;  // biases stay zero, LayerNorm weights one
    float bound = std::sqrt(6.0f / static_cast<float>(p.size(0) + p.size(1)));  // fan_out + fan_in
    Tensor init = Tensor::uniform(p.shape(), rng, -bound, bound);
    std::copy_n(init.data(), p.numel(), p.data());
  }
}

Tensor Seq2Seq::encode(const Ids& src, const Mask* src_padding, std::vector<Tensor>* weights_out) {
  Tensor x = src_embed_.forward(src);
  if (weights_out) weights_out->assign(enc_.size(), Tensor());
  for (size_t i = 0; i < enc_.size(); ++i)
    x = enc_[i]->forward(x, src_padding, weights_out ? &(*weights_out)[i] : nullptr);
  return enc_ln_f_ ? enc_ln_f_->forward(x) : x;
}

Tensor Seq2Seq::decode(const Ids& tgt, const Tensor& memory, const Mask* src_padding,
                       std::vector<DecoderLayerCache>* cache, bool last_only, DecoderWeights* weights_out) {
  if (cache && cache->empty()) cache->resize(dec_.size());
  int64_t offset = cache ? (*cache)[0].self.length() : 0;
  Tensor x = tgt_embed_.forward(tgt, offset);
  if (weights_out) *weights_out = {std::vector<Tensor>(dec_.size()), std::vector<Tensor>(dec_.size())};
  for (size_t i = 0; i < dec_.size(); ++i) {
    DecoderWeightsOut w;
    if (weights_out) w = {&weights_out->self[i], &weights_out->cross[i]};
    x = dec_[i]->forward(x, memory, src_padding, cache ? &(*cache)[i] : nullptr, w);
  }
  if (dec_ln_f_) x = dec_ln_f_->forward(x);
  if (last_only) x = slice(x, 1, x.size(1) - 1, x.size(1));
  return matmul(x, src_embed_.tokens->weight, false, true);  // tied output projection: [B, T, V]
}

ModelOutput Seq2Seq::forward(const Ids& src, const Ids& tgt, const Ids* targets, float label_smoothing) {
  Mask src_padding = padding_mask(src, config_.pad_id);
  ModelOutput out;
  out.logits = decode(tgt, encode(src, &src_padding), &src_padding);
  if (targets) {
    QKV_CHECK(targets->shape == tgt.shape, "seq2seq: expected targets of shape ", str(tgt.shape), ", got ",
              str(targets->shape));
    int64_t n = targets->numel();
    out.loss = cross_entropy(out.logits.reshape({n, config_.vocab_size}), Ids(targets->data, {n}), config_.pad_id,
                             label_smoothing);
  }
  return out;
}

}  // namespace qkv
