// Encoder: the BERT-style model, with a masked-LM head (tied to the embedding) and a classification head.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/gpt.h"

namespace qkv {

// wte, wpe (learned; sinusoidal as an option), h.{i} (ln_1, attn, ln_2, mlp), ln_f (pre-norm), and with
// n_classes > 0 classifier [n_classes, C] on the pooled state.
class Encoder : public Module {
 public:
  explicit Encoder(const ModelConfig& config);
  void init_weights(Rng& rng);  // as GPT's

  // idx [B, T], padding [B, T] (1 = pad) -> hidden states [B, T, C]. weights_out, if given, receives each
  // layer's attention weights.
  Tensor encode(const Ids& idx, const Mask* padding, std::vector<Tensor>* weights_out = nullptr);
  // Masked LM: logits [B, T, V]; targets [B, T] hold the original id at chosen positions and -100 elsewhere.
  ModelOutput mlm(const Ids& idx, const Mask* padding, const Ids* targets = nullptr);
  // Classification: logits [B, n_classes] from the first token's state (cls) or the mean over real tokens.
  ModelOutput classify(const Ids& idx, const Mask* padding, const Ids* labels = nullptr);

  const ModelConfig& config() const { return config_; }
  DropoutContext& dropout_context() { return *context_; }

 private:
  ModelConfig config_;
  DropoutHandle context_;
  std::shared_ptr<Embedding> wte_;
  std::shared_ptr<LearnedPositions> wpe_;
  std::shared_ptr<SinusoidalPositions> sinusoids_;
  std::shared_ptr<Dropout> drop_;
  std::vector<std::shared_ptr<EncoderLayer>> h_;
  std::shared_ptr<LayerNorm> ln_f_;
  std::shared_ptr<Linear> classifier_;
};

// [B, T] ids -> [B, T] mask with 1 where the id is pad_id (none when pad_id is -1).
Mask padding_mask(const Ids& idx, int32_t pad_id);

}  // namespace qkv
