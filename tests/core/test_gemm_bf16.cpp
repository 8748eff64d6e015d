// The AVX512-BF16 GEMM against the plain path on ragged shapes, its rounding against to_bf16, the dispatch,
// and the instruction-set selection (core/isa.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/bf16.h"
#include "core/error.h"
#include "core/isa.h"
#include "core/kernels/gemm_bf16.h"
#include "core/ops/matmul.h"
#include "core/precision.h"
#include "core/rng.h"
#include "core/threads.h"
#include "gemm_test_util.h"

using namespace qkv;
using namespace qkv::testing;

namespace {

float bits_to_float(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

std::vector<float> absolute(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

struct Shape3 {
  int64_t M, N, K;
};

// Runs one shape with both kernels and checks every element of C against the plain path, relative to
// sum_k |a||b| (+ |beta c|) for that element; C's padding columns must stay untouched.
void check_against_plain(Rng& rng, Shape3 s, bool ta, bool tb, int64_t pad, float beta) {
  const int64_t M = s.M, N = s.N, K = s.K;
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::vector<float> a = random_matrix(rng, a_rows, a_cols, lda), b = random_matrix(rng, b_rows, b_cols, ldb);
  std::vector<float> c0 = random_matrix(rng, M, N, ldc);
  std::vector<float> fast = c0, want = c0;
  if (beta == 0.0f)  // old C must not leak into the result
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) fast[static_cast<size_t>(i * ldc + j)] = std::nanf("");
  gemm_bf16_avx512(ta, tb, M, N, K, a.data(), lda, b.data(), ldb, beta, fast.data(), ldc);
  gemm_bf16_plain(ta, tb, M, N, K, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
  std::vector<float> scale(static_cast<size_t>(M * ldc), 0.0f);  // sum_k |a||b| per element
  std::vector<float> abs_a = absolute(a), abs_b = absolute(b);
  gemm_bf16_plain(ta, tb, M, N, K, abs_a.data(), lda, abs_b.data(), ldb, 0.0f, scale.data(), ldc);
  int64_t bad = 0, first_i = -1, first_j = -1;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      size_t at = static_cast<size_t>(i * ldc + j);
      bool ok;
      if (j >= N) {
        ok = fast[at] == c0[at];  // padding
      } else {
        double tol = 1e-5 * (scale[at] + std::fabs(beta * c0[at])) + 1e-30;
        ok = std::fabs(double(fast[at]) - double(want[at])) <= tol;  // false for NaN
      }
      if (!ok && bad++ == 0) first_i = i, first_j = j;
    }
  INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb << " pad=" << pad << " beta=" << beta
            << "; first bad element (" << first_i << ", " << first_j << ")");
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("bf16 kernel: packing rounds each input as to_bf16 does (one-term sums are exact)") {
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  Rng rng(11);
  // Random bits over a range of exponents, exact ties (low half 0x8000) of odd and even bf16, infinities, NaN.
  const int64_t n = 100;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t high = 0x3c00u + static_cast<uint32_t>(rng.uniform() * 0x0800);  // exponents near 2^-7 .. 2^8
    uint32_t low = i % 3 == 0 ? 0x8000u : static_cast<uint32_t>(rng.uniform() * 0xffff);
    x[i] = bits_to_float(((i % 2 ? 0x8000u + high : high) << 16) | low);
  }
  x[5] = std::numeric_limits<float>::infinity();
  x[6] = std::nanf("");
  x[7] = 0.0f;
  x[8] = -0.0f;  // a sum that starts from +0 gives +0: == compares zeros by value, all else exactly
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      // C[i, j] = a[i] * 1 (K = 1): the packed, rounded a[i] itself. A column vector is the same in both layouts
      // with lda = 1 (transposed: [1, M] with lda = M).
      std::vector<float> ones(n, 1.0f), c(static_cast<size_t>(n * 3), -1.0f);
      gemm_bf16_avx512(ta, tb, n, 3, 1, x.data(), ta ? n : 1, ones.data(), tb ? 1 : 3, 0.0f, c.data(), 3);
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          float want = round_bf16(x[i]), got = c[static_cast<size_t>(i * 3 + j)];
          if (std::isnan(want) ? !std::isnan(got) : got != want) ++bad;
        }
      // And the other operand: C[0, j] = 1 * b[j].
      std::vector<float> row(static_cast<size_t>(n), -1.0f);
      gemm_bf16_avx512(ta, tb, 1, n, 1, ones.data(), 1, x.data(), tb ? 1 : n, 0.0f, row.data(), n);
      for (int64_t j = 0; j < n; ++j) {
        float want = round_bf16(x[j]), got = row[static_cast<size_t>(j)];
        if (std::isnan(want) ? !std::isnan(got) : got != want) ++bad;
      }
      INFO("ta=" << ta << " tb=" << tb);
      CHECK(bad == 0);
    }
  // Two-term sums over rounded values whose products are exact in fp32 and whose sums are too: K = 2, odd K = 3.
  std::vector<float> a = {1.0f + 0x1p-8f + 0x1p-20f, 3.0f, 0.5f}, b = {2.0f, -0.25f - 0x1p-12f, 4.0f};
  float c = 0.0f;
  gemm_bf16_avx512(false, false, 1, 1, 3, a.data(), 3, b.data(), 1, 0.0f, &c, 1);
  CHECK(c == (1.0f + 0x1p-7f) * 2.0f + 3.0f * -0.25f + 0.5f * 4.0f);
  // The documented exception: subnormal inputs (and subnormal products) count as zero.
  float one = 1.0f, subnormal = 0x1p-130f, half = 0.5f, smallest_normal = 0x1p-126f;
  gemm_bf16_avx512(false, false, 1, 1, 1, &subnormal, 1, &one, 1, 0.0f, &c, 1);
  CHECK(c == 0.0f);
  gemm_bf16_avx512(false, false, 1, 1, 1, &smallest_normal, 1, &half, 1, 0.0f, &c, 1);
  CHECK(c == 0.0f);
}

TEST_CASE("bf16 kernel: K = 0 leaves beta C (zeros for beta 0, whatever C held)") {
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  std::vector<float> c = {std::nanf(""), 1.0f, 2.0f, 3.0f};
  float unused = 0.0f;
  gemm_bf16_avx512(false, false, 2, 2, 0, &unused, 1, &unused, 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f});
  c = {1.0f, 2.0f, 3.0f, 4.0f};
  gemm_bf16_avx512(true, true, 2, 2, 0, &unused, 2, &unused, 1, 2.0f, c.data(), 2);
  CHECK(c == std::vector<float>{2.0f, 4.0f, 6.0f, 8.0f});
}

TEST_CASE("bf16 kernel: equals the plain path on ragged shapes, all transposes, wide strides, beta 0 and 1") {
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  Rng rng(2024);
  // Every size of {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 257, 513} in each position; edges of the 12-row and
  // 32-column tiles, of 16-lane vectors, odd K, more than one row block (192), and cases over the K block
  // (768: three blocks, the last one odd) and the column block (1536).
  const Shape3 shapes[] = {{1, 1, 1},       {2, 7, 15},     {7, 2, 16},     {15, 17, 1},    {16, 31, 2},
                           {17, 33, 7},     {31, 16, 17},   {33, 15, 31},   {64, 64, 33},   {100, 1, 64},
                           {1, 100, 100},   {257, 33, 257}, {33, 257, 513}, {513, 17, 100}, {12, 513, 16},
                           {100, 100, 513}, {3, 1600, 5},   {37, 45, 1601}};
  int index = 0;
  for (const Shape3& s : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        ++index;
        int64_t pad = index % 2 ? 3 : 0;
        check_against_plain(rng, s, ta, tb, pad, index % 4 < 2 ? 0.0f : 1.0f);
      }
  check_against_plain(rng, {13, 45, 77}, true, false, 1, 0.5f);  // any other beta
}

TEST_CASE("bf16 kernel: results do not depend on how gemm() splits C (row and column slices)") {
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  Rng rng(5);
  const int64_t M = 50, N = 70, K = 45;
  std::vector<float> a = random_matrix(rng, M, K, K), b = random_matrix(rng, K, N, N);
  std::vector<float> whole(M * N), parts(M * N);
  gemm_bf16_avx512(false, false, M, N, K, a.data(), K, b.data(), N, 0.0f, whole.data(), N);
  gemm_bf16_avx512(false, false, 23, N, K, a.data(), K, b.data(), N, 0.0f, parts.data(), N);
  gemm_bf16_avx512(false, false, M - 23, 29, K, a.data() + 23 * K, K, b.data(), N, 0.0f, parts.data() + 23 * N, N);
  gemm_bf16_avx512(false, false, M - 23, N - 29, K, a.data() + 23 * K, K, b.data() + 29, N, 0.0f,
                   parts.data() + 23 * N + 29, N);
  CHECK(std::memcmp(whole.data(), parts.data(), whole.size() * sizeof(float)) == 0);
}

TEST_CASE("bf16 kernel: gemm() under bf16 gives the same bits on 1 and 2 threads (a packing buffer per thread)") {
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  Rng rng(8);
  PrecisionScope bf16(Precision::bf16);
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

TEST_CASE("bf16 kernel: gemm_bf16 takes the fast path by isa() and the plain one when a lower path is forced") {
  Rng rng(3);
  const int64_t M = 9, N = 40, K = 21;
  std::vector<float> a = random_matrix(rng, M, K, K), b = random_matrix(rng, N, K, K);
  std::vector<float> plain(M * N), got(M * N), fast(M * N);
  gemm_bf16_plain(false, true, M, N, K, a.data(), K, b.data(), K, 0.0f, plain.data(), N);
  IsaRestore restore;
  set_isa(Isa::generic);
  gemm_bf16(false, true, M, N, K, a.data(), K, b.data(), K, 0.0f, got.data(), N);
  CHECK(std::memcmp(got.data(), plain.data(), got.size() * sizeof(float)) == 0);
  if (!kernel_available(Isa::avx512bf16, "gemm_bf16_avx512")) return;
  set_isa(Isa::avx512bf16);
  gemm_bf16(false, true, M, N, K, a.data(), K, b.data(), K, 0.0f, got.data(), N);
  gemm_bf16_avx512(false, true, M, N, K, a.data(), K, b.data(), K, 0.0f, fast.data(), N);
  CHECK(std::memcmp(got.data(), fast.data(), got.size() * sizeof(float)) == 0);
}

TEST_CASE("isa: names parse both ways; QKV_ISA's parser rejects unknown names and levels the CPU lacks") {
  for (const EnumName<Isa>& entry : kIsas) CHECK(parse_enum(kIsas, entry.name) == entry.value);
  CHECK(std::string(enum_name(kIsas, Isa::avx512bf16)) == "avx512bf16");
  CHECK(parse_isa("generic") == Isa::generic);
  CHECK(parse_isa(enum_name(kIsas, detected_isa())) == detected_isa());
  try {
    parse_isa("avx9000");
    FAIL("parse_isa accepted an unknown name");
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("avx9000") != std::string::npos);
    CHECK(what.find("generic, avx2, avx512, avx512bf16, amx") != std::string::npos);
  }
  // cpu_features() lists every level up to the detected one.
  std::string features = cpu_features();
  for (const EnumName<Isa>& entry : kIsas)
    if (entry.value != Isa::generic && entry.value <= detected_isa())
      CHECK(features.find(entry.name) != std::string::npos);
  if (detected_isa() == Isa::generic) CHECK(features == "none");
}

TEST_CASE("isa: set_isa forces a lower path; a level the CPU lacks throws, naming it, and changes nothing") {
  IsaRestore restore;
  set_isa(Isa::generic);
  CHECK(isa() == Isa::generic);
  set_isa(detected_isa());
  CHECK(isa() == detected_isa());
  if (detected_isa() == Isa::amx) {
    MESSAGE("skipped the unavailable-level check: this CPU has every level (" << cpu_features() << ")");
    return;
  }
  Isa missing = static_cast<Isa>(static_cast<int>(detected_isa()) + 1);
  std::string name = enum_name(kIsas, missing);
  try {
    set_isa(missing);
    FAIL("set_isa accepted a level this CPU lacks: " << name);
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("lacks " + name) != std::string::npos);
    CHECK(what.find(cpu_features()) != std::string::npos);
  }
  CHECK(isa() == detected_isa());
  if (detected_isa() < Isa::amx) CHECK_THROWS_AS(parse_isa("amx"), Error);
}
