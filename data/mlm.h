// Masked-LM corruption (BERT): pick 15% of the ordinary tokens; of those 80% become MASK, 10% a random
// ordinary token, 10% stay; the targets keep the original token there and -100 elsewhere.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

class Tokenizer;

constexpr int32_t kIgnoreIndex = -100;  // a target the loss skips, as PyTorch's cross_entropy default

// What masking needs to know of a vocabulary.
struct MlmVocab {
  int32_t size = 0;
  int32_t mask_id = -1;
  std::vector<uint8_t> special;       // [size] 1 where the id is a special token (never chosen, never drawn)
  std::vector<int32_t> ordinary_ids;  // the ids random replacements are drawn from

  MlmVocab(int32_t vocab_size, int32_t mask, const std::vector<int32_t>& special_ids);
  static MlmVocab from(const Tokenizer& tokenizer);  // an error when it has no MASK token
};

struct MlmBatch {
  Ids inputs;   // [B, T] corrupted
  Ids targets;  // [B, T] the original id where chosen, kIgnoreIndex elsewhere
};

struct MlmRates {
  float choose = 0.15f, to_mask = 0.8f, to_random = 0.1f;  // the rest of the chosen ones stay unchanged
};

// When no position of the whole batch was chosen but some ordinary token exists, one is chosen at random,
// so that the loss always has a target.
MlmBatch mask_tokens(const Ids& inputs, const MlmVocab& vocab, Rng& rng, const MlmRates& rates = {});

}  // namespace qkv
