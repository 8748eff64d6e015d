#include "nn/gpt.h"

#include <cmath>

#include "core/ops.h"

namespace qkv {

Tensor add_positions(const Tensor& x, const LearnedPositions* learned, const SinusoidalPositions* sinusoids,
                     int64_t offset) {
  int64_t T = x.size(1);
  if (learned) return x + learned->forward(T, offset);  // [B, T, C] + [T, C]
  if (sinusoids) return x + sinusoids->forward(T, offset);
  return x;
}

void init_gpt_style(Module& model, Rng& rng, int64_t n_layer, float std) {
  float proj_std = std / std::sqrt(2.0f * static_cast<float>(n_layer));
  for (auto& [name, p] : model.named_parameters()) {
    bool is_norm = name.find("ln_") != std::string::npos;
    bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      std::fill_n(p.data(), p.numel(), is_bias ? 0.0f : 1.0f);
    } else if (is_bias || p.dim() < 2) {
      std::fill_n(p.data(), p.numel(), 0.0f);
    } else {
      bool residual = name.size() >= 13 && name.compare(name.size() - 13, 13, "c_proj.weight") == 0;
      Tensor init = Tensor::randn(p.shape(), rng, residual ? proj_std : std);
      std::copy_n(init.data(), p.numel(), p.data());
    }
  }
}

GPT::GPT(const ModelConfig& config) : config_(config), context_(std::make_shared<DropoutContext>()) {
  config_.validate();
  const ModelConfig& c = config_;
  auto transformer = register_module("transformer", std::make_shared<ModuleList>());
  wte_ = transformer->add("wte", std::make_shared<Embedding>(c.vocab_size, c.d_model));
  if (c.positions == Positions::Learned)
    wpe_ = transformer->add("wpe", std::make_shared<LearnedPositions>(c.block_size, c.d_model));
  if (c.positions == Positions::Sinusoidal)
    sinusoids_ = transformer->add("wpe", std::make_shared<SinusoidalPositions>(c.block_size, c.d_model));
  drop_ = transformer->add("drop", std::make_shared<Dropout>(c.dropout, context_));
  auto h = transformer->add("h", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i)
    h_.push_back(h->add(std::to_string(i), std::make_shared<DecoderLayer>(c, false, context_)));
  if (c.norm == Norm::Pre) ln_f_ = transformer->add("ln_f", std::make_shared<LayerNorm>(c.d_model, c.bias));
}

void GPT::init_weights(Rng& rng) { init_gpt_style(*this, rng, config_.n_layer); }

ModelOutput GPT::forward(const Ids& idx, const Ids* targets, std::vector<DecoderLayerCache>* cache, bool last_only,
                         std::vector<Tensor>* weights_out) {
  QKV_CHECK(idx.shape.size() == 2, "gpt: expected token ids of shape [B, T], got ", str(idx.shape));
  int64_t B = idx.shape[0], T = idx.shape[1], V = config_.vocab_size;
  if (cache && cache->empty()) cache->resize(h_.size());
  int64_t offset = cache ? (*cache)[0].self.length() : 0;
  QKV_CHECK(T > 0 && offset + T <= config_.block_size, "gpt: ", offset + T, " tokens exceed block_size ",
            config_.block_size, (offset ? " (with the cache)" : ""));
  Tensor x = drop_->forward(add_positions(wte_->forward(idx), wpe_.get(), sinusoids_.get(), offset));  // [B, T, C]
  if (weights_out) weights_out->assign(h_.size(), Tensor());
  for (size_t i = 0; i < h_.size(); ++i)
    x = h_[i]->forward(x, Tensor(), nullptr, cache ? &(*cache)[i] : nullptr,
                       {weights_out ? &(*weights_out)[i] : nullptr});
  if (ln_f_) x = ln_f_->forward(x);
  if (last_only) x = slice(x, 1, T - 1, T);
  ModelOutput out;
  out.logits = matmul(x, wte_->weight, false, true);  // lm_head, tied to wte: [B, T, V]
  if (targets) {
    QKV_CHECK(targets->shape == idx.shape && !last_only, "gpt: expected targets of shape ", str(idx.shape), ", got ",
              str(targets->shape));
    out.loss = cross_entropy(out.logits.reshape({B * T, V}), Ids(targets->data, {B * T}), -1);
  }
  return out;
}

}  // namespace qkv
