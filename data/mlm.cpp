#include "data/mlm.h"

#include "core/error.h"
#include "data/batching.h"
#include "data/tokenizer.h"

namespace qkv {

MlmVocab::MlmVocab(int32_t vocab_size, int32_t mask, const std::vector<int32_t>& special_ids)
    : size(vocab_size), mask_id(mask) {
  QKV_CHECK(vocab_size > 0, "mlm: vocabulary size ", vocab_size, " must be positive");
  QKV_CHECK(mask >= 0 && mask < vocab_size, "mlm: MASK id ", mask, " out of range [0, ", vocab_size, ")");
  special.assign(static_cast<size_t>(vocab_size), 0);
  special[static_cast<size_t>(mask)] = 1;
  for (int32_t id : special_ids) {
    QKV_CHECK(id >= 0 && id < vocab_size, "mlm: special id ", id, " out of range [0, ", vocab_size, ")");
    special[static_cast<size_t>(id)] = 1;
  }
  for (int32_t id = 0; id < vocab_size; ++id)
    if (!special[static_cast<size_t>(id)]) ordinary_ids.push_back(id);
  QKV_CHECK(!ordinary_ids.empty(), "mlm: the vocabulary has no ordinary tokens to draw replacements from");
}

MlmVocab MlmVocab::from(const Tokenizer& tokenizer) {
  const int32_t mask = tokenizer.special("MASK");
  QKV_CHECK(mask >= 0, "mlm: the tokenizer has no MASK token; masked-LM data needs one");
  std::vector<int32_t> specials;
  for (const auto& [name, id] : tokenizer.specials()) specials.push_back(id);
  return MlmVocab(tokenizer.size(), mask, specials);
}

MlmBatch mask_tokens(const Ids& inputs, const MlmVocab& vocab, Rng& rng, const MlmRates& rates) {
  QKV_CHECK(rates.choose >= 0 && rates.choose <= 1 && rates.to_mask >= 0 && rates.to_random >= 0 &&
                rates.to_mask + rates.to_random <= 1,
            "mlm: rates choose ", rates.choose, ", mask ", rates.to_mask, ", random ", rates.to_random,
            " must be probabilities with mask + random <= 1");
  MlmBatch out{inputs, Ids(std::vector<int32_t>(inputs.data.size(), kIgnoreIndex), inputs.shape)};
  std::vector<int32_t>& x = out.inputs.data;
  std::vector<int32_t>& y = out.targets.data;
  auto corrupt = [&](size_t i) {
    y[i] = x[i];
    const float u = rng.uniform();
    if (u < rates.to_mask) {
      x[i] = vocab.mask_id;
    } else if (u < rates.to_mask + rates.to_random) {
      x[i] =
          vocab.ordinary_ids[static_cast<size_t>(uniform_index(rng, static_cast<int64_t>(vocab.ordinary_ids.size())))];
    }
  };
  bool any_chosen = false;
  std::vector<size_t> ordinary;
  for (size_t i = 0; i < x.size(); ++i) {
    const int32_t id = x[i];
    QKV_CHECK(id >= 0 && id < vocab.size, "mlm: input id ", id, " at position ", i, " out of range [0, ", vocab.size,
              ")");
    if (vocab.special[static_cast<size_t>(id)]) continue;
    ordinary.push_back(i);
    if (rng.uniform() < rates.choose) {
      corrupt(i);
      any_chosen = true;
    }
  }
  if (!any_chosen && !ordinary.empty())
    corrupt(ordinary[static_cast<size_t>(uniform_index(rng, static_cast<int64_t>(ordinary.size())))]);
  return out;
}

}  // namespace qkv
