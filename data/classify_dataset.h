// Classification data: TSV label<TAB>text lines, tokenized behind CLS, and padded batches of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace qkv {

class Tokenizer;

struct ClassifyBatch {
  Ids inputs;  // [B, T] CLS + text tokens, PAD after; T is the longest row of the batch
  Ids labels;  // [B] class ids
};

enum class Overlong { kDrop, kTruncate };  // what happens to an example longer than max_len

class ClassifyDataset {
 public:
  // Class ids follow the sorted label strings of this file, or `labels` when given (a val file must use
  // the training set's classes: an unknown label is then an error naming the line). max_len counts CLS.
  // The tokenizer needs PAD and CLS.
  ClassifyDataset(std::string_view tsv, const std::string& source, const Tokenizer& tokenizer, int64_t max_len,
                  Overlong overlong = Overlong::kDrop, std::vector<std::string> labels = {});

  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  int64_t dropped() const { return dropped_; }      // examples over max_len (kDrop)
  int64_t truncated() const { return truncated_; }  // examples cut to max_len (kTruncate)
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<int32_t>& example(int64_t i) const { return examples_.at(static_cast<size_t>(i)); }
  int32_t label(int64_t i) const { return label_ids_.at(static_cast<size_t>(i)); }

  ClassifyBatch batch(const std::vector<int64_t>& indices) const;
  ClassifyBatch sample(int64_t B, Rng& rng) const;  // B examples drawn with replacement

 private:
  std::vector<std::vector<int32_t>> examples_;
  std::vector<int32_t> label_ids_;
  std::vector<std::string> labels_;
  int64_t dropped_ = 0, truncated_ = 0;
  int32_t pad_ = -1;
};

}  // namespace qkv
