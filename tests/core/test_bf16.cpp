// bf16 rounding and f16 decoding by hand cases, and the plain bf16 GEMM against products of rounded values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/bf16.h"
#include "core/f16.h"
#include "core/kernels/gemm_bf16.h"
#include "core/ops.h"
#include "core/precision.h"

using namespace qkv;

TEST_CASE("bf16: rounds to nearest even, keeps infinities and NaN") {
  CHECK(to_bf16(1.0f) == 0x3f80);
  CHECK(to_bf16(-2.0f) == 0xc000);
  CHECK(to_bf16(0.0f) == 0x0000);
  CHECK(to_bf16(-0.0f) == 0x8000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: the tie goes to the even 1.
  CHECK(to_bf16(1.0f + 0x1p-8f) == 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
  CHECK(to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);  // above the tie: up
  CHECK(round_bf16(3.14159265f) == 3.140625f);
  CHECK(to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
  CHECK(to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the largest bf16: infinity
  CHECK(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
  uint32_t payload = 0x7f800001u;  // a NaN whose payload sits in the low bits only: must not become infinity
  float snan;
  std::memcpy(&snan, &payload, sizeof snan);
  CHECK(std::isnan(round_bf16(snan)));
  CHECK(from_bf16(0x0001) == 0x1p-133f);  // the smallest subnormal
}

TEST_CASE("f16: decodes normals, subnormals, zeros, infinities and NaN exactly") {
  CHECK(from_f16(0x3c00) == 1.0f);
  CHECK(from_f16(0xc000) == -2.0f);
  CHECK(from_f16(0x3555) == 0.333251953125f);        // the f16 nearest 1/3
  CHECK(from_f16(0x7bff) == 65504.0f);               // the largest
  CHECK(from_f16(0x0400) == std::ldexp(1.0f, -14));  // the smallest normal
  CHECK(from_f16(0x0001) == std::ldexp(1.0f, -24));  // the smallest subnormal
  CHECK(from_f16(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(from_f16(0x0000) == 0.0f);
  CHECK(std::signbit(from_f16(0x8000)));
  CHECK(from_f16(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(from_f16(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(from_f16(0x7e00)));
}

TEST_CASE("bf16: the plain GEMM multiplies the rounded inputs, all four transposes and wide strides") {
  const int64_t M = 3, N = 2, K = 5, pad = 3;
  std::vector<float> a(size_t(M + K) * (K + M + pad)), b(size_t(N + K) * (N + K + pad));
  for (size_t i = 0; i < a.size(); ++i) a[i] = 1.0f + 0.00390625f * float(i % 7) + 1e-4f;  // not bf16-exact
  for (size_t i = 0; i < b.size(); ++i) b[i] = -0.5f + 0.0078125f * float(i % 5) - 3e-5f;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + 1;
      std::vector<float> c(size_t(M) * ldc, 7.0f);
      gemm_bf16_plain(ta, tb, M, N, K, a.data(), lda, b.data(), ldb, 0.5f, c.data(), ldc);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double want = 0.5 * 7.0;
          for (int64_t k = 0; k < K; ++k)
            want += double(round_bf16(ta ? a[k * lda + i] : a[i * lda + k])) *
                    double(round_bf16(tb ? b[j * ldb + k] : b[k * ldb + j]));
          CHECK(c[i * ldc + j] == doctest::Approx(want).epsilon(1e-6));
        }
      CHECK(c[M - 1] == 7.0f);  // the padding column of C is left alone
    }
}

TEST_CASE("bf16: under PrecisionScope matmul rounds its inputs; outside it stays fp32") {
  Tensor a = Tensor::from_vector({1.0f + 0x1p-10f, 2.0f}, {1, 2}), b = Tensor::from_vector({1.0f, 1.0f}, {2, 1});
  CHECK(matmul(a, b).item() == 3.0f + 0x1p-10f);
  {
    PrecisionScope bf16(Precision::bf16);
    CHECK(precision() == Precision::bf16);
    CHECK(matmul(a, b).item() == 3.0f);  // 1 + 2^-10 rounds to 1 in bf16
  }
  CHECK(precision() == Precision::fp32);
}
