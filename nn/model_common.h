// What the three model kinds (GPT, Encoder, Seq2Seq) share: config and dropout context, output, padding mask, init.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "core/tensor.h"
#include "nn/config.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace qkv {

struct ModelOutput {
  Tensor logits;  // [B, T, V] (or [B, n_classes])
  Tensor loss;    // rank 0; undefined without targets
};

// The validated config of a model and the dropout context that all its dropout sites share (the trainer
// names each forward pass's masks through it).
class ModelBase : public Module {
 public:
  const ModelConfig& config() const { return config_; }
  DropoutContext& dropout_context() { return *context_; }

 protected:
  explicit ModelBase(const ModelConfig& config);  // throws qkv::Error on a bad config

  ModelConfig config_;
  DropoutHandle context_;
};

// [B, T] ids -> [B, T] mask with 1 where the id is pad_id (none when pad_id is -1).
Mask padding_mask(const Ids& idx, int32_t pad_id);

// Normal(0, std) for every weight matrix and embedding, std / sqrt(2 n_layer) for names ending in
// "c_proj.weight", zero biases, LayerNorm weights left at one: nanoGPT's init, shared by GPT and Encoder.
void init_gpt_style(Module& model, Rng& rng, int64_t n_layer, float std = 0.02f);

}  // namespace qkv
