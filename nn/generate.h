// Generation: sampling from GPT (greedy, temperature, top-k, top-p) and greedy or beam decoding for Seq2Seq,
// with KV caches that give the same tokens as recomputing the whole sequence.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "nn/gpt.h"
#include "nn/seq2seq.h"

namespace qkv {

struct SampleOptions {
  int64_t max_new_tokens = 200;
  float temperature = 1.0f;  // 0 means greedy
  int64_t top_k = 0;         // 0 means off
  float top_p = 1.0f;        // 1 means off
  uint64_t seed = 1337;
  int32_t eos_id = -1;  // stop after this token (-1: never)
  bool use_cache = true;
  std::function<void(int32_t)> on_token;  // called with each new token as it is drawn (to print as it goes)
};

// Picks the next token from one row of logits [V] (temperature, top-k, top-p, then one uniform draw).
int32_t sample_token(const float* logits, int64_t V, const SampleOptions& options, Rng& rng);

// Returns the prompt followed by the new tokens. A prompt longer than block_size is cropped from the left
// (the returned sequence still starts with the whole prompt); so is the context once it outgrows the block.
std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, const SampleOptions& options);

struct DecodeOptions {
  int32_t bos_id = 1, eos_id = 2;
  int64_t max_len = 0;          // new tokens at most; 0 means block_size - 1
  int64_t beam = 1;             // 1 is greedy
  float length_penalty = 0.6f;  // alpha of GNMT's ((5 + len) / 6)^alpha; 0 ranks by total log-probability
  bool use_cache = true;
};

// Decodes one source sequence; returns the target tokens without BOS and EOS.
std::vector<int32_t> translate(Seq2Seq& model, const std::vector<int32_t>& src, const DecodeOptions& options);

}  // namespace qkv
