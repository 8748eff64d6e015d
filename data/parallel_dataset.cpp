#include "data/parallel_dataset.h"

#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "data/batching.h"
#include "data/tokenizer.h"
#include "data/tsv.h"

namespace qkv {

ParallelDataset::ParallelDataset(std::string_view tsv, const std::string& source, const Tokenizer& src_tokenizer,
                                 const Tokenizer& tgt_tokenizer, int64_t max_len) {
  src_pad_ = src_tokenizer.special("PAD");
  pad_ = tgt_tokenizer.special("PAD");
  bos_ = tgt_tokenizer.special("BOS");
  eos_ = tgt_tokenizer.special("EOS");
  QKV_CHECK(src_pad_ >= 0, source, ": the source tokenizer has no PAD token; parallel data needs one");
  QKV_CHECK(pad_ >= 0 && bos_ >= 0 && eos_ >= 0, source, ": the target tokenizer lacks ",
            pad_ < 0 ? "PAD" : (bos_ < 0 ? "BOS" : "EOS"), "; parallel data needs PAD, BOS and EOS");
  QKV_CHECK(max_len >= 2, source, ": max_len ", max_len, " leaves no room for a target after BOS, expected >= 2");
  const std::vector<TsvRow> rows = parse_tsv(tsv, source, "source", "target");
  for (const TsvRow& r : rows) {
    std::vector<int32_t> s, t;
    try {
      s = src_tokenizer.encode(r.left);
      t = tgt_tokenizer.encode(r.right);
    } catch (const Error& e) {
      QKV_FAIL(source, ":", r.line, ": ", e.what());
    }
    if (static_cast<int64_t>(s.size()) > max_len || static_cast<int64_t>(t.size()) + 1 > max_len) {
      ++dropped_;
      continue;
    }
    src_.push_back(std::move(s));
    tgt_.push_back(std::move(t));
  }
  QKV_CHECK(!src_.empty(), source, ": all ", rows.size(), " pairs are longer than max_len ", max_len, " tokens");
}

Seq2SeqBatch ParallelDataset::batch(const std::vector<int64_t>& indices) const {
  QKV_CHECK(!indices.empty(), "parallel batch: no pairs requested");
  std::vector<std::vector<int32_t>> tgt_in, targets;
  std::vector<const std::vector<int32_t>*> src_rows;
  for (int64_t i : indices) {
    QKV_CHECK(i >= 0 && i < size(), "parallel batch: pair ", i, " out of range [0, ", size(), ")");
    const std::vector<int32_t>& t = tgt_[static_cast<size_t>(i)];
    src_rows.push_back(&src_[static_cast<size_t>(i)]);
    tgt_in.emplace_back(1, bos_);
    tgt_in.back().insert(tgt_in.back().end(), t.begin(), t.end());
    targets.push_back(t);
    targets.back().push_back(eos_);
  }
  std::vector<const std::vector<int32_t>*> in_rows, target_rows;
  for (size_t b = 0; b < indices.size(); ++b) {
    in_rows.push_back(&tgt_in[b]);
    target_rows.push_back(&targets[b]);
  }
  return {pad_rows(src_rows, src_pad_), pad_rows(in_rows, pad_), pad_rows(target_rows, pad_)};
}

std::vector<std::vector<int64_t>> ParallelDataset::epoch(int64_t B, Rng& rng, int64_t pool_batches) const {
  QKV_CHECK(B > 0 && pool_batches > 0, "parallel epoch: batch size ", B, " and pool of ", pool_batches,
            " batches must be positive");
  std::vector<int64_t> order(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) order[static_cast<size_t>(i)] = i;
  shuffle(order, rng);
  auto length = [&](int64_t i) {
    return std::make_pair(src_[static_cast<size_t>(i)].size(), tgt_[static_cast<size_t>(i)].size());
  };
  std::vector<std::vector<int64_t>> batches;
  const int64_t pool = B > INT64_MAX / pool_batches ? INT64_MAX : B * pool_batches;
  for (int64_t p = 0; p < size(); p += std::min(pool, size() - p)) {
    auto begin = order.begin() + p, end = order.begin() + p + std::min(pool, size() - p);
    // Stable, so that pairs of equal lengths keep their shuffled order.
    std::stable_sort(begin, end, [&](int64_t a, int64_t b) { return length(a) < length(b); });
    for (auto it = begin; it != end;) {
      auto stop = it + std::min<std::ptrdiff_t>(B, end - it);
      batches.emplace_back(it, stop);
      it = stop;
    }
  }
  std::vector<int64_t> batch_order(batches.size());
  for (size_t i = 0; i < batch_order.size(); ++i) batch_order[i] = static_cast<int64_t>(i);
  shuffle(batch_order, rng);
  std::vector<std::vector<int64_t>> shuffled;
  for (int64_t i : batch_order) shuffled.push_back(std::move(batches[static_cast<size_t>(i)]));
  return shuffled;
}

}  // namespace qkv
