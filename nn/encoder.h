// Encoder: the BERT-style model, with a masked-LM head (tied to the embedding) and a classification head.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/blocks.h"
#include "nn/embeddings.h"
#include "nn/model_common.h"

namespace qkv {

// wte, wpe (learned; sinusoidal as an option), h.{i} (ln_1, attn, ln_2, mlp), ln_f (pre-norm), and with
// n_classes > 0 classifier [n_classes, C] on the pooled state.
class Encoder : public ModelBase {
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

 private:
  InputEmbeddings embeddings_;
  std::vector<std::shared_ptr<EncoderLayer>> h_;
  std::shared_ptr<LayerNorm> ln_f_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace qkv
