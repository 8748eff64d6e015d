// The autograd engine: accumulation, graphs that reuse a tensor, release after backward, NoGrad, misuse.
#include <doctest/doctest.h>

#include <cmath>

#include "core/allocator.h"
#include "core/ops.h"

using namespace qkv;

TEST_CASE("autograd: chain rule through a small graph, checked by hand") {
  // f = sum(x * x + 3 x) at x = (1, 2): df/dx = 2x + 3 = (5, 7)
  Tensor x = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  Tensor f = sum(x * x + x * 3.0f);
  CHECK(f.item() == 14.0f);
  f.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5, 7});
}

TEST_CASE("autograd: a tensor used twice gets both contributions (diamond)") {
  // y = exp(x); f = sum(y * y + y): df/dx = (2y + 1) y
  Tensor x = Tensor::from_vector({0.0f, 1.0f}, {2}).set_requires_grad(true);
  Tensor y = exp(x);
  sum(y * y + y).backward();
  float e = std::exp(1.0f);
  CHECK(x.grad().at({0}) == doctest::Approx(3.0f));
  CHECK(x.grad().at({1}) == doctest::Approx((2 * e + 1) * e));
}

TEST_CASE("autograd: gradients accumulate with += until zero_grad") {
  Tensor w = Tensor::from_vector({2}, {1}).set_requires_grad(true);
  sum(w * 3.0f).backward();
  sum(w * 3.0f).backward();
  CHECK(w.grad().item() == 6.0f);
  const float* buffer = w.grad().data();
  w.zero_grad();
  CHECK(w.grad().item() == 0.0f);
  CHECK(w.grad().data() == buffer);  // zero_grad keeps the buffer
  sum(w * 3.0f).backward();
  CHECK(w.grad().item() == 3.0f);
}

TEST_CASE("autograd: inputs that need no gradient get none") {
  Tensor a = Tensor::ones({2}).set_requires_grad(true), b = Tensor::ones({2});
  sum(a * b).backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("autograd: NoGrad records nothing") {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor y;
  {
    NoGrad guard;
    CHECK_FALSE(grad_enabled());
    y = a * 2.0f;
  }
  CHECK(grad_enabled());
  CHECK_FALSE(y.requires_grad());
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("does not require a gradient"), Error);
}

TEST_CASE("autograd: the graph is released after backward; a second backward is an error") {
  Tensor a = Tensor::ones({3}).set_requires_grad(true);
  Tensor h = exp(a);
  Tensor loss = sum(h);
  int64_t before = allocator_stats().bytes_in_use;
  loss.backward();
  CHECK_FALSE(h.is_leaf());
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already released"), Error);
  CHECK(allocator_stats().bytes_in_use <= before + 64);  // only a's new .grad remains
  CHECK_THROWS_AS(h.set_requires_grad(false), Error);
}

TEST_CASE("autograd: backward needs a scalar") {
  Tensor a = Tensor::ones({3}).set_requires_grad(true);
  CHECK_THROWS_WITH_AS((a * 2.0f).backward(), doctest::Contains("expected a scalar"), Error);
}

TEST_CASE("autograd: a deep chain does not overflow the stack") {
  Tensor x = Tensor::ones({1}).set_requires_grad(true);
  Tensor h = x;
  for (int i = 0; i < 100000; ++i) h = h + 1.0f;
  sum(h).backward();
  CHECK(x.grad().item() == 1.0f);
}
