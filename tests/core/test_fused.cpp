// The fused kernels (layernorm, cross_entropy) against their composite references (reference_ops.h), for
// values and for the gradient of every input, and cross_entropy against numbers computed by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "reference_ops.h"

using namespace qkv;

namespace {

using Inputs = std::vector<Tensor>;
using Op = std::function<Tensor(const Inputs&)>;

// max_i |a_i - b_i| / max(floor, max_i |b_i|): the error relative to the reference's largest magnitude.
double relative_error(const Tensor& a, const Tensor& b, double floor) {
  REQUIRE(a.shape() == b.shape());
  double diff = 0.0, scale = floor;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b.data()[i])));
  }
  return diff / scale;
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;  // undefined for inputs that are undefined
};

// Runs `op` on fresh leaf copies of `inputs` (undefined ones stay undefined) and backpropagates
// sum(out * weights), so every input's gradient is d loss / d input for the same upstream gradient.
Run run(const Op& op, const Inputs& inputs, const Tensor& weights) {
  Inputs leaves;
  for (const Tensor& x : inputs) {
    Tensor leaf;
    if (x.defined()) {
      leaf = x.clone();
      leaf.set_requires_grad(true);
    }
    leaves.push_back(leaf);
  }
  Run r;
  r.out = op(leaves);
  sum(mul(r.out, weights)).backward();
  for (const Tensor& leaf : leaves) r.grads.push_back(leaf.defined() ? leaf.grad() : Tensor());
  return r;
}

// The fused op and its reference agree on values (to value_tol relative to max(1, |reference|)) and on every
// input's gradient (to grad_tol relative to the largest gradient of that input). Both compute in float with
// their own rounding order; the largest differences seen are about 2e-7.
void check_against_reference(const Op& fused, const Op& reference, const Inputs& inputs, Rng& rng,
                             double value_tol = 1e-6, double grad_tol = 1e-6) {
  Tensor probe;
  {
    NoGrad no_grad;
    probe = fused(inputs);
  }
  const Tensor weights = Tensor::uniform(probe.shape(), rng, -1.0f, 1.0f);
  const Run a = run(fused, inputs, weights), b = run(reference, inputs, weights);
  CHECK(relative_error(a.out, b.out, 1.0) <= value_tol);
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) continue;
    INFO("gradient of input ", k, " of shape ", str(inputs[k].shape()));
    REQUIRE(a.grads[k].defined());
    REQUIRE(b.grads[k].defined());
    CHECK(relative_error(a.grads[k], b.grads[k], 1e-30) <= grad_tol);
  }
}

Tensor uniform(const Shape& s, Rng& rng, float lo = -1.0f, float hi = 1.0f) { return Tensor::uniform(s, rng, lo, hi); }

const Op fused_layernorm = [](const Inputs& x) { return layernorm(x[0], x[1], x[2]); };
const Op reference_layernorm = [](const Inputs& x) { return ref::layernorm(x[0], x[1], x[2]); };

Op fused_cross_entropy(const Ids& targets, int32_t ignore_index, float smoothing) {
  return [=](const Inputs& x) { return cross_entropy(x[0], targets, ignore_index, smoothing); };
}
Op reference_cross_entropy(const Ids& targets, int32_t ignore_index, float smoothing) {
  return [=](const Inputs& x) { return ref::cross_entropy(x[0], targets, ignore_index, smoothing); };
}

}  // namespace

TEST_CASE("fused: layernorm equals its composite reference, values and gradients") {
  Rng rng(31);
  SUBCASE("weight and bias, [4, 8]") {
    check_against_reference(fused_layernorm, reference_layernorm,
                            {uniform({4, 8}, rng), uniform({8}, rng, 0.5f, 1.5f), uniform({8}, rng)}, rng);
  }
  SUBCASE("neither weight nor bias, [2, 3, 16]") {
    check_against_reference(fused_layernorm, reference_layernorm, {uniform({2, 3, 16}, rng), Tensor(), Tensor()}, rng);
  }
  SUBCASE("weight only, [5, 7]") {
    check_against_reference(fused_layernorm, reference_layernorm, {uniform({5, 7}, rng), uniform({7}, rng), Tensor()},
                            rng);
  }
  SUBCASE("bias only, rows with mean 5 and spread 3, [3, 64]") {
    Tensor x = add(mul(Tensor::randn({3, 64}, rng), 3.0f), 5.0f);
    check_against_reference(fused_layernorm, reference_layernorm, {x, Tensor(), uniform({64}, rng)}, rng);
  }
}

TEST_CASE("fused: layernorm with C = 1 outputs the bias, and x gets no gradient beyond rounding") {
  // Every row is its own mean: xhat = 0, y = bias, dweight = 0, dbias = sum of dy. The gradient of x is
  // rstd (g - mean(g)) = 0 in exact arithmetic, but rstd = 1 / sqrt(1e-5) = 316 amplifies the rounding of
  // g = dy w (the fused kernel may contract it into an FMA), so dx is bounded by rstd times a few ulp of g.
  Rng rng(8);
  const Inputs inputs = {uniform({3, 1}, rng), uniform({1}, rng), uniform({1}, rng)};
  const Tensor weights = uniform({3, 1}, rng);
  const Run a = run(fused_layernorm, inputs, weights), b = run(reference_layernorm, inputs, weights);
  for (const Run* r : {&a, &b}) {
    for (float y : r->out.to_vector()) CHECK(y == inputs[2].item());
    CHECK(r->grads[1].item() == 0.0f);
    CHECK(r->grads[2].item() == doctest::Approx(sum(weights).item()).epsilon(1e-6));
    const double bound = 316.3 * 4 * 1.2e-7 * std::abs(inputs[1].item());  // rstd * 4 ulp * max |dy w|
    for (float dx : r->grads[0].to_vector()) CHECK(std::abs(dx) <= bound);
  }
}

TEST_CASE("fused: cross_entropy equals its composite reference, values and gradients") {
  Rng rng(47);
  SUBCASE("ignored rows, no smoothing") {
    Ids targets({3, -100, 0, 9, -100, 5}, {6});
    check_against_reference(fused_cross_entropy(targets, -100, 0.0f), reference_cross_entropy(targets, -100, 0.0f),
                            {uniform({6, 10}, rng, -3.0f, 3.0f)}, rng);
  }
  SUBCASE("ignored rows, label smoothing 0.1") {
    Ids targets({3, -100, 0, 9, -100, 5}, {6});
    check_against_reference(fused_cross_entropy(targets, -100, 0.1f), reference_cross_entropy(targets, -100, 0.1f),
                            {uniform({6, 10}, rng, -3.0f, 3.0f)}, rng);
  }
  SUBCASE("ignore_index 0, a valid class id, with smoothing") {
    Ids targets({0, 2, 0, 1}, {4});
    check_against_reference(fused_cross_entropy(targets, 0, 0.1f), reference_cross_entropy(targets, 0, 0.1f),
                            {uniform({4, 5}, rng, -3.0f, 3.0f)}, rng);
  }
  SUBCASE("large logits (|z| up to 1e3): both stay finite and agree") {
    // Rows 0-3 hold logits of order 1e3, where exp overflows float without the max shift; row 4 is a constant
    // 1e3 (a uniform distribution); the other rows are ordinary.
    Tensor z = uniform({8, 33}, rng, -3.0f, 3.0f);
    for (int64_t i = 0; i < 4 * 33; ++i) z.data()[i] *= 1000.0f / 3.0f;
    for (int64_t v = 0; v < 33; ++v) z.data()[4 * 33 + v] = 1000.0f;
    Ids targets({0, 5, 17, 32, 3, 1, -100, 8}, {8});
    for (float smoothing : {0.0f, 0.1f}) {
      CAPTURE(smoothing);
      NoGrad no_grad;
      float fused = cross_entropy(z, targets, -100, smoothing).item();
      float reference = ref::cross_entropy(z, targets, -100, smoothing).item();
      CHECK(std::isfinite(fused));
      CHECK(std::isfinite(reference));
      CHECK(fused > 100.0f);  // the targets of rows 0-3 are not their argmax: each costs hundreds of nats
    }
    check_against_reference(fused_cross_entropy(targets, -100, 0.1f), reference_cross_entropy(targets, -100, 0.1f), {z},
                            rng);
    check_against_reference(fused_cross_entropy(targets, -100, 0.0f), reference_cross_entropy(targets, -100, 0.0f), {z},
                            rng);
  }
}

TEST_CASE("fused: cross_entropy on a 2x3 example computed by hand") {
  // logits z = [[1, 2, 3], [0, 0, 0]], targets [2, 0].
  // Row 0: lse = 3 + ln(1 + e^-1 + e^-2) = 3.4076059644, so -logp[2] = lse - 3 = 0.4076059644 and
  //        softmax = e^(z - lse) = [0.0900305732, 0.2447284711, 0.6652409558].
  // Row 1: all logits equal, so -logp[v] = ln 3 = 1.0986122887 and softmax = 1/3 each.
  // Mean:  (0.4076059644 + 1.0986122887) / 2 = 0.7531091266.
  // Smoothing 0.1: row 0 = 0.9 * 0.4076059644 + 0.1 * mean_v(-logp[v]), mean_v(-logp[v]) = lse - mean(z) =
  //        1.4076059644, so 0.5076059644; row 1 stays ln 3; the mean is 0.8031091266.
  // Gradient: (softmax - q) / 2 per row, q = (1 - eps) onehot(t) + eps / 3.
  const Tensor z = Tensor::from_vector({1, 2, 3, 0, 0, 0}, {2, 3});
  const Ids targets({2, 0}, {2});
  auto loss_and_grad = [&](const Ids& t, float smoothing) {
    Tensor logits = z.clone();
    logits.set_requires_grad(true);
    Tensor loss = cross_entropy(logits, t, -100, smoothing);
    float value = loss.item();
    loss.backward();
    return std::make_pair(value, logits.grad().to_vector());
  };
  SUBCASE("no smoothing") {
    auto [loss, grad] = loss_and_grad(targets, 0.0f);
    CHECK(loss == doctest::Approx(0.7531091266).epsilon(1e-6));
    const std::vector<double> expected = {0.0450152866,  0.1223642355, -0.1673795221,
                                          -0.3333333333, 0.1666666667, 0.1666666667};
    for (size_t i = 0; i < expected.size(); ++i) CHECK(grad[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
  SUBCASE("label smoothing 0.1") {
    auto [loss, grad] = loss_and_grad(targets, 0.1f);
    CHECK(loss == doctest::Approx(0.8031091266).epsilon(1e-6));
    // Row 0: (softmax - [1/30, 1/30, 28/30]) / 2; row 1: (1/3 - [28/30, 1/30, 1/30]) / 2.
    const std::vector<double> expected = {0.0283486199, 0.1056975689, -0.1340461888, -0.3, 0.15, 0.15};
    for (size_t i = 0; i < expected.size(); ++i) CHECK(grad[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
  SUBCASE("the second row ignored: the mean is over the one counted row") {
    auto [loss, grad] = loss_and_grad(Ids({2, -100}, {2}), 0.0f);
    CHECK(loss == doctest::Approx(0.4076059644).epsilon(1e-6));
    const std::vector<double> expected = {0.0900305732, 0.2447284711, -0.3347590442, 0, 0, 0};
    for (size_t i = 0; i < expected.size(); ++i) CHECK(grad[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
}

TEST_CASE("fused: cross_entropy with every target ignored is NaN, as PyTorch (0 / 0)") {
  Rng rng(5);
  const Ids all_ignored({-100, -100, -100}, {3});
  for (float smoothing : {0.0f, 0.1f}) {
    CAPTURE(smoothing);
    Tensor logits = uniform({3, 4}, rng);
    logits.set_requires_grad(true);
    Tensor loss = cross_entropy(logits, all_ignored, -100, smoothing);
    CHECK(std::isnan(loss.item()));
    CHECK(std::isnan(ref::cross_entropy(logits.detach(), all_ignored, -100, smoothing).item()));
    // Ignored rows never receive a gradient, so the NaN does not spread into it.
    loss.backward();
    for (float g : logits.grad().to_vector()) CHECK(g == 0.0f);
  }
}
