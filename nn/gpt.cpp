#include "nn/gpt.h"

#include "core/ops.h"

namespace qkv {

GPT::GPT(const ModelConfig& config) : ModelBase(config), embeddings_(config_, context_, "gpt") {
  const ModelConfig& c = config_;
  auto transformer = register_module("transformer", std::make_shared<ModuleList>());
  embeddings_.register_parts(
      [&](const std::string& name, std::shared_ptr<Module> part) { transformer->add(name, part); });
  auto h = transformer->add("h", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i)
    h_.push_back(h->add(std::to_string(i), std::make_shared<DecoderLayer>(c, false, context_)));
  if (c.norm == Norm::Pre) ln_f_ = transformer->add("ln_f", std::make_shared<LayerNorm>(c.d_model, c.bias));
}

void GPT::init_weights(Rng& rng) { init_gpt_style(*this, rng, config_.n_layer); }

ModelOutput GPT::forward(const Ids& idx, const Ids* targets, std::vector<DecoderLayerCache>* cache, bool last_only,
                         std::vector<Tensor>* weights_out) {
  if (cache && cache->empty()) cache->resize(h_.size());
  int64_t offset = cache ? (*cache)[0].self.length() : 0;
  Tensor x = embeddings_.forward(idx, offset);  // [B, T, C]; checks idx's shape
  int64_t B = idx.shape[0], T = idx.shape[1], V = config_.vocab_size;
  if (weights_out) weights_out->assign(h_.size(), Tensor());
  for (size_t i = 0; i < h_.size(); ++i)
    x = h_[i]->forward(x, Tensor(), nullptr, cache ? &(*cache)[i] : nullptr,
                       {weights_out ? &(*weights_out)[i] : nullptr});
  if (ln_f_) x = ln_f_->forward(x);
  if (last_only) x = slice(x, 1, T - 1, T);
  ModelOutput out;
  out.logits = matmul(x, embeddings_.tokens->weight, false, true);  // lm_head, tied to wte: [B, T, V]
  if (targets) {
    QKV_CHECK(targets->shape == idx.shape && !last_only, "gpt: expected targets of shape ", str(idx.shape), ", got ",
              str(targets->shape));
    out.loss = cross_entropy(out.logits.reshape({B * T, V}), Ids(targets->data, {B * T}), -1);
  }
  return out;
}

}  // namespace qkv
