// The vectorisable math helpers against libm and against plain loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/fast_math.h"

using namespace qkv;

TEST_CASE("fast_math: exp and erf agree with libm to a few float ulps, and handle the edges") {
  for (float x = -80.0f; x <= 80.0f; x += 0.37f) {
    float want = std::exp(x);
    CHECK(std::abs(fast_exp(x) - want) <= 4e-7f * want);
  }
  CHECK(fast_exp(-INFINITY) == 0.0f);
  CHECK(fast_exp(100.0f) == INFINITY);
  CHECK(std::isnan(fast_exp(NAN)));
  for (float x = -5.0f; x <= 5.0f; x += 0.013f) CHECK(std::abs(fast_erf(x) - std::erf(x)) <= 3e-7f);
}

TEST_CASE("fast_math: row_max equals std::max_element for every length and position of the maximum") {
  for (int64_t n = 1; n <= 21; ++n)
    for (int64_t at = 0; at < n; ++at) {
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7) % 5) - 10.0f;
      x[at] = 3.5f;
      CHECK(row_max(x.data(), n) == 3.5f);
    }
  std::vector<float> negative{-3.0f, -1.0f, -2.0f};
  CHECK(row_max(negative.data(), 3) == -1.0f);
  CHECK(row_max(negative.data(), 0) == -INFINITY);
}
