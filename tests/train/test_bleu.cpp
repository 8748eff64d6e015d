// BLEU-4 against values computed by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "train/bleu.h"

using namespace qkv;

TEST_CASE("bleu: hand-computed corpus scores") {
  CHECK(corpus_bleu({{1, 2, 3, 4, 5}}, {{1, 2, 3, 4, 5}}) == doctest::Approx(100.0));
  // Last token wrong: precisions 5/6, 4/5, 3/4, 2/3, whose product is 1/3; same length so BP = 1.
  CHECK(corpus_bleu({{1, 2, 3, 4, 5, 6}}, {{1, 2, 3, 4, 5, 7}}) == doctest::Approx(100.0 * std::pow(1.0 / 3, 0.25)));
  // A hypothesis of 4 against a reference of 5: all precisions 1, BP = exp(1 - 5/4).
  CHECK(corpus_bleu({{1, 2, 3, 4}}, {{1, 2, 3, 4, 5}}) == doctest::Approx(100.0 * std::exp(-0.25)));
  // Clipping: "1 1 1 1" against "1 2 3 4" has one matching unigram and no bigram.
  CHECK(corpus_bleu({{1, 1, 1, 1}}, {{1, 2, 3, 4}}) == 0.0);
  CHECK(corpus_bleu({{}}, {{1}}) == 0.0);
}
