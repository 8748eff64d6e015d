// InputEmbeddings: the front end of every model kind, token ids -> dropout(token rows + position rows).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "nn/config.h"
#include "nn/layers.h"
#include "nn/positions.h"

namespace qkv {

// The token table [vocab_size, C], its rows scaled by sqrt(C) when asked (Vaswani et al. section 3.4), plus
// the positions the config names (learned or sinusoidal; none for RoPE, which acts inside attention), then
// dropout. Not a Module itself: each model registers the parts where its checkpoint names put them
// (see NOTE [parameter names]).
class InputEmbeddings {
 public:
  // `who` starts the error messages ("gpt", "encoder", "seq2seq").
  InputEmbeddings(const ModelConfig& c, DropoutHandle context, const char* who, bool scaled = false);

  // A front end over the same token table, sinusoids and dropout, with learned positions of its own
  // (Seq2Seq: one vocabulary, separate position tables for source and target).
  InputEmbeddings with_own_positions() const;

  // Passes the parts to `add` under nanoGPT's names: "wte", "wpe" (learned or sinusoidal), "drop".
  void register_parts(const std::function<void(const std::string&, std::shared_ptr<Module>)>& add) const;

  // ids [B, T] -> [B, T, C] at positions offset .. offset + T - 1 (offset: tokens already in a KV cache).
  Tensor forward(const Ids& ids, int64_t offset = 0) const;

  std::shared_ptr<Embedding> tokens;
  std::shared_ptr<LearnedPositions> learned;       // set with learned positions
  std::shared_ptr<SinusoidalPositions> sinusoids;  // set with sinusoidal positions
  std::shared_ptr<Dropout> drop;

 private:
  const char* who_;
  int64_t block_size_;
  bool scaled_;
  float scale_;
};

}  // namespace qkv
