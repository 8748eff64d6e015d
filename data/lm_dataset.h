// Language-model data: a token stream, its train/val split, and random windows of T + 1 tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/token_source.h"

namespace qkv {

struct LmBatch {
  Ids inputs;   // [B, T] tokens i .. i+T-1 of a window
  Ids targets;  // [B, T] tokens i+1 .. i+T: each input's next token
};

class LmDataset {
 public:
  // `name` ("train split of data/austen.txt") is for error messages.
  LmDataset(std::vector<int32_t> tokens, std::string name);
  // Tokens [begin, end) of a shared source (a split of memory-mapped token files reads only its windows).
  LmDataset(std::shared_ptr<const TokenSource> source, int64_t begin, int64_t end, std::string name);

  // B windows at offsets drawn uniformly from [0, size() - T - 1], as nanoGPT's get_batch. A stream shorter
  // than T + 1 tokens is an error naming both lengths.
  LmBatch batch(int64_t B, int64_t T, Rng& rng) const;

  // Tokens [begin, begin + count) of this stream.
  std::vector<int32_t> tokens(int64_t begin, int64_t count) const;
  int64_t size() const { return end_ - begin_; }
  const std::string& name() const { return name_; }

 private:
  std::shared_ptr<const TokenSource> source_;
  int64_t begin_ = 0, end_ = 0;
  std::string name_;
};

struct LmSplit {
  LmDataset train, val;
};

// The val split is `val` (read from `val_source`) when given, else the last val_fraction of `tokens`
// (contiguous, as nanoGPT: train = tokens[:int(n * (1 - val_fraction))]). val_fraction must be in [0, 1).
// `source` names the corpus in messages.
LmSplit split_lm(std::vector<int32_t> tokens, const std::string& source, double val_fraction,
                 std::optional<std::vector<int32_t>> val = std::nullopt, const std::string& val_source = "val file");
// The same split of a shared source (token files), without copying it.
LmSplit split_lm(std::shared_ptr<const TokenSource> tokens, const std::string& source, double val_fraction,
                 std::shared_ptr<const TokenSource> val = nullptr, const std::string& val_source = "val file");

}  // namespace qkv
