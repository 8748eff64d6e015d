#include "data/lm_dataset.h"

#include <algorithm>

#include "core/error.h"
#include "data/batching.h"

namespace qkv {

LmDataset::LmDataset(std::vector<int32_t> tokens, std::string name)
    : LmDataset(std::make_shared<InMemoryTokens>(std::move(tokens)), 0, -1, std::move(name)) {}

LmDataset::LmDataset(std::shared_ptr<const TokenSource> source, int64_t begin, int64_t end, std::string name)
    : source_(std::move(source)), begin_(begin), end_(end < 0 ? source_->size() : end), name_(std::move(name)) {
  QKV_CHECK(0 <= begin_ && begin_ <= end_ && end_ <= source_->size(), name_, ": tokens [", begin_, ", ", end_,
            ") of a stream of ", source_->size());
}

LmBatch LmDataset::batch(int64_t B, int64_t T, Rng& rng) const {
  QKV_CHECK(B > 0 && T > 0, name_, ": batch of ", B, " x ", T, " tokens, expected positive sizes");
  QKV_CHECK(size() >= T + 1, name_, ": ", size(), " tokens, shorter than one window of block_size + 1 = ", T + 1,
            " tokens");
  LmBatch out{Ids(std::vector<int32_t>(static_cast<size_t>(B * T)), {B, T}),
              Ids(std::vector<int32_t>(static_cast<size_t>(B * T)), {B, T})};
  std::vector<int32_t> window(static_cast<size_t>(T + 1));
  for (int64_t b = 0; b < B; ++b) {
    source_->copy(begin_ + uniform_index(rng, size() - T), T + 1, window.data());
    std::copy(window.begin(), window.begin() + T, out.inputs.data.begin() + b * T);
    std::copy(window.begin() + 1, window.end(), out.targets.data.begin() + b * T);
  }
  return out;
}

std::vector<int32_t> LmDataset::tokens(int64_t begin, int64_t count) const {
  QKV_CHECK(begin >= 0 && count >= 0 && begin + count <= size(), name_, ": tokens [", begin, ", ", begin + count,
            ") of ", size());
  std::vector<int32_t> out(static_cast<size_t>(count));
  source_->copy(begin_ + begin, count, out.data());
  return out;
}

namespace {

int64_t train_tokens(int64_t n, const std::string& source, double val_fraction) {
  QKV_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, source, ": val_fraction ", val_fraction, " must be in [0, 1)");
  return static_cast<int64_t>(static_cast<double>(n) * (1.0 - val_fraction));
}

}  // namespace

LmSplit split_lm(std::vector<int32_t> tokens, const std::string& source, double val_fraction,
                 std::optional<std::vector<int32_t>> val, const std::string& val_source) {
  std::shared_ptr<const TokenSource> v;
  if (val) v = std::make_shared<InMemoryTokens>(std::move(*val));
  return split_lm(std::make_shared<InMemoryTokens>(std::move(tokens)), source, val_fraction, std::move(v), val_source);
}

LmSplit split_lm(std::shared_ptr<const TokenSource> tokens, const std::string& source, double val_fraction,
                 std::shared_ptr<const TokenSource> val, const std::string& val_source) {
  if (val) return {LmDataset(std::move(tokens), 0, -1, source), LmDataset(std::move(val), 0, -1, val_source)};
  const int64_t n = tokens->size(), n_train = train_tokens(n, source, val_fraction);
  return {LmDataset(tokens, 0, n_train, "train split of " + source),
          LmDataset(tokens, n_train, n, "val split of " + source)};
}

}  // namespace qkv
