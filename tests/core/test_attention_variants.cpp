// Local and linear attention against their composite references, values and gradients; local with a window
// of at least T equals full attention; linear decoding with a running state equals the whole causal pass.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/ops.h"
#include "core/rng.h"
#include "tests/core/reference_ops.h"

using namespace qkv;

namespace {

struct Qkv {
  Tensor q, k, v;  // [B, T, NH * hs] each, requiring gradients
};

Qkv random_qkv(uint64_t seed, int64_t B, int64_t Tq, int64_t Tk, int64_t width) {
  Rng rng(seed);
  return {Tensor::randn({B, Tq, width}, rng, 1.0f).set_requires_grad(true),
          Tensor::randn({B, Tk, width}, rng, 1.0f).set_requires_grad(true),
          Tensor::randn({B, Tk, width}, rng, 1.0f).set_requires_grad(true)};
}

// Which keys each query may not see: causal, window (0: none), padding of batch b.
std::vector<uint8_t> hidden_keys(int64_t Tq, int64_t Tk, bool causal, int64_t window, const Mask* padding, int64_t b) {
  std::vector<uint8_t> hidden(Tq * Tk, 0);
  for (int64_t i = 0; i < Tq; ++i)
    for (int64_t j = 0; j < Tk; ++j) {
      int64_t at = i + Tk - Tq;
      bool h =
          (causal && j > at) || (window > 0 && std::abs(at - j) >= window) || (padding && padding->data[b * Tk + j]);
      hidden[i * Tk + j] = h;
    }
  return hidden;
}

// The composite of every (batch, head), heads side by side as the kernels return them.
Tensor composite(
    const Qkv& x, int64_t n_head, const std::vector<std::vector<uint8_t>>& hidden_per_batch,
    const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const std::vector<uint8_t>&)>& head) {
  const int64_t B = x.q.size(0), width = x.q.size(2), hs = width / n_head;
  std::vector<Tensor> batches;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<Tensor> heads;
    auto part = [&](const Tensor& t, int64_t h) {
      return reshape(slice(slice(t, 0, b, b + 1), 2, h * hs, (h + 1) * hs), {t.size(1), hs});
    };
    for (int64_t h = 0; h < n_head; ++h)
      heads.push_back(head(part(x.q, h), part(x.k, h), part(x.v, h), hidden_per_batch[b]));
    batches.push_back(reshape(concat(heads, 1), {1, x.q.size(1), width}));
  }
  return concat(batches, 0);
}

// Values and the gradients of q, k and v of `fused` and `reference` (the same loss: a fixed weighting of
// every output) agree to tol.
void check_same(const Qkv& x, const std::function<Tensor()>& fused, const std::function<Tensor()>& reference,
                float tol) {
  Rng rng(99);
  Tensor a = fused();
  Tensor weights = Tensor::randn(a.shape(), rng, 1.0f);
  std::vector<std::vector<float>> grads[2];
  for (int run = 0; run < 2; ++run) {
    for (Tensor t : {x.q, x.k, x.v}) t.zero_grad();
    Tensor out = run == 0 ? a : reference();
    if (run == 1)
      for (int64_t i = 0; i < out.numel(); ++i) REQUIRE(std::abs(out.data()[i] - a.data()[i]) <= tol);
    sum(mul(out, weights)).backward();
    for (const Tensor& t : {x.q, x.k, x.v}) grads[run].push_back(t.grad().to_vector());
  }
  for (size_t t = 0; t < 3; ++t)
    for (size_t i = 0; i < grads[0][t].size(); ++i) {
      INFO("input ", t, " element ", i);
      REQUIRE(std::abs(grads[0][t][i] - grads[1][t][i]) <= tol * (1.0f + std::abs(grads[1][t][i])));
    }
}

}  // namespace

TEST_CASE("attention: local equals its composite (masked softmax) over several query blocks, with padding") {
  // T 150 spans three blocks of 64 queries; the second batch pads its last 20 keys.
  const int64_t B = 2, T = 150, NH = 2, width = 8;
  Mask padding(std::vector<uint8_t>(B * T, 0), {B, T});
  for (int64_t j = T - 20; j < T; ++j) padding.data[T + j] = 1;
  for (bool causal : {true, false})
    for (int64_t window : {1, 5, 70}) {
      CAPTURE(causal);
      CAPTURE(window);
      Qkv x = random_qkv(7 + window, B, T, T, width);
      std::vector<std::vector<uint8_t>> hidden{hidden_keys(T, T, causal, window, &padding, 0),
                                               hidden_keys(T, T, causal, window, &padding, 1)};
      check_same(
          x,
          [&] {
            AttentionOptions o;
            o.causal = causal;
            o.window = window;
            o.key_padding = &padding;
            return attention({x.q}, {x.k}, {x.v}, NH, o);
          },
          [&] { return composite(x, NH, hidden, ref::attention_head); }, 1e-4f);
    }
}

TEST_CASE("attention: local with a window of at least T equals full attention") {
  const int64_t T = 40;
  for (bool causal : {true, false}) {
    Qkv x = random_qkv(3, 2, T, T, 8);
    AttentionOptions full, local;
    full.causal = local.causal = causal;
    local.window = T;
    Tensor a = attention({x.q}, {x.k}, {x.v}, 2, full), b = attention({x.q}, {x.k}, {x.v}, 2, local);
    for (int64_t i = 0; i < a.numel(); ++i) REQUIRE(std::abs(a.data()[i] - b.data()[i]) <= 1e-5f);
    // A window of 1 is different: each query sees itself only, so it outputs its own value.
    local.window = 1;
    Tensor c = attention({x.q}, {x.k}, {x.v}, 2, local);
    for (int64_t i = 0; i < c.numel(); ++i) REQUIRE(c.data()[i] == doctest::Approx(x.v.data()[i]).epsilon(1e-5));
  }
}

TEST_CASE("attention: local attention reports weights only inside the window") {
  Qkv x = random_qkv(5, 1, 12, 12, 4);
  Tensor w;
  AttentionOptions o;
  o.window = 3;
  o.weights_out = &w;
  attention({x.q}, {x.k}, {x.v}, 1, o);
  for (int64_t i = 0; i < 12; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < 12; ++j) {
      if (std::abs(i - j) >= 3) CHECK(w.at({0, 0, i, j}) == 0.0f);
      row += w.at({0, 0, i, j});
    }
    CHECK(row == doctest::Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("linear attention: equals its composite (the T x T form), causal and not, with padding") {
  const int64_t B = 2, T = 37, NH = 2, width = 8;
  Mask padding(std::vector<uint8_t>(B * T, 0), {B, T});
  for (int64_t j = T - 9; j < T; ++j) padding.data[T + j] = 1;
  for (bool causal : {true, false}) {
    CAPTURE(causal);
    Qkv x = random_qkv(11, B, T, T, width);
    std::vector<std::vector<uint8_t>> hidden{hidden_keys(T, T, causal, 0, &padding, 0),
                                             hidden_keys(T, T, causal, 0, &padding, 1)};
    auto head = [](const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<uint8_t>& h) {
      return ref::linear_attention_head(q, k, v, h, kLinearAttentionEps);
    };
    check_same(
        x, [&] { return linear_attention({x.q}, {x.k}, {x.v}, NH, {.causal = causal, .key_padding = &padding}); },
        [&] { return composite(x, NH, hidden, head); }, 1e-4f);
  }
  // Cross-attention shapes: 5 queries over 9 keys.
  Qkv x = random_qkv(12, 1, 5, 9, 4);
  auto head = [](const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<uint8_t>& h) {
    return ref::linear_attention_head(q, k, v, h, kLinearAttentionEps);
  };
  check_same(
      x, [&] { return linear_attention({x.q}, {x.k}, {x.v}, 1); },
      [&] { return composite(x, 1, {std::vector<uint8_t>(45, 0)}, head); }, 1e-4f);
  CHECK_THROWS_WITH_AS(linear_attention({x.q}, {x.k}, {x.v}, 1, {.causal = true}),
                       doctest::Contains("as many queries as keys"), Error);
}

TEST_CASE("attention options: each op refuses the options of the other") {
  Qkv x = random_qkv(14, 1, 4, 4, 4);
  LinearAttentionState state;
  CHECK_THROWS_WITH_AS(attention({x.q}, {x.k}, {x.v}, 1, {.causal = true, .state = &state}),
                       doctest::Contains("a LinearAttentionState is for linear_attention"), Error);
  CHECK_THROWS_WITH_AS(linear_attention({x.q}, {x.k}, {x.v}, 1, {.window = 2}),
                       doctest::Contains("no window and no dropout"), Error);
  CHECK_THROWS_WITH_AS(linear_attention({x.q}, {x.k}, {x.v}, 1, {.dropout = 0.1f}),
                       doctest::Contains("no window and no dropout"), Error);
}

TEST_CASE("linear attention: decoding with the running sums equals the whole causal pass") {
  const int64_t T = 9;
  Qkv x = random_qkv(13, 2, T, T, 8);
  NoGrad no_grad;
  Tensor whole = linear_attention({x.q}, {x.k}, {x.v}, 2, {.causal = true});
  LinearAttentionState state;
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t n : {4, 1, 1, 3}) {  // a prompt of 4, then tokens one by one, then 3 more
    auto cols = [&](const Tensor& t) { return slice(t, 1, at, at + n); };
    parts.push_back(linear_attention({cols(x.q)}, {cols(x.k)}, {cols(x.v)}, 2, {.causal = true, .state = &state}));
    at += n;
  }
  CHECK(state.s.shape() == Shape{2, 2, 4, 4});  // the state does not grow with T
  Tensor pieced = concat(parts, 1);
  for (int64_t i = 0; i < whole.numel(); ++i) REQUIRE(std::abs(whole.data()[i] - pieced.data()[i]) <= 1e-5f);
}
