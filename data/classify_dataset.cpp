#include "data/classify_dataset.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "data/batching.h"
#include "data/tokenizer.h"
#include "data/tsv.h"

namespace qkv {

ClassifyDataset::ClassifyDataset(std::string_view tsv, const std::string& source, const Tokenizer& tokenizer,
                                 int64_t max_len, Overlong overlong, std::vector<std::string> labels)
    : labels_(std::move(labels)) {
  pad_ = tokenizer.special("PAD");
  const int32_t cls = tokenizer.special("CLS");
  QKV_CHECK(pad_ >= 0 && cls >= 0, source, ": classification needs PAD and CLS tokens; the tokenizer lacks ",
            pad_ < 0 ? "PAD" : "CLS");
  QKV_CHECK(max_len >= 2, source, ": max_len ", max_len, " leaves no room for text after CLS, expected >= 2");
  const std::vector<TsvRow> rows = parse_tsv(tsv, source, "label", "text");

  const bool fixed_labels = !labels_.empty();
  if (!fixed_labels) {
    for (const TsvRow& r : rows) labels_.emplace_back(r.left);
    std::sort(labels_.begin(), labels_.end());
    labels_.erase(std::unique(labels_.begin(), labels_.end()), labels_.end());
  }
  std::map<std::string, int32_t, std::less<>> label_id;
  for (size_t i = 0; i < labels_.size(); ++i) label_id[labels_[i]] = static_cast<int32_t>(i);

  for (const TsvRow& r : rows) {
    auto it = label_id.find(r.left);
    QKV_CHECK(it != label_id.end(), source, ":", r.line, ": label '", r.left, "' is not one of the ", labels_.size(),
              " training labels");
    std::vector<int32_t> ids{cls};
    try {
      std::vector<int32_t> text = tokenizer.encode(r.right);
      ids.insert(ids.end(), text.begin(), text.end());
    } catch (const Error& e) {
      QKV_FAIL(source, ":", r.line, ": ", e.what());
    }
    if (static_cast<int64_t>(ids.size()) > max_len) {
      if (overlong == Overlong::kDrop) {
        ++dropped_;
        continue;
      }
      ids.resize(static_cast<size_t>(max_len));
      ++truncated_;
    }
    examples_.push_back(std::move(ids));
    label_ids_.push_back(it->second);
  }
  QKV_CHECK(!examples_.empty(), source, ": all ", rows.size(), " examples are longer than max_len ", max_len,
            " tokens");
}

ClassifyBatch ClassifyDataset::batch(const std::vector<int64_t>& indices) const {
  QKV_CHECK(!indices.empty(), "classification batch: no examples requested");
  std::vector<const std::vector<int32_t>*> rows;
  std::vector<int32_t> labels;
  for (int64_t i : indices) {
    QKV_CHECK(i >= 0 && i < size(), "classification batch: example ", i, " out of range [0, ", size(), ")");
    rows.push_back(&examples_[static_cast<size_t>(i)]);
    labels.push_back(label_ids_[static_cast<size_t>(i)]);
  }
  const auto B = static_cast<int64_t>(indices.size());
  return {pad_rows(rows, pad_), Ids(std::move(labels), {B})};
}

ClassifyBatch ClassifyDataset::sample(int64_t B, Rng& rng) const {
  QKV_CHECK(B > 0, "classification batch: batch size ", B, " must be positive");
  std::vector<int64_t> indices(static_cast<size_t>(B));
  for (int64_t& i : indices) i = uniform_index(rng, size());
  return batch(indices);
}

}  // namespace qkv
