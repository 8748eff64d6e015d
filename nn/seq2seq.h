// Seq2Seq: the encoder-decoder transformer of Vaswani et al. (2017), pre-norm by default as the Annotated
// Transformer, post-norm as the paper by model.norm.
#pragma once

#include <memory>
#include <vector>

#include "core/rng.h"
#include "nn/gpt.h"

namespace qkv {

// Each decoder layer's attention weights, for inspection: self [B, NH, T, T], cross [B, NH, T, S].
struct DecoderWeights {
  std::vector<Tensor> self, cross;
};

// embed (shared by source and target: one vocabulary), scaled by sqrt(d_model); sinusoidal positions;
// encoder.h.{i}, encoder.ln_f; decoder.h.{i} (ln_1, attn, ln_x, cross_attn, ln_2, mlp), decoder.ln_f;
// the output projection tied to embed.
class Seq2Seq : public Module {
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

  const ModelConfig& config() const { return config_; }
  DropoutContext& dropout_context() { return *context_; }

 private:
  // sqrt(d_model) * embed(ids) + positions (from `learned` when the config asks for learned ones), dropout.
  Tensor embed(const Ids& ids, int64_t offset, const LearnedPositions* learned);

  ModelConfig config_;
  DropoutHandle context_;
  std::shared_ptr<Embedding> embed_;
  std::shared_ptr<LearnedPositions> enc_wpe_, dec_wpe_;
  std::shared_ptr<SinusoidalPositions> sinusoids_;
  std::shared_ptr<Dropout> drop_;
  std::vector<std::shared_ptr<EncoderLayer>> enc_;
  std::vector<std::shared_ptr<DecoderLayer>> dec_;
  std::shared_ptr<LayerNorm> enc_ln_f_, dec_ln_f_;
};

}  // namespace qkv
