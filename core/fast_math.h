// exp and erf in plain float arithmetic, so that loops calling them vectorise (libm's expf and erff are
// calls the compiler cannot vectorise without -ffast-math), accurate to about one float ulp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace qkv {

// e^x: x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite split of ln2), e^r by its Taylor series to r^7
// (truncation error below 6e-9 relative), then the exponent n put into the float's exponent bits.
// -inf and underflow give 0, overflow gives inf, NaN stays NaN.
inline float fast_exp(float x) {
  float xc = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : (x == x ? x : 0.0f));
  // Round to nearest by adding and subtracting 1.5 x 2^23 (std::floor would stop the loop vectorising).
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693145751953125f - n * 1.42860682030941723e-6f;
  float p =
      1.0f +
      r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r / 5040.0f))))));
  float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);  // 2^n
  float y = p * scale;
  return x > 88.0f ? INFINITY : (x < -87.0f ? 0.0f : (x == x ? y : x));
}

// erf(x): its Taylor series below |x| = 0.5 (terms to x^13), else 1 - erfc(|x|) with the erfc of Numerical
// Recipes' erfcc (fractional error 1.2e-7), odd in x. Measured against double erf: absolute error below
// 1.6e-7, relative below 3e-7.
inline float fast_erf(float x) {
  float z = std::fabs(x), t = 1.0f / (1.0f + 0.5f * z);
  float erfc =
      t *
      fast_exp(
          -z * z - 1.26551223f +
          t * (1.00002368f +
               t * (0.37409196f +
                    t * (0.09678418f +
                         t * (-0.18628806f +
                              t * (0.27886807f +
                                   t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
  float x2 = x * x;
  float series =
      1.12837916709551257f * x *
      (1.0f +
       x2 * (-1.0f / 3 +
             x2 * (1.0f / 10 + x2 * (-1.0f / 42 + x2 * (1.0f / 216 + x2 * (-1.0f / 1320 + x2 * (1.0f / 9360)))))));
  return z < 0.5f ? series : (x < 0.0f ? erfc - 1.0f : 1.0f - erfc);
}

// The largest of x[0, n) (-inf for n = 0), in eight independent lanes so that it vectorises (a plain running
// max is a serial dependency the compiler may not reorder). Max is exact, so the order changes no bits.
inline float row_max(const float* x, int64_t n) {
  float lane[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  for (; i < n; ++i) lane[0] = x[i] > lane[0] ? x[i] : lane[0];
  float m = lane[0];
  for (int l = 1; l < 8; ++l) m = lane[l] > m ? lane[l] : m;
  return m;
}

// y[j] = e^(x[j] - m) for j < n (y may be x) and their sum, in double. The exps and the sum are separate loops:
// with the sum in the same loop, gcc 12 leaves fast_exp scalar (5x slower). The sum's order is fixed by the vector
// width, so it does not depend on the thread count.
inline double exp_shifted(const float* x, float m, float* y, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] = fast_exp(x[j] - m);
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += y[j];
  return sum;
}

// The sum of e^(x[j] - m) for j < n, through exp_shifted on chunks of a stack buffer.
inline double sum_exp_shifted(const float* x, float m, int64_t n) {
  constexpr int64_t kChunk = 512;
  float e[kChunk];
  double sum = 0.0;
  for (int64_t j = 0; j < n; j += kChunk) sum += exp_shifted(x + j, m, e, n - j < kChunk ? n - j : kChunk);
  return sum;
}

}  // namespace qkv
