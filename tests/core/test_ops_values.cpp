// Values of every op against hand-computed results, with broadcasting and edge shapes.
#include <doctest/doctest.h>

#include <cmath>

#include "core/ops.h"
#include "core/rng.h"

using namespace qkv;

namespace {
Tensor T(std::vector<float> v, Shape s) { return Tensor::from_vector(v, s); }
void check_close(const Tensor& t, const std::vector<float>& expected, float tol = 1e-6f) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) CHECK(t.data()[i] == doctest::Approx(expected[i]).epsilon(tol));
}
}  // namespace

TEST_CASE("ops: binary arithmetic broadcasts as NumPy") {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(add(a, T({10, 20, 30}, {3})), {11, 22, 33, 14, 25, 36});
  check_close(sub(a, T({1, 2}, {2, 1})), {0, 1, 2, 2, 3, 4});
  check_close(mul(a, Tensor::scalar(2)), {2, 4, 6, 8, 10, 12});
  check_close(div(a, T({1, 2, 4}, {1, 3})), {1, 1, 0.75f, 4, 2.5f, 1.5f});
  Tensor outer = mul(T({1, 2}, {2, 1}), T({3, 4, 5}, {1, 3}));  // both sides broadcast
  CHECK(outer.shape() == Shape{2, 3});
  check_close(outer, {3, 4, 5, 6, 8, 10});
  CHECK(add(Tensor::scalar(1), Tensor::scalar(2)).item() == 3.0f);
  CHECK(add(T({1, 2, 3, 4}, {2, 1, 2}), T({1, 1}, {1, 2, 1})).shape() == Shape{2, 2, 2});
  check_close(a - 1.0f, {0, 1, 2, 3, 4, 5});
  check_close(2.0f - a, {1, 0, -1, -2, -3, -4});
  check_close(12.0f / a, {12, 6, 4, 3, 2.4f, 2});
  CHECK_THROWS_WITH_AS(add(a, T({1, 2}, {2})), doctest::Contains("shapes [2, 3] and [2] do not broadcast"), Error);
}

TEST_CASE("ops: unary functions") {
  Tensor x = T({-1, 0, 2}, {3});
  check_close(neg(x), {1, 0, -2});
  check_close(exp(x), {std::exp(-1.0f), 1, std::exp(2.0f)});
  check_close(log(T({1, std::exp(1.0f), 0.5f}, {3})), {0, 1, std::log(0.5f)});
  check_close(sqrt(T({4, 9, 0.25f}, {3})), {2, 3, 0.5f});
  check_close(tanh(x), {std::tanh(-1.0f), 0, std::tanh(2.0f)});
  check_close(sigmoid(x), {1 / (1 + std::exp(1.0f)), 0.5f, 1 / (1 + std::exp(-2.0f))});
  check_close(relu(x), {0, 0, 2});
  // gelu(x) = x Phi(x): Phi(-1) = 0.15865525, Phi(2) = 0.97724987
  check_close(gelu(x), {-0.15865525f, 0, 1.95449974f}, 1e-5f);
  // PyTorch's gelu(approximate="tanh") at -1 and 2
  check_close(gelu_tanh(x), {-0.15880801f, 0, 1.95459769f}, 1e-5f);
}

TEST_CASE("ops: reductions") {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum(a).item() == 21.0f);
  CHECK(mean(a).item() == 3.5f);
  CHECK(sum(a).dim() == 0);
  check_close(sum(a, 0), {5, 7, 9});
  check_close(sum(a, -1), {6, 15});
  CHECK(sum(a, 1, true).shape() == Shape{2, 1});
  check_close(mean(a, 1), {2, 5});
  CHECK(mean(T({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), 1).shape() == Shape{2, 2});
  check_close(mean(T({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), 1), {2, 3, 6, 7});
  MaxResult m = max(T({1, 9, 3, 7, 5, 6}, {2, 3}), 1);
  check_close(m.values, {9, 7});
  CHECK(m.indices.data == std::vector<int32_t>{1, 0});
  MaxResult tie = max(T({2, 2}, {2}), 0);  // first index wins
  CHECK(tie.indices.data == std::vector<int32_t>{0});
  CHECK(sum(Tensor::zeros({0})).item() == 0.0f);
  CHECK_THROWS_AS(mean(Tensor::zeros({0})), Error);
  CHECK_THROWS_AS(sum(a, 2), Error);
}

TEST_CASE("ops: shape ops") {
  Tensor a = T({0, 1, 2, 3, 4, 5}, {2, 3});
  check_close(transpose(a, 0, 1), {0, 3, 1, 4, 2, 5});
  Tensor b = Tensor::arange(24).reshape({2, 3, 4});
  Tensor p = permute(b, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == b.at({1, 2, 3}));
  CHECK(p.at({1, 0, 2}) == b.at({0, 2, 1}));
  Tensor c = concat({a, T({6, 7}, {2, 1})}, 1);
  CHECK(c.shape() == Shape{2, 4});
  check_close(c, {0, 1, 2, 6, 3, 4, 5, 7});
  check_close(concat({a, a}, 0), {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
  check_close(slice(a, 1, 1, 3), {1, 2, 4, 5});
  CHECK(slice(a, 0, 1, 1).shape() == Shape{0, 3});
  CHECK_THROWS_WITH_AS(slice(a, 1, 2, 4), doctest::Contains("range [2, 4)"), Error);
  CHECK_THROWS_WITH_AS(permute(b, {0, 0, 1}), doctest::Contains("appears twice"), Error);
  CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({3, 1})}, 1), doctest::Contains("differ outside axis 1"), Error);
}

TEST_CASE("ops: matmul, transposes and batches") {
  Tensor a = T({1, 2, 3, 4, 5, 6}, {2, 3}), b = T({1, 0, 0, 1, 1, 1}, {3, 2});
  check_close(matmul(a, b), {4, 5, 10, 11});
  check_close(matmul(a, transpose(b, 0, 1), false, true), {4, 5, 10, 11});
  check_close(matmul(transpose(a, 0, 1), b, true, false), {4, 5, 10, 11});
  check_close(matmul(transpose(a, 0, 1), transpose(b, 0, 1), true, true), {4, 5, 10, 11});
  // A batch of two different matrices times one shared matrix, and the batch broadcast from size 1.
  Tensor batch = concat({a.reshape({1, 2, 3}), mul(a, 2.0f).reshape({1, 2, 3})}, 0);
  Tensor out = matmul(batch, b);
  CHECK(out.shape() == Shape{2, 2, 2});
  check_close(out, {4, 5, 10, 11, 8, 10, 20, 22});
  check_close(matmul(batch, b.reshape({1, 3, 2})), {4, 5, 10, 11, 8, 10, 20, 22});
  check_close(matmul(a, concat({b.reshape({1, 3, 2}), b.reshape({1, 3, 2})}, 0)), {4, 5, 10, 11, 4, 5, 10, 11});
  CHECK(matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3})).to_vector() == std::vector<float>(6, 0.0f));
  CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("inner dimensions differ"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::ones({3})), doctest::Contains("rank >= 2"), Error);
}

TEST_CASE("ops: softmax, log_softmax, masked_fill") {
  Tensor x = T({0, 0, std::log(2.0f), 1000, 1000, 1000}, {2, 3});
  check_close(softmax(x), {0.25f, 0.25f, 0.5f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f});
  check_close(log_softmax(x),
              {std::log(0.25f), std::log(0.25f), std::log(0.5f), -std::log(3.0f), -std::log(3.0f), -std::log(3.0f)},
              1e-5f);
  // A causal-style mask broadcast over a batch of rows.
  Mask upper({0, 1, 0, 0}, {2, 2});
  Tensor scores = Tensor::zeros({3, 2, 2});
  Tensor filled = masked_fill(scores, upper, -INFINITY);
  Tensor p = softmax(filled);
  CHECK(p.at({2, 0, 0}) == 1.0f);
  CHECK(p.at({2, 0, 1}) == 0.0f);
  CHECK(p.at({2, 1, 1}) == 0.5f);
  // A row masked everywhere has no distribution: NaN, as in PyTorch. Attention layers never build such rows.
  Tensor all = softmax(masked_fill(Tensor::zeros({1, 2}), Mask({1, 1}, {1, 2}), -INFINITY));
  CHECK(std::isnan(all.at({0, 0})));
  CHECK_THROWS_WITH_AS(masked_fill(scores, Mask({1, 0, 1}, {3}), 0.0f), doctest::Contains("broadcast"), Error);
}

TEST_CASE("ops: embedding looks up rows and rejects bad ids") {
  Tensor w = T({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor e = embedding(w, Ids({2, 0, 2, 1}, {2, 2}));
  CHECK(e.shape() == Shape{2, 2, 2});
  check_close(e, {20, 21, 0, 1, 20, 21, 10, 11});
  CHECK_THROWS_WITH_AS(embedding(w, Ids({3}, {1})), doctest::Contains("id 3 at position 0 is out of range [0, 3)"),
                       Error);
  CHECK_THROWS_AS(embedding(w, Ids({-1}, {1})), Error);
  // Repeated ids add their gradients into the same row.
  Tensor wg = w.clone().set_requires_grad(true);
  sum(embedding(wg, Ids({1, 1, 0}, {3}))).backward();
  check_close(wg.grad(), {1, 1, 2, 2, 0, 0});
}

TEST_CASE("ops: dropout keeps 1-p of the values, scaled, with a mask named by its key") {
  Tensor x = Tensor::ones({100000});
  Tensor y = dropout(x, 0.25f, 7, 3);
  int64_t kept = 0;
  for (float v : y.to_vector()) {
    CHECK((v == 0.0f || v == doctest::Approx(1 / 0.75f)));
    kept += v != 0.0f;
  }
  CHECK(kept / 100000.0 == doctest::Approx(0.75).epsilon(0.01));
  CHECK(dropout(x, 0.25f, 7, 3).to_vector() == y.to_vector());
  CHECK(dropout(x, 0.25f, 7, 4).to_vector() != y.to_vector());
  CHECK(dropout(x, 0.0f, 7, 3).data() == x.data());
  CHECK(sum(dropout(x, 1.0f, 7, 3)).item() == 0.0f);
  CHECK_THROWS_WITH_AS(dropout(x, 1.5f, 7, 3), doctest::Contains("probability 1.5"), Error);
  // The documented mask: element i is dropped when philox(seed, stream, i / 4)[i % 4] falls below p.
  std::vector<float> v = y.to_vector();
  int64_t wrong = 0;
  for (uint64_t i = 0; i < v.size(); ++i)
    wrong += (v[i] == 0.0f) != (to_unit_float(philox(7, 3, i / 4)[i % 4]) < 0.25f);
  CHECK(wrong == 0);
  // Attention's mask on a range [first, first + n) is the same stream: a part of the whole tensor's mask.
  std::vector<float> part(1000, 2.0f);
  apply_dropout_mask(0.25f, 1 / 0.75f, 7, 3, 4097, part.data(), part.data(), 1000);
  for (int64_t e = 0; e < 1000; ++e) CHECK(part[e] == (v[4097 + e] == 0.0f ? 0.0f : 2.0f / 0.75f));
}

TEST_CASE("ops: layernorm normalises each row") {
  // Row (1, 2, 3): mean 2, variance 2/3, so xhat = (-1, 0, 1) / sqrt(2/3 + 1e-5).
  Tensor x = T({1, 2, 3, 10, 10, 10}, {2, 3});
  float r = 1.0f / std::sqrt(2.0f / 3.0f + 1e-5f);
  check_close(layernorm(x, Tensor(), Tensor()), {-r, 0, r, 0, 0, 0}, 1e-5f);
  Tensor w = T({1, 2, 3}, {3}), b = T({0.5f, 0.5f, 0.5f}, {3});
  check_close(layernorm(x, w, b), {0.5f - r, 0.5f, 0.5f + 3 * r, 0.5f, 0.5f, 0.5f}, 1e-5f);
  CHECK_THROWS_WITH_AS(layernorm(x, T({1, 2}, {2}), Tensor()), doctest::Contains("weight of shape [3]"), Error);
}

TEST_CASE("linear: x W^T + b by hand, and the same as matmul plus the bias") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = Tensor::from_vector({1, 0, -1, 2, 1, 0}, {2, 3});  // rows: (1, 0, -1), (2, 1, 0)
  Tensor b = Tensor::from_vector({0.5f, -1}, {2});
  Tensor y = linear(x, w, b);
  REQUIRE(y.shape() == Shape{2, 2});
  // row 0: (1 - 3 + 0.5, 2 + 2 - 1); row 1: (4 - 6 + 0.5, 8 + 5 - 1)
  CHECK(y.data()[0] == -1.5f);
  CHECK(y.data()[1] == 3.0f);
  CHECK(y.data()[2] == -1.5f);
  CHECK(y.data()[3] == 12.0f);
  Tensor no_bias = linear(x, w, Tensor());
  CHECK(no_bias.data()[3] == 13.0f);
  CHECK_THROWS_AS(linear(x, Tensor::zeros({2, 4}), b), Error);
  CHECK_THROWS_AS(linear(x, w, Tensor::zeros({3})), Error);
}
