// GPT: the decoder-only language model, with nanoGPT's architecture, initialisation and parameter names.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/blocks.h"
#include "nn/positions.h"

namespace qkv {

struct ModelOutput {
  Tensor logits;  // [B, T, V] (or [B, n_classes])
  Tensor loss;    // rank 0; undefined without targets
};

// transformer.wte, transformer.wpe (learned positions), transformer.h.{i} (ln_1, attn, ln_2, mlp),
// transformer.ln_f, and lm_head tied to wte (so it is not a separate parameter).
class GPT : public Module {
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

  const ModelConfig& config() const { return config_; }
  DropoutContext& dropout_context() { return *context_; }

 private:
  ModelConfig config_;
  DropoutHandle context_;
  std::shared_ptr<Embedding> wte_;
  std::shared_ptr<LearnedPositions> wpe_;
  std::shared_ptr<SinusoidalPositions> sinusoids_;
  std::shared_ptr<Dropout> drop_;
  std::vector<std::shared_ptr<DecoderLayer>> h_;
  std::shared_ptr<LayerNorm> ln_f_;
};

// Adds the position rows for T tokens starting at `offset` to x [B, T, C] (learned or sinusoidal; none for RoPE).
Tensor add_positions(const Tensor& x, const LearnedPositions* learned, const SinusoidalPositions* sinusoids,
                     int64_t offset);

// Normal(0, std) for every weight matrix and embedding, std / sqrt(2 n_layer) for names ending in
// "c_proj.weight", zero biases, LayerNorm weights left at one. Shared by GPT and Encoder.
void init_gpt_style(Module& model, Rng& rng, int64_t n_layer, float std = 0.02f);

}  // namespace qkv
