#include "data/lm_dataset.h"

#include <algorithm>

#include "core/error.h"
#include "data/batching.h"

namespace qkv {

LmDataset::LmDataset(std::vector<int32_t> tokens, std::string name)
    : tokens_(std::move(tokens)), name_(std::move(name)) {}

LmBatch LmDataset::batch(int64_t B, int64_t T, Rng& rng) const {
  QKV_CHECK(B > 0 && T > 0, name_, ": batch of ", B, " x ", T, " tokens, expected positive sizes");
  QKV_CHECK(size() >= T + 1, name_, ": ", size(), " tokens, shorter than one window of block_size + 1 = ", T + 1,
            " tokens");
  LmBatch out{Ids(std::vector<int32_t>(static_cast<size_t>(B * T)), {B, T}),
              Ids(std::vector<int32_t>(static_cast<size_t>(B * T)), {B, T})};
  for (int64_t b = 0; b < B; ++b) {
    const auto start = tokens_.begin() + uniform_index(rng, size() - T);
    std::copy(start, start + T, out.inputs.data.begin() + b * T);
    std::copy(start + 1, start + T + 1, out.targets.data.begin() + b * T);
  }
  return out;
}

LmSplit split_lm(std::vector<int32_t> tokens, const std::string& source, double val_fraction,
                 std::optional<std::vector<int32_t>> val, const std::string& val_source) {
  if (val) return {LmDataset(std::move(tokens), source), LmDataset(std::move(*val), val_source)};
  QKV_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, source, ": val_fraction ", val_fraction, " must be in [0, 1)");
  const auto n_train = static_cast<int64_t>(static_cast<double>(tokens.size()) * (1.0 - val_fraction));
  std::vector<int32_t> tail(tokens.begin() + n_train, tokens.end());
  tokens.resize(static_cast<size_t>(n_train));
  return {LmDataset(std::move(tokens), "train split of " + source),
          LmDataset(std::move(tail), "val split of " + source)};
}

}  // namespace qkv
