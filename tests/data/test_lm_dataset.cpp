// LM data: windows with targets shifted by one, nanoGPT's contiguous split, determinism, short streams.
#include <doctest/doctest.h>

#include <set>

#include "core/error.h"
#include "data/batching.h"
#include "data/lm_dataset.h"

using namespace qkv;

namespace {
std::vector<int32_t> iota(int32_t n, int32_t first = 0) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}
}  // namespace

TEST_CASE("data: LM batch targets are the inputs shifted by one") {
  LmDataset d(iota(100, 1000), "stream");
  Rng rng(1);
  LmBatch b = d.batch(4, 8, rng);
  CHECK(b.inputs.shape == Shape{4, 8});
  CHECK(b.targets.shape == Shape{4, 8});
  for (int64_t r = 0; r < 4; ++r) {
    const int32_t first = b.inputs.data[static_cast<size_t>(r * 8)];
    CHECK(first >= 1000);
    CHECK(first <= 1000 + 100 - 9);  // the last window starts at size - T - 1
    for (int64_t t = 0; t < 8; ++t) {
      CHECK(b.inputs.data[static_cast<size_t>(r * 8 + t)] == first + t);
      CHECK(b.targets.data[static_cast<size_t>(r * 8 + t)] == first + t + 1);
    }
  }
  // The same seed gives the same batch; the Rng advanced by one draw per row.
  Rng again(1);
  CHECK(d.batch(4, 8, again).inputs.data == b.inputs.data);
  CHECK(again.offset() == rng.offset());
}

TEST_CASE("data: LM windows reach every offset, including the last") {
  LmDataset d(iota(10), "stream");
  Rng rng(2);
  std::set<int32_t> starts;
  for (int i = 0; i < 200; ++i) starts.insert(d.batch(1, 8, rng).inputs.data[0]);
  CHECK(starts == std::set<int32_t>{0, 1});
}

TEST_CASE("data: LM stream shorter than T + 1 is an error naming both lengths") {
  LmDataset d(iota(8), "val split of tiny.txt");
  Rng rng(0);
  CHECK_THROWS_WITH_AS(d.batch(2, 8, rng), doctest::Contains("val split of tiny.txt: 8 tokens"), Error);
  CHECK_THROWS_WITH_AS(d.batch(2, 8, rng), doctest::Contains("block_size + 1 = 9"), Error);
  CHECK_NOTHROW(d.batch(2, 7, rng));
  CHECK_THROWS_AS(d.batch(0, 4, rng), Error);
}

TEST_CASE("data: LM split keeps the contiguous tail as val, as nanoGPT") {
  LmSplit s = split_lm(iota(1000), "c.txt", 0.1);
  CHECK(s.train.size() == 900);
  CHECK(s.val.size() == 100);
  CHECK(s.train.tokens(899, 1)[0] == 899);
  CHECK(s.val.tokens(0, 1)[0] == 900);
  CHECK(s.val.name() == "val split of c.txt");
  LmSplit odd = split_lm(iota(1003), "c.txt", 0.1);  // int(1003 * 0.9) = 902
  CHECK(odd.train.size() == 902);
  CHECK(odd.val.size() == 101);
  LmSplit given = split_lm(iota(50), "c.txt", 0.1, iota(20, 7), "v.txt");
  CHECK(given.train.size() == 50);
  CHECK(given.val.tokens(0, 1)[0] == 7);
  CHECK(given.val.name() == "v.txt");
  CHECK_THROWS_WITH_AS(split_lm(iota(10), "c.txt", 1.0), doctest::Contains("val_fraction 1"), Error);
}

TEST_CASE("data: uniform_index is uniform and within range") {
  Rng rng(9);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) ++counts[uniform_index(rng, 3)];
  for (int c : counts) CHECK(c / 30000.0 == doctest::Approx(1.0 / 3).epsilon(0.05));
  for (int i = 0; i < 100; ++i) {
    int64_t big = uniform_index(rng, int64_t{1} << 40);
    CHECK(big >= 0);
    CHECK(big < (int64_t{1} << 40));
  }
  CHECK(uniform_index(rng, 1) == 0);
  CHECK_THROWS_AS(uniform_index(rng, 0), Error);
}
