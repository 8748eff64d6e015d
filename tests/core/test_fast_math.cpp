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

TEST_CASE("fast_math: exp_shifted and sum_exp_shifted equal plain loops, across the chunk boundaries") {
  for (int64_t n : {0, 1, 7, 511, 512, 513, 2000}) {
    CAPTURE(n);
    std::vector<float> x(n), y(n);
    double want = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      x[i] = static_cast<float>((i * 37) % 101) * 0.1f - 5.0f;
      want += fast_exp(x[i] - 2.0f);
    }
    double sum = exp_shifted(x.data(), 2.0f, y.data(), n);
    CHECK(sum == doctest::Approx(want).epsilon(1e-12));
    CHECK(sum_exp_shifted(x.data(), 2.0f, n) == doctest::Approx(want).epsilon(1e-12));
    for (int64_t i = 0; i < n; ++i) CHECK(y[i] == fast_exp(x[i] - 2.0f));
  }
  std::vector<float> masked{-INFINITY, 0.0f};  // a padding score contributes exactly 0
  CHECK(exp_shifted(masked.data(), 0.0f, masked.data(), 2) == 1.0);
  CHECK(masked[0] == 0.0f);
}
