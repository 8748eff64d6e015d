// Philox against the Random123 known-answer vectors, and the properties the rest of qkv relies on.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"

using namespace qkv;

TEST_CASE("rng: philox4x32-10 matches the Random123 known answers") {
  CHECK(philox(0, 0, 0) == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox(~0ull, ~0ull, ~0ull) == std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  // Counter words (243f6a88, 85a308d3, 13198a2e, 03707344), key words (a4093822, 299f31d0): digits of pi.
  CHECK(philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull) ==
        std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("rng: a stream is a pure function of (seed, stream, offset)") {
  Rng a(42, 7), b(42, 7), c(43, 7), d(42, 8);
  for (int i = 0; i < 10; ++i) {
    uint32_t x = a.next_u32();
    CHECK(x == b.next_u32());
    CHECK(x == philox(42, 7, i / 4)[i % 4]);
    CHECK(x != c.next_u32());
    CHECK(x != d.next_u32());
  }
  // Restoring the offset replays the stream: this is what a checkpoint saves.
  Rng e(42, 7);
  e.set_offset(6);
  Rng f(42, 7);
  for (int i = 0; i < 6; ++i) f.next_u32();
  CHECK(e.uniform() == f.uniform());
}

TEST_CASE("rng: philox_words equals philox word by word, from any start and for any length") {
  // Starts inside a counter, across the 2^32 carry into the counter's high word, and lengths around the
  // vectorised block of 64 counters.
  for (uint64_t first : {0ull, 1ull, 3ull, 4ull, 1021ull, (1ull << 34) - 5})
    for (int64_t n : {0, 1, 2, 5, 255, 256, 257, 1000}) {
      CAPTURE(first);
      CAPTURE(n);
      std::vector<uint32_t> words(static_cast<size_t>(n) + 1, 0xABCDu);
      philox_words(99, 1ull << 40, first, n, words.data());
      int64_t wrong = 0;
      for (int64_t i = 0; i < n; ++i) {
        uint64_t w = first + static_cast<uint64_t>(i);
        wrong += words[i] != philox(99, 1ull << 40, w / 4)[w % 4];
      }
      CHECK(wrong == 0);
      CHECK(words[n] == 0xABCDu);  // nothing written past n
    }
}

TEST_CASE("rng: uniform and normal have the right moments") {
  Rng rng(1);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  float lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    float u = rng.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    su += u;
    float z = rng.normal();
    REQUIRE(std::isfinite(z));
    sn += z;
    sn2 += double(z) * z;
  }
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  CHECK(su / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(std::abs(sn / n) < 0.01);
  CHECK(sn2 / n == doctest::Approx(1.0).epsilon(0.02));
}
