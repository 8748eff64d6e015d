// ModelConfig: the typed description of a model, shared by the three model kinds.
#pragma once

#include <cstdint>
#include <string>

#include "core/enum_names.h"

namespace qkv {

// Each enum with its one table of config names, used both to parse a config and to print it.
enum class ModelKind { Gpt, Encoder, Seq2Seq };
inline constexpr EnumName<ModelKind> kModelKinds[] = {
    {ModelKind::Gpt, "gpt"}, {ModelKind::Encoder, "encoder"}, {ModelKind::Seq2Seq, "seq2seq"}};
enum class Norm { Pre, Post };  // LayerNorm before each sublayer (+ a final one) or after
inline constexpr EnumName<Norm> kNorms[] = {{Norm::Pre, "pre"}, {Norm::Post, "post"}};
enum class Positions { Learned, Sinusoidal, Rope };  // added to embeddings, or rotating q and k
inline constexpr EnumName<Positions> kPositions[] = {
    {Positions::Learned, "learned"}, {Positions::Sinusoidal, "sinusoidal"}, {Positions::Rope, "rope"}};
// GeluTanh is GPT-2's (Hugging Face's "gelu_new", llm.c's), so imported GPT-2 weights compute what they learned.
enum class Activation { Gelu, GeluTanh, Relu };
inline constexpr EnumName<Activation> kActivations[] = {
    {Activation::Gelu, "gelu"}, {Activation::GeluTanh, "gelu_tanh"}, {Activation::Relu, "relu"}};
enum class Pooling { Cls, Mean };  // classification: the first token's state, or the mean over real tokens
inline constexpr EnumName<Pooling> kPoolings[] = {{Pooling::Cls, "cls"}, {Pooling::Mean, "mean"}};
// Self-attention: exact softmax over every visible key; over the keys within `window` positions; or kernelised
// linear attention (elu + 1 features).
enum class AttentionKind { Full, Local, Linear };
inline constexpr EnumName<AttentionKind> kAttentionKinds[] = {
    {AttentionKind::Full, "full"}, {AttentionKind::Local, "local"}, {AttentionKind::Linear, "linear"}};

struct ModelConfig {
  ModelKind kind = ModelKind::Gpt;
  int64_t n_layer = 4, n_head = 4, d_model = 128;
  int64_t d_ff = 0;  // 0 means 4 * d_model
  int64_t block_size = 64;
  int64_t vocab_size = 0;
  float dropout = 0.0f;
  bool bias = false;
  Norm norm = Norm::Pre;
  Positions positions = Positions::Learned;
  Activation activation = Activation::Gelu;
  int64_t n_classes = 0;  // > 0 adds a classification head to the encoder
  Pooling pooling = Pooling::Cls;
  AttentionKind attention = AttentionKind::Full;
  int64_t window = 128;  // local attention: query i sees keys j with |i - j| < window (and j <= i when causal)
  int32_t pad_id = -1;   // the padding token (encoder and seq2seq), -1 when the vocabulary has none

  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  int64_t head_size() const { return d_model / n_head; }
  // Throws qkv::Error naming the first bad field (sizes, n_head dividing d_model, pad_id in the vocabulary).
  void validate() const;
};

inline const char* name(ModelKind kind) { return enum_name(kModelKinds, kind); }

}  // namespace qkv
