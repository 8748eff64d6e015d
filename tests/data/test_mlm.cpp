// MLM masking: 15% of ordinary tokens chosen, 80/10/10 among them, specials untouched, -100 elsewhere.
#include <doctest/doctest.h>

#include "core/error.h"
#include "data/mlm.h"
#include "data/tokenizer.h"

using namespace qkv;

TEST_CASE("data: MLM masking statistics on a large sample") {
  // 100 ids: 96 ordinary, then PAD 96, CLS 97, MASK 98, UNK 99.
  MlmVocab vocab(100, 98, {96, 97, 99});
  CHECK(vocab.ordinary_ids.size() == 96);
  Rng data_rng(1);
  const int64_t B = 50, T = 4000;
  Ids inputs(std::vector<int32_t>(static_cast<size_t>(B * T)), {B, T});
  for (int32_t& id : inputs.data)
    id = data_rng.uniform() < 0.1f ? 96 + static_cast<int32_t>(data_rng.next_u32() % 4)
                                   : static_cast<int32_t>(data_rng.next_u32() % 96);

  Rng rng(2);
  MlmBatch m = mask_tokens(inputs, vocab, rng);
  CHECK(m.inputs.shape == inputs.shape);
  CHECK(m.targets.shape == inputs.shape);
  int64_t ordinary = 0, chosen = 0, masked = 0, replaced = 0, kept = 0;
  for (size_t i = 0; i < inputs.data.size(); ++i) {
    const int32_t x = inputs.data[i], y = m.targets.data[i], z = m.inputs.data[i];
    if (x >= 96) {  // specials: never chosen, never changed
      CHECK(y == kIgnoreIndex);
      CHECK(z == x);
      continue;
    }
    ++ordinary;
    if (y == kIgnoreIndex) {
      CHECK(z == x);
      continue;
    }
    ++chosen;
    CHECK(y == x);
    if (z == 98) {
      ++masked;
    } else if (z == x) {
      ++kept;
    } else {
      CHECK(z < 96);  // random replacements are ordinary tokens
      ++replaced;
    }
  }
  const double rate = static_cast<double>(chosen) / static_cast<double>(ordinary);
  CHECK(rate > 0.14);
  CHECK(rate < 0.16);
  const double c = static_cast<double>(chosen);
  CHECK(masked / c == doctest::Approx(0.8).epsilon(0.025));
  // A random draw equal to the original counts as kept: 1/96 of the random tenth.
  CHECK(std::abs(replaced / c - 0.1 * 95 / 96) < 0.02);
  CHECK(std::abs(kept / c - (0.1 + 0.1 / 96)) < 0.02);

  Rng same(2);
  CHECK(mask_tokens(inputs, vocab, same).inputs.data == m.inputs.data);
}

TEST_CASE("data: MLM always gives a batch at least one target") {
  MlmVocab vocab(10, 9, {8});
  Ids tiny({3, 8}, {1, 2});  // one ordinary token and one special
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    MlmBatch m = mask_tokens(tiny, vocab, rng);
    CHECK(m.targets.data[0] == 3);
    CHECK(m.targets.data[1] == kIgnoreIndex);
    CHECK(m.inputs.data[1] == 8);
  }
  Ids only_special({8, 8}, {1, 2});
  Rng rng(0);
  CHECK(mask_tokens(only_special, vocab, rng).targets.data == std::vector<int32_t>{kIgnoreIndex, kIgnoreIndex});
}

TEST_CASE("data: MLM vocabulary from a tokenizer, and its errors") {
  Tokenizer t = Tokenizer::train_char("abcd", {"PAD", "MASK", "CLS"});
  MlmVocab v = MlmVocab::from(t);
  CHECK(v.mask_id == 5);
  CHECK(v.ordinary_ids == std::vector<int32_t>{0, 1, 2, 3});
  CHECK_THROWS_WITH_AS(MlmVocab::from(Tokenizer::train_char("ab", {"PAD"})), doctest::Contains("no MASK"), Error);
  Ids bad({1, 17}, {1, 2});
  Rng rng(0);
  CHECK_THROWS_WITH_AS(mask_tokens(bad, v, rng), doctest::Contains("input id 17 at position 1"), Error);
}
