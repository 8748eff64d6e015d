// GPT: the decoder-only language model, with nanoGPT's architecture, initialisation and parameter names.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/blocks.h"
#include "nn/embeddings.h"
#include "nn/model_common.h"

namespace qkv {

// transformer.wte, transformer.wpe (learned positions), transformer.h.{i} (ln_1, attn, ln_2, mlp),
// transformer.ln_f, and lm_head tied to wte (so it is not a separate parameter).
class GPT : public ModelBase {
 public:
  explicit GPT(const ModelConfig& config);
  // nanoGPT's init: weights normal(0, 0.02), residual projections (c_proj) normal(0, 0.02 / sqrt(2 n_layer)),
  // biases zero, LayerNorm weights one.
  void init_weights(Rng& rng);

  // idx [B, T] -> logits [B, T, V]. targets [B, T] (id -1 ignored, as nanoGPT) adds the mean cross-entropy.
  // With a cache (one entry per layer) idx holds only the new tokens; last_only keeps the last position's
  // logits [B, 1, V], which is all generation needs. weights_out, if given, receives each layer's attention
  // weights [B, NH, T, T + cached], for inspection.
  ModelOutput forward(const Ids& idx, const Ids* targets = nullptr, std::vector<DecoderLayerCache>* cache = nullptr,
                      bool last_only = false, std::vector<Tensor>* weights_out = nullptr);

 private:
  InputEmbeddings embeddings_;
  std::vector<std::shared_ptr<DecoderLayer>> h_;
  std::shared_ptr<LayerNorm> ln_f_;
};

}  // namespace qkv
