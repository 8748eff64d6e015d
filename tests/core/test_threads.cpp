// Threads and determinism: one OpenMP pool shared with OpenBLAS, and the same bits on 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <tuple>

#include "core/ops.h"

using namespace qkv;

namespace {

// Runs a forward and backward pass through every op family on large enough inputs that the parallel
// loops really split, and returns the loss followed by every gradient, for bitwise comparison.
std::vector<float> run_everything(uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::randn({64, 96, 48}, rng).set_requires_grad(true);  // large: above the grain
  Tensor w = Tensor::randn({48}, rng).set_requires_grad(true);
  Tensor b = Tensor::randn({48}, rng).set_requires_grad(true);
  Tensor table = Tensor::randn({50, 48}, rng).set_requires_grad(true);
  std::vector<int32_t> ids(64 * 96);
  for (auto& id : ids) id = static_cast<int32_t>(rng.next_u32() % 50);
  Tensor h = layernorm(x + embedding(table, Ids(ids, {64, 96})), w, b);
  h = dropout(gelu(h) * sigmoid(h) + tanh(h), 0.1f, 1, 2);
  Tensor s = softmax(h) + log_softmax(h) + exp(h * 0.01f);
  Tensor r = sum(mean(s, 1), 0) + sum(max(s, 2, false).values.reshape({64 * 96}), 0);
  std::vector<int32_t> targets(64 * 96);
  for (auto& t : targets) t = static_cast<int32_t>(rng.next_u32() % 48);
  targets[5] = -100;
  Tensor loss = sum(r) * 1e-3f + cross_entropy(s.reshape({64 * 96, 48}), Ids(targets, {64 * 96}), -100, 0.1f) +
                sum(permute(slice(s, 1, 3, 50), {2, 0, 1})) * 1e-4f;
  loss.backward();
  std::vector<float> out{loss.item()};
  for (Tensor* p : {&x, &w, &b, &table}) {
    std::vector<float> g = p->grad().to_vector();
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

}  // namespace

TEST_CASE("threads: OpenBLAS is the OpenMP build, sharing one thread pool") {
  CHECK(blas_parallel_mode() == 2);  // 0 sequential, 1 pthreads, 2 OpenMP
}

TEST_CASE("threads: set_threads sets the count and 0 restores the default") {
  set_threads(2);
  CHECK(threads() == 2);
  set_threads(1);
  CHECK(threads() == 1);
}

TEST_CASE("threads: the same seed gives the same bits, and our kernels give the same bits on 1 and 2 threads") {
  set_threads(1);
  std::vector<float> one = run_everything(11);
  std::vector<float> again = run_everything(11);
  set_threads(2);
  std::vector<float> two = run_everything(11);
  set_threads(1);
  CHECK(one == again);
  CHECK(one == two);
  CHECK(std::isfinite(one[0]));
  CHECK(run_everything(12)[0] != one[0]);
}

TEST_CASE("threads: gemm's parts depend on the shape and the configured count, and any thread gives the same bits") {
  CHECK(gemm_split(768, 128, 128, 2).parts == 2);  // 25 MFLOP: one part per thread
  CHECK(gemm_split(768, 128, 128, 2).rows);
  CHECK(gemm_split(128, 768, 128, 16).parts == 6);  // 25 MFLOP / 4 MFLOP, along the longer columns
  CHECK_FALSE(gemm_split(128, 768, 128, 16).rows);
  CHECK(gemm_split(64, 64, 64, 8).parts == 1);     // 0.5 MFLOP: not worth waking a thread
  CHECK(gemm_split(3, 2, 1000000, 8).parts == 3);  // no part is empty
  // The parts run side by side, or one after another inside a region: the same bits either way.
  Rng rng(5);
  for (auto shape : {std::tuple{301, 77, 1000}, std::tuple{77, 301, 999}}) {
    // Plain ints: an OpenMP region cannot capture structured bindings (clang 14).
    const int M = std::get<0>(shape), N = std::get<1>(shape), K = std::get<2>(shape);
    std::vector<float> A = Tensor::randn({M, K}, rng).to_vector(), B = Tensor::randn({N, K}, rng).to_vector();
    std::vector<float> side(size_t(M) * N), serial(size_t(M) * N);
    set_threads(2);
    REQUIRE(gemm_split(M, N, K, 2).parts == 2);
    gemm(false, true, M, N, K, A.data(), B.data(), 0.0f, side.data());
#pragma omp parallel num_threads(2)
    if (thread_index() == 0) gemm(false, true, M, N, K, A.data(), B.data(), 0.0f, serial.data());
    set_threads(1);
    CHECK(side == serial);
  }
}

TEST_CASE("threads: matmul through OpenBLAS agrees across thread counts to 1e-6 relative") {
  Rng rng(3);
  Tensor a = Tensor::randn({8, 128, 96}, rng), b = Tensor::randn({96, 200}, rng);
  Tensor q = Tensor::randn({8, 4, 64, 32}, rng), k = Tensor::randn({8, 4, 64, 32}, rng);
  set_threads(1);
  Tensor c1 = matmul(a, b), s1 = matmul(q, k, false, true);
  set_threads(2);
  Tensor c2 = matmul(a, b), s2 = matmul(q, k, false, true);
  set_threads(1);
  for (auto [x, y] : {std::pair{c1, c2}, std::pair{s1, s2}}) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      num += std::pow(double(x.data()[i]) - y.data()[i], 2);
      den += std::pow(double(x.data()[i]), 2);
    }
    CHECK(std::sqrt(num / den) < 1e-6);
  }
}
