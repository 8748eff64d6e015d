// Tensor handles: factories, shapes, accessors, sharing, printing and misuse.
#include <doctest/doctest.h>

#include <sstream>

#include "core/ops.h"

using namespace qkv;

TEST_CASE("tensor: factories fill the values they promise") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.to_vector() == std::vector<float>(6, 0.0f));
  CHECK(Tensor::ones({4}).to_vector() == std::vector<float>(4, 1.0f));
  CHECK(Tensor::full({2}, 2.5f).to_vector() == std::vector<float>{2.5f, 2.5f});
  CHECK(Tensor::arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
  Tensor s = Tensor::scalar(3.0f);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.0f);
  Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.at({1, 2}) == 6.0f);
  CHECK(v.at({0, 1}) == 2.0f);
  CHECK(v.size(-1) == 3);
  CHECK(Tensor::zeros({0, 3}).numel() == 0);
}

TEST_CASE("tensor: buffers are 64-byte aligned") {
  for (int64_t n : {1, 3, 17, 1000, 100000}) {
    Tensor t = Tensor::empty({n});
    CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  }
}

TEST_CASE("tensor: randn is seeded and has unit variance") {
  Rng a(5), b(5);
  Tensor x = Tensor::randn({10000}, a), y = Tensor::randn({10000}, b);
  CHECK(x.to_vector() == y.to_vector());
  double s2 = 0;
  for (float v : x.to_vector()) s2 += double(v) * v;
  CHECK(s2 / 10000 == doctest::Approx(1.0).epsilon(0.05));
  Rng c(5);
  Tensor u = Tensor::uniform({1000}, c, -2.0f, -1.0f);
  for (float v : u.to_vector()) CHECK((v >= -2.0f && v < -1.0f));
}

TEST_CASE("tensor: reshape shares the buffer, clone and transpose copy") {
  Tensor x = Tensor::arange(6);
  Tensor r = x.reshape({2, -1});
  CHECK(r.shape() == Shape{2, 3});
  CHECK(r.data() == x.data());
  x.data()[4] = 40.0f;
  CHECK(r.at({1, 1}) == 40.0f);
  Tensor c = r.clone();
  CHECK(c.data() != r.data());
  Tensor t = transpose(r, 0, 1);
  CHECK(t.data() != r.data());
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.at({1, 1}) == 40.0f);
}

TEST_CASE("tensor: select_rows copies entries of axis 0 in the given order, without autograd history") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 1, 2}).set_requires_grad(true);
  Tensor y = x.select_rows({2, 0, 2});
  CHECK(y.shape() == Shape{3, 1, 2});
  CHECK(y.to_vector() == std::vector<float>{5, 6, 1, 2, 5, 6});
  CHECK(!y.requires_grad());
  y.data()[0] = 0.0f;  // a copy, not a view
  CHECK(x.at({2, 0, 0}) == 5.0f);
  CHECK(x.select_rows({}).shape() == Shape{0, 1, 2});
  CHECK_THROWS_WITH_AS(x.select_rows({3}), doctest::Contains("row 3 is out of range [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(Tensor::scalar(1.0f).select_rows({0}), doctest::Contains("rank >= 1"), Error);
}

TEST_CASE("tensor: printing shows the shape and the values") {
  std::ostringstream os;
  os << Tensor::from_vector({1, 2.5f}, {1, 2});
  CHECK(os.str() == "Tensor(shape=[1, 2], [1, 2.5])");
  std::ostringstream big;
  big << Tensor::zeros({20});
  CHECK(big.str().find("... (4 more)") != std::string::npos);
}

TEST_CASE("tensor: misuse throws qkv::Error naming the problem") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(x.at({2, 0}), doctest::Contains("index 2 out of range [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(x.at({0}), doctest::Contains("1 indices for a tensor of shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(x.item(), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({4, 2}), doctest::Contains("cannot reshape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({-1, -1}), doctest::Contains("more than one -1"), Error);
  CHECK_THROWS_WITH_AS(Tensor::from_vector({1, 2}, {3}), doctest::Contains("2 values cannot fill shape [3]"), Error);
  CHECK_THROWS_AS(Tensor::zeros({-1}), Error);
  Tensor undefined;
  CHECK_FALSE(undefined.defined());
  CHECK_THROWS_WITH_AS(undefined.shape(), doctest::Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(x.size(2), doctest::Contains("axis 2 is out of range"), Error);
}
