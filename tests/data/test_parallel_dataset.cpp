// Parallel data: BOS/EOS placement and PAD positions under teacher forcing, max_len drops, and
// length-bucketed epochs.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
#include "data/batching.h"
#include "data/parallel_dataset.h"
#include "data/tokenizer.h"

using namespace qkv;

TEST_CASE("data: parallel batches put BOS before and EOS after the target, PAD after both") {
  // Vocabulary: a b c d e w x y z, then PAD 9, BOS 10, EOS 11.
  Tokenizer t = Tokenizer::train_char("abcdewxyz", {"PAD", "BOS", "EOS"});
  const int32_t P = 9, S = 10, E = 11;
  const int32_t a = 0, b = 1, c = 2, d = 3, e = 4, w = 5, x = 6, y = 7, z = 8;
  ParallelDataset data("abc\tde\nx\tyzw\n", "p.tsv", t, t, 16);
  REQUIRE(data.size() == 2);
  Seq2SeqBatch batch = data.batch({0, 1});
  CHECK(batch.src.shape == Shape{2, 3});
  CHECK(batch.src.data == std::vector<int32_t>{a, b, c, x, P, P});
  CHECK(batch.tgt_in.shape == Shape{2, 4});
  CHECK(batch.tgt_in.data == std::vector<int32_t>{S, d, e, P, S, y, z, w});
  CHECK(batch.targets.shape == Shape{2, 4});
  CHECK(batch.targets.data == std::vector<int32_t>{d, e, E, P, y, z, w, E});
}

TEST_CASE("data: parallel pairs longer than max_len are dropped and counted") {
  Tokenizer t = Tokenizer::train_char("abcdewxyz", {"PAD", "BOS", "EOS"});
  ParallelDataset data("abc\tde\nx\tyzw\nabcd\te\n", "p.tsv", t, t, 3);  // BOS + yzw = 4, abcd = 4
  CHECK(data.size() == 1);
  CHECK(data.dropped() == 2);
  CHECK(data.src(0) == t.encode("abc"));
  CHECK_THROWS_WITH_AS(ParallelDataset("abcd\te\n", "p.tsv", t, t, 3), doctest::Contains("all 1 pairs"), Error);
}

TEST_CASE("data: parallel errors name the source, line and missing token") {
  Tokenizer t = Tokenizer::train_char("abc", {"PAD", "BOS", "EOS"});
  CHECK_THROWS_WITH_AS(ParallelDataset("a\tb\nc\n", "p.tsv", t, t, 8), doctest::Contains("p.tsv:2: no tab"), Error);
  CHECK_THROWS_WITH_AS(ParallelDataset("a\tb\nc\tq\n", "p.tsv", t, t, 8), doctest::Contains("p.tsv:2: char"), Error);
  Tokenizer no_eos = Tokenizer::train_char("abc", {"PAD", "BOS"});
  CHECK_THROWS_WITH_AS(ParallelDataset("a\tb\n", "p.tsv", t, no_eos, 8), doctest::Contains("lacks EOS"), Error);
}

TEST_CASE("data: parallel epochs use every pair once, in batches of similar lengths") {
  Tokenizer t = Tokenizer::train_char("ab", {"PAD", "BOS", "EOS"});
  Rng gen(3);
  std::string tsv;
  for (int i = 0; i < 1000; ++i) {
    tsv += std::string(1 + gen.next_u32() % 30, 'a') + "\t" + std::string(1 + gen.next_u32() % 30, 'b') + "\n";
  }
  ParallelDataset data(tsv, "p.tsv", t, t, 64);
  REQUIRE(data.size() == 1000);
  auto spread = [&](const std::vector<std::vector<int64_t>>& batches) {
    double total = 0;
    for (const auto& batch : batches) {
      size_t lo = 1000, hi = 0;
      for (int64_t i : batch) {
        lo = std::min(lo, data.src(i).size());
        hi = std::max(hi, data.src(i).size());
      }
      total += static_cast<double>(hi - lo);
    }
    return total / static_cast<double>(batches.size());
  };
  Rng rng(1), again(1), plain(1);
  std::vector<std::vector<int64_t>> epoch = data.epoch(16, rng);
  CHECK(epoch.size() == 63);  // 62 full batches and one of 8
  std::vector<int64_t> all;
  for (const auto& batch : epoch) all.insert(all.end(), batch.begin(), batch.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 1000; ++i) CHECK(all[static_cast<size_t>(i)] == i);
  CHECK(data.epoch(16, again) == epoch);
  // Buckets hold sources of nearly one length; shuffled batches span most of the range 1..30.
  const double bucketed = spread(epoch), shuffled = spread(shuffled_batches(1000, 16, plain));
  CHECK(bucketed < 1.0);
  CHECK(shuffled > 20.0);
  // A small pool still covers everything.
  Rng small(2);
  size_t n = 0;
  for (const auto& batch : data.epoch(16, small, 2)) n += batch.size();
  CHECK(n == 1000);
}
