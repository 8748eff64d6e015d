// The feed-forward sublayer and the encoder and decoder layers (residuals and LayerNorm, pre- or post-norm).
#pragma once

#include <memory>

#include "nn/attention.h"
#include "nn/config.h"
#include "nn/layers.h"

namespace qkv {

// c_proj(act(c_fc(x))), then dropout: nanoGPT's MLP. c_fc [d_ff, C], c_proj [C, d_ff].
class FeedForward : public Module {
 public:
  FeedForward(int64_t d_model, int64_t d_ff, Activation act, bool bias, float dropout, DropoutHandle context);
  Tensor forward(const Tensor& x) const;

 private:
  Activation act_;
  std::shared_ptr<Linear> c_fc_, c_proj_;
  std::shared_ptr<Dropout> dropout_;
};

// Bidirectional self-attention, then feed-forward.
//   pre-norm:  x += attn(ln_1(x));  x += mlp(ln_2(x))
//   post-norm: x = ln_1(x + attn(x));  x = ln_2(x + mlp(x))
class EncoderLayer : public Module {
 public:
  EncoderLayer(const ModelConfig& c, DropoutHandle context);
  Tensor forward(const Tensor& x, const Mask* padding, Tensor* weights_out = nullptr);

 private:
  Norm norm_;
  std::shared_ptr<LayerNorm> ln_1_, ln_2_;
  std::shared_ptr<MultiHeadAttention> attn_;
  std::shared_ptr<FeedForward> mlp_;
};

// Caches of one decoder layer while generating.
struct DecoderLayerCache {
  KVCache self, cross;
};

// Where a decoder layer hands back its attention weights, for inspection.
struct DecoderWeightsOut {
  Tensor* self = nullptr;
  Tensor* cross = nullptr;
};

// Causal self-attention, then cross-attention over an encoder memory (when built with cross), then
// feed-forward; the same residual and norm pattern as EncoderLayer, with ln_x around cross-attention.
// Without cross it is nanoGPT's Block (ln_1, attn, ln_2, mlp).
class DecoderLayer : public Module {
 public:
  DecoderLayer(const ModelConfig& c, bool cross, DropoutHandle context);
  Tensor forward(const Tensor& x, const Tensor& memory, const Mask* memory_padding, DecoderLayerCache* cache = nullptr,
                 DecoderWeightsOut weights = {});

 private:
  Norm norm_;
  std::shared_ptr<LayerNorm> ln_1_, ln_x_, ln_2_;
  std::shared_ptr<MultiHeadAttention> attn_, cross_attn_;
  std::shared_ptr<FeedForward> mlp_;
};

}  // namespace qkv
