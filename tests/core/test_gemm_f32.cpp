// The AVX-512 fp32 GEMM against a double-precision reference on ragged shapes, and gemm()'s choice of it.
#include <cblas.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "core/isa.h"
#include "core/kernels/gemm_f32.h"
#include "core/ops/matmul.h"
#include "core/precision.h"
#include "core/rng.h"
#include "core/threads.h"
#include "gemm_test_util.h"

using namespace qkv;
using namespace qkv::testing;

namespace {

// Checks every element of the kernel's C against sums in double, relative to sum_k |a||b| + |beta c|; C's
// padding columns must stay untouched, and beta 0 must not read the NaN C starts with.
void check_against_double(Rng& rng, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int64_t pad, float beta) {
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::vector<float> a = random_matrix(rng, a_rows, a_cols, lda), b = random_matrix(rng, b_rows, b_cols, ldb);
  std::vector<float> c0 = random_matrix(rng, M, N, ldc), got = c0;
  if (beta == 0.0f)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) got[static_cast<size_t>(i * ldc + j)] = std::nanf("");
  gemm_f32_avx512(ta, tb, M, N, K, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
  auto at_a = [&](int64_t i, int64_t k) { return double(a[static_cast<size_t>(ta ? k * lda + i : i * lda + k)]); };
  auto at_b = [&](int64_t k, int64_t j) { return double(b[static_cast<size_t>(tb ? j * ldb + k : k * ldb + j)]); };
  int64_t bad = 0, first_i = -1, first_j = -1;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      bool ok;
      if (j >= N) {
        ok = got[at] == c0[at];  // padding
      } else {
        double sum = beta == 0.0f ? 0.0 : double(beta) * c0[at], scale = std::fabs(double(beta) * c0[at]);
        for (int64_t k = 0; k < K; ++k) {
          sum += at_a(i, k) * at_b(k, j);
          scale += std::fabs(at_a(i, k) * at_b(k, j));
        }
        ok = std::fabs(double(got[at]) - sum) <= 1e-6 * scale + 1e-30;  // false for NaN
      }
      if (!ok && bad++ == 0) first_i = i, first_j = j;
    }
  INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb << " pad=" << pad << " beta=" << beta
            << "; first bad element (" << first_i << ", " << first_j << ")");
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("f32 kernel: matches double sums on ragged shapes, all transposes, wide strides, beta 0 and 1") {
  if (!kernel_available(Isa::avx512, "gemm_f32_avx512")) return;
  Rng rng(31);
  // Sizes of 1, across the 12-row and 32-column tiles and 16-lane vectors, more than one row block (192), over
  // the K block (384: three blocks, the last one ragged) and the column block (1536).
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {
      {1, 1, 1},     {2, 7, 15},    {7, 2, 16},    {15, 17, 1},   {16, 31, 2},   {17, 33, 7},
      {31, 16, 17},  {33, 15, 31},  {64, 64, 33},  {100, 1, 64},  {1, 100, 100}, {257, 33, 257},
      {33, 65, 800}, {13, 40, 385}, {200, 37, 50}, {12, 513, 16}, {3, 1600, 5},  {25, 1601, 9}};
  int index = 0;
  for (auto [M, N, K] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        ++index;
        check_against_double(rng, M, N, K, ta, tb, index % 2 ? 3 : 0, index % 4 < 2 ? 0.0f : 1.0f);
      }
  check_against_double(rng, 13, 45, 77, true, false, 1, 0.5f);  // any other beta
}

TEST_CASE("f32 kernel: K = 0 leaves beta C (zeros for beta 0, whatever C held)") {
  if (!kernel_available(Isa::avx512, "gemm_f32_avx512")) return;
  std::vector<float> c = {std::nanf(""), 1.0f, 2.0f, 3.0f};
  float unused = 0.0f;
  gemm_f32_avx512(false, false, 2, 2, 0, &unused, 1, &unused, 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f});
  c = {1.0f, 2.0f, 3.0f, 4.0f};
  gemm_f32_avx512(true, true, 2, 2, 0, &unused, 2, &unused, 1, 2.0f, c.data(), 2);
  CHECK(c == std::vector<float>{2.0f, 4.0f, 6.0f, 8.0f});
}

TEST_CASE("f32 kernel: gemm() takes it under avx512 for N > 16, OpenBLAS otherwise and under QKV_ISA=avx2") {
  Rng rng(4);
  IsaRestore restore;
  PrecisionScope fp32(Precision::fp32);
  set_threads(1);
  for (auto shape : {std::tuple{9, 40, 21}, std::tuple{30, 16, 50}}) {
    const auto [M, N, K] = shape;
    const int n = N;  // INFO captures in a lambda, which clang 14 cannot do with a structured binding
    std::vector<float> a = random_matrix(rng, M, K, K), b = random_matrix(rng, N, K, K);
    std::vector<float> blas(size_t(M) * N), kernel(blas.size()), got(blas.size());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a.data(), K, b.data(), K, 0.0f, blas.data(), N);
    if (detected_isa() >= Isa::avx2) {
      set_isa(Isa::avx2);
      gemm(false, true, M, N, K, a.data(), b.data(), 0.0f, got.data());
      CHECK(std::memcmp(got.data(), blas.data(), got.size() * sizeof(float)) == 0);
    }
    if (!kernel_available(Isa::avx512, "gemm_f32_avx512")) continue;
    set_isa(Isa::avx512);
    gemm_f32_avx512(false, true, M, N, K, a.data(), K, b.data(), K, 0.0f, kernel.data(), N);
    gemm(false, true, M, N, K, a.data(), b.data(), 0.0f, got.data());
    INFO("N=" << n);
    CHECK(std::memcmp(got.data(), (N > 16 ? kernel : blas).data(), got.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("f32 kernel: gemm() gives the same bits on 1 and 2 threads (a packing buffer per thread)") {
  if (!kernel_available(Isa::avx512, "gemm_f32_avx512")) return;
  Rng rng(9);
  PrecisionScope fp32(Precision::fp32);
  for (auto [M, N, K] : {std::tuple{301, 77, 1000}, std::tuple{77, 301, 999}}) {
    std::vector<float> a = random_matrix(rng, M, K, K), b = random_matrix(rng, N, K, K);
    std::vector<float> one(size_t(M) * N), two(size_t(M) * N);
    set_threads(1);
    gemm(false, true, M, N, K, a.data(), b.data(), 0.0f, one.data());
    set_threads(2);
    REQUIRE(gemm_split(M, N, K, 2).parts == 2);
    gemm(false, true, M, N, K, a.data(), b.data(), 0.0f, two.data());
    set_threads(1);
    CHECK(one == two);
  }
}
