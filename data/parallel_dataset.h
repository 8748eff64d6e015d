// Parallel data for seq2seq: TSV source<TAB>target pairs, length-bucketed and padded for teacher forcing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

class Tokenizer;

struct Seq2SeqBatch {
  Ids src;      // [B, S] source tokens, PAD after
  Ids tgt_in;   // [B, T] BOS + target: the decoder's input under teacher forcing, PAD after
  Ids targets;  // [B, T] target + EOS: what each decoder position predicts, PAD after (the loss ignores PAD)
};

class ParallelDataset {
 public:
  // A pair is dropped (and counted) when its source is longer than max_len tokens or its target with BOS
  // is. The source tokenizer needs PAD; the target tokenizer PAD, BOS and EOS (they may be one tokenizer).
  ParallelDataset(std::string_view tsv, const std::string& source, const Tokenizer& src_tokenizer,
                  const Tokenizer& tgt_tokenizer, int64_t max_len);

  int64_t size() const { return static_cast<int64_t>(src_.size()); }
  int64_t dropped() const { return dropped_; }
  const std::vector<int32_t>& src(int64_t i) const { return src_.at(static_cast<size_t>(i)); }
  const std::vector<int32_t>& tgt(int64_t i) const { return tgt_.at(static_cast<size_t>(i)); }

  Seq2SeqBatch batch(const std::vector<int64_t>& indices) const;

  // One epoch of batches of B pairs of similar lengths: the pairs are shuffled, cut into pools of
  // pool_batches * B, each pool sorted by (source, target) length and cut into batches, and the batch
  // order shuffled (torchtext's BucketIterator). Padding stays small and every pair is used once.
  std::vector<std::vector<int64_t>> epoch(int64_t B, Rng& rng, int64_t pool_batches = 100) const;

 private:
  std::vector<std::vector<int32_t>> src_, tgt_;
  int64_t dropped_ = 0;
  int32_t src_pad_ = -1, pad_ = -1, bos_ = -1, eos_ = -1;
};

}  // namespace qkv
