// Seq2Seq: the encoder-decoder transformer of Vaswani et al. (2017), pre-norm by default as the Annotated
// Transformer, post-norm as the paper by model.norm.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/blocks.h"
#include "nn/embeddings.h"
#include "nn/model_common.h"

namespace qkv {

// Each decoder layer's attention weights, for inspection: self [B, NH, T, T], cross [B, NH, T, S].
struct DecoderWeights {
  std::vector<Tensor> self, cross;
};

// embed (shared by source and target: one vocabulary), scaled by sqrt(d_model); sinusoidal positions;
// encoder.h.{i}, encoder.ln_f; decoder.h.{i} (ln_1, attn, ln_x, cross_attn, ln_2, mlp), decoder.ln_f;
// the output projection tied to embed.
class Seq2Seq : public ModelBase {
 public:
  explicit Seq2Seq(const ModelConfig& config);
  void init_weights(Rng& rng);  // Xavier-uniform for every matrix, as the Annotated Transformer

  // src [B, S] -> memory [B, S, C]; padding of the source is masked in self-attention. weights_out, if given,
  // receives each layer's attention weights [B, NH, S, S].
  Tensor encode(const Ids& src, const Mask* src_padding, std::vector<Tensor>* weights_out = nullptr);
  // tgt [B, T] (decoder input: BOS then the target shifted right) -> logits [B, T, V]. With a cache (one entry
  // per layer) tgt holds only the new tokens and the memory is read once. weights_out, if given, receives each
  // layer's self- and cross-attention weights.
  Tensor decode(const Ids& tgt, const Tensor& memory, const Mask* src_padding,
                std::vector<DecoderLayerCache>* cache = nullptr, bool last_only = false,
                DecoderWeights* weights_out = nullptr);
  // Teacher forcing: logits for tgt and, with targets (pad_id ignored), the label-smoothed loss.
  ModelOutput forward(const Ids& src, const Ids& tgt, const Ids* targets = nullptr, float label_smoothing = 0.0f);

 private:
  InputEmbeddings src_embed_, tgt_embed_;  // one token table and dropout; learned positions of their own
  std::vector<std::shared_ptr<EncoderLayer>> enc_;
  std::vector<std::shared_ptr<DecoderLayer>> dec_;
  std::shared_ptr<LayerNorm> enc_ln_f_, dec_ln_f_;
};

}  // namespace qkv
