// The GEMM shape log that `qkv bench` replays on raw sgemm: matmuls of known shapes record exactly their
// products (forward and backward, flags and counts), and nothing is recorded while the log is off.
#include <doctest/doctest.h>

#include <vector>

#include "core/gemm_log.h"
#include "core/ops.h"

using namespace qkv;

namespace {

GemmShape shape(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, int team = 1) {
  return GemmShape{transpose_a, transpose_b, M, N, K, team};
}

// Runs f with the log on, from an empty log, and returns what it recorded.
template <class F>
std::vector<GemmCount> logged(F f) {
  reset_gemm_log();
  set_gemm_logging(true);
  f();
  set_gemm_logging(false);
  std::vector<GemmCount> log = gemm_log();
  reset_gemm_log();
  return log;
}

void check_log(const std::vector<GemmCount>& log, const std::vector<GemmCount>& expected) {
  REQUIRE(log.size() == expected.size());
  for (size_t i = 0; i < log.size(); ++i) {
    CAPTURE(i);
    CHECK(log[i].shape == expected[i].shape);
    CHECK(log[i].calls == expected[i].calls);
  }
}

}  // namespace

TEST_CASE("gemm log: a matmul's forward and backward products, with their transpose flags") {
  Rng rng(3);
  Tensor a = Tensor::randn({3, 4}, rng).set_requires_grad(true);
  Tensor b = Tensor::randn({4, 5}, rng).set_requires_grad(true);
  std::vector<GemmCount> log = logged([&] { sum(matmul(a, b)).backward(); });
  // Ordered by shape (flags first): C = A B; dA[3, 4] = dC B^T; dB[4, 5] = A^T dC.
  check_log(log,
            {{shape(false, false, 3, 5, 4), 1}, {shape(false, true, 3, 4, 5), 1}, {shape(true, false, 4, 5, 3), 1}});
  CHECK(log[0].flops() == doctest::Approx(2.0 * 3 * 5 * 4));
}

TEST_CASE("gemm log: transposes as flags, batches counted, a shared right matrix folded into one product") {
  Rng rng(4);
  NoGrad no_grad;
  Tensor at = Tensor::randn({4, 3}, rng), bt = Tensor::randn({5, 4}, rng);
  check_log(logged([&] { matmul(at, bt, true, true); }), {{shape(true, true, 3, 5, 4), 1}});
  Tensor a = Tensor::randn({2, 3, 4}, rng), b = Tensor::randn({2, 4, 5}, rng), w = Tensor::randn({4, 5}, rng);
  // On one thread the batch's products run one after another, outside a parallel region. Set here, not
  // assumed: the suite also runs on 2 threads (scripts/tsan.sh), and test order decides what came before.
  set_threads(1);
  check_log(logged([&] { matmul(a, b); }), {{shape(false, false, 3, 5, 4), 2}});
  check_log(logged([&] { matmul(a, w); }), {{shape(false, false, 6, 5, 4), 1}});
  check_log(logged([&] {
              matmul(a, w);
              matmul(a, w);
              matmul(at, bt, true, true);
            }),
            {{shape(false, false, 6, 5, 4), 2}, {shape(true, true, 3, 5, 4), 1}});
}

#ifdef QKV_OPENMP
TEST_CASE("gemm log: products issued inside a parallel region record the region's thread count") {
  Rng rng(5);
  NoGrad no_grad;
  Tensor a = Tensor::randn({4, 3, 4}, rng), b = Tensor::randn({4, 4, 5}, rng);
  set_threads(2);  // 4 batches >= 2 threads: one product per batch matrix, two at a time
  std::vector<GemmCount> log = logged([&] { matmul(a, b); });
  set_threads(1);
  check_log(log, {{shape(false, false, 3, 5, 4, 2), 4}});
}
#endif

TEST_CASE("gemm log: nothing is recorded while the log is off, and reset empties it") {
  Rng rng(6);
  NoGrad no_grad;
  Tensor a = Tensor::randn({3, 4}, rng), b = Tensor::randn({4, 5}, rng);
  reset_gemm_log();
  CHECK_FALSE(gemm_logging());
  matmul(a, b);
  gemm(false, false, 3, 5, 4, a.data(), b.data(), 0.0f, Tensor::empty({3, 5}).data());
  CHECK(gemm_log().empty());
  set_gemm_logging(true);
  CHECK(gemm_logging());
  matmul(a, b);
  set_gemm_logging(false);
  CHECK(gemm_log().size() == 1);
  reset_gemm_log();
  CHECK(gemm_log().empty());
}
