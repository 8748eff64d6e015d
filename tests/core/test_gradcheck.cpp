// Finite-difference gradient checks of every differentiable op in core/ops, as one table.
//
// Each case builds small random inputs (leaves with requires_grad), runs the op, and reduces its output to a
// scalar with fixed random weights R that need no gradient:  loss = sum(out * R),  so d loss / d out = R and
// not all ones. After backward, every element x_j of every input is checked against the central difference
//   numeric = (f(x_j + e) - f(x_j - e)) / 2e,   f = sum(out * R) recomputed under NoGrad and summed in double,
// with |analytic - numeric| <= atol + rtol |numeric|. Inputs stay away from kinks (relu, max), poles (div,
// log) and ties, so that x_j +- e never crosses one.
//
// Error budget, to read the per-case tolerances: for ops linear in each input (add, mul, matmul, the shape
// ops, ...) the central difference is exact up to float rounding of the outputs, about 1e-7 |out| / e, so
// they carry tight tolerances; smooth nonlinear ops add the truncation error e^2 f''' / 6.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"

using namespace qkv;

namespace {

using Inputs = std::vector<Tensor>;

struct GradCase {
  std::string name;                          // "op/variant"; the part before '/' names the core function
  std::function<Inputs(Rng&)> make;          // fresh leaves with requires_grad
  std::function<Tensor(const Inputs&)> run;  // the op under test
  float eps = 1e-2f;                         // finite-difference step
  double atol = 1e-5, rtol = 1e-4;           // the tier of ops linear in each input, see below
};

// Tolerance tiers, set from the worst errors measured with e = 1e-2 and kept several times above them:
// - ops linear in each input (the default above): the central difference is exact up to the float rounding
//   of the outputs; worst |analytic - numeric| seen about 2e-6;
// - matmul: linear too, but each output rounds a K-term dot product in BLAS's order; worst seen about 1e-5;
// - smooth nonlinear ops add the truncation error e^2 f3 / 6 (f3 the third derivative); worst seen about
//   8e-5 (layernorm). div and log step by e = 5e-3: at 1e-2 their truncation error alone reaches 2e-4.
constexpr double kMatmulAtol = 3e-5, kMatmulRtol = 3e-4;
constexpr double kSmoothAtol = 1e-4, kSmoothRtol = 1e-3;

// ---- input builders ------------------------------------------------------------------------------------

Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

// Uniform in [lo, hi).
Tensor uniform(const Shape& s, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  return leaf(Tensor::uniform(s, rng, lo, hi));
}

// Magnitude uniform in [lo, hi) with a random sign: values away from 0 (relu's kink, div's pole).
Tensor away_from_zero(const Shape& s, Rng& rng, float lo, float hi) {
  Tensor t = Tensor::uniform(s, rng, lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5f) t.data()[i] = -t.data()[i];
  return leaf(t);
}

// Distinct values at least `gap` apart, in random order: max's argmax cannot switch under a step e < gap / 2.
Tensor distinct(const Shape& s, Rng& rng, float gap) {
  int64_t n = numel(s);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = gap * (static_cast<float>(i) - 0.5f * static_cast<float>(n));
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.next_u32() % (i + 1)]);  // Fisher-Yates
  return leaf(Tensor::from_vector(v, s));
}

std::function<Inputs(Rng&)> away_from_zero_input(Shape s, float lo, float hi) {
  return [s, lo, hi](Rng& rng) { return Inputs{away_from_zero(s, rng, lo, hi)}; };
}

std::function<Inputs(Rng&)> distinct_input(Shape s, float gap) {
  return [s, gap](Rng& rng) { return Inputs{distinct(s, rng, gap)}; };
}

// A builder of uniform [-1, 1) inputs of the given shapes.
std::function<Inputs(Rng&)> uniforms(std::vector<Shape> shapes) {
  return [shapes](Rng& rng) {
    Inputs xs;
    for (const Shape& s : shapes) xs.push_back(uniform(s, rng));
    return xs;
  };
}

// A builder of one input of shape s, uniform in [lo, hi).
std::function<Inputs(Rng&)> one(Shape s, float lo = -1.0f, float hi = 1.0f) {
  return [s, lo, hi](Rng& rng) { return Inputs{uniform(s, rng, lo, hi)}; };
}

// a / b with b's magnitude in [0.7, 1.5).
std::function<Inputs(Rng&)> numerator_denominator(Shape a, Shape b) {
  return [a, b](Rng& rng) { return Inputs{uniform(a, rng), away_from_zero(b, rng, 0.7f, 1.5f)}; };
}

// matmul(a, b, ta, tb) with a and b given in their stored shapes.
GradCase matmul_case(std::string name, Shape a, Shape b, bool ta, bool tb) {
  return {.name = std::move(name),
          .make = uniforms({std::move(a), std::move(b)}),
          .run = [ta, tb](const Inputs& x) { return matmul(x[0], x[1], ta, tb); },
          .atol = kMatmulAtol,
          .rtol = kMatmulRtol};
}

// ---- the table -----------------------------------------------------------------------------------------

std::vector<GradCase> make_cases() {
  const Ids ids({1, 3, 1, 4, 1, 0}, {2, 3});              // repeated ids; row 2 of the table unused
  const Mask mask({0, 1, 0}, {3, 1});                     // broadcasts to [2, 3, 4]
  const Ids targets_ignored({2, -100, 0, 4, -100}, {5});  // default ignore_index -100
  const Ids targets_smoothed({2, 1, 0, 4, 3}, {5});
  const Ids targets_both({2, 0, 3, 0, 1}, {5});                              // ignore_index 0 is also a class index
  const Mask padding({0, 0, 1, 0, 1, 1, 1, 1}, {2, 4});                      // [B, Tk], 1 = a padding key
  const Mask local_padding({0, 0, 0, 0, 0, 1, 0, 1}, {2, 4});                // batch 1: keys 1 and 3 are padding
  const Mask causal({0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1}, {3, 5});  // every row keeps some entries
  const Shape to = {4, -1};                                                  // reshape's target
  const std::vector<int> dims = {2, 0, 1};                                   // permute's order
  const AttentionOptions causal_dropout{.causal = true, .dropout = 0.3f, .seed = 5, .stream = 9};
  Rng constants(99);  // operands that need no gradient
  const Tensor constant_b = Tensor::uniform({4, 5}, constants, -1.0f, 1.0f);
  const Tensor gamma = Tensor::uniform({6}, constants, 0.5f, 1.5f), beta = Tensor::uniform({6}, constants, -1.0f, 1.0f);
  const auto unary = [](std::string name, Tensor (*op)(const Tensor&), float lo, float hi, double atol, double rtol,
                        float eps = 1e-2f) {
    return GradCase{.name = std::move(name),
                    .make = one({3, 4}, lo, hi),
                    .run = [op](const Inputs& x) { return op(x[0]); },
                    .eps = eps,
                    .atol = atol,
                    .rtol = rtol};
  };
  std::vector<GradCase> cases = {
      // Binary arithmetic: same shapes; both operands broadcast ([2, 1, 4] with [3, 1], size-1 and missing
      // dimensions); a rank-0 operand on either side.
      {.name = "add/same", .make = uniforms({{2, 3}, {2, 3}}), .run = [](const Inputs& x) { return add(x[0], x[1]); }},
      {.name = "add/broadcast",
       .make = uniforms({{2, 1, 4}, {3, 1}}),
       .run = [](const Inputs& x) { return add(x[0], x[1]); }},
      {.name = "add/rank0", .make = uniforms({{2, 3}, {}}), .run = [](const Inputs& x) { return add(x[0], x[1]); }},
      {.name = "sub/same", .make = uniforms({{2, 3}, {2, 3}}), .run = [](const Inputs& x) { return sub(x[0], x[1]); }},
      {.name = "sub/broadcast",
       .make = uniforms({{2, 1, 4}, {3, 1}}),
       .run = [](const Inputs& x) { return sub(x[0], x[1]); }},
      {.name = "sub/rank0", .make = uniforms({{}, {2, 3}}), .run = [](const Inputs& x) { return sub(x[0], x[1]); }},
      {.name = "mul/same", .make = uniforms({{2, 3}, {2, 3}}), .run = [](const Inputs& x) { return mul(x[0], x[1]); }},
      {.name = "mul/broadcast",
       .make = uniforms({{2, 1, 4}, {3, 1}}),
       .run = [](const Inputs& x) { return mul(x[0], x[1]); }},
      {.name = "mul/same_tensor_twice",  // x * x: both operands' gradients accumulate into one buffer
       .make = one({2, 3}),
       .run = [](const Inputs& x) { return mul(x[0], x[0]); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "mul/rank0", .make = uniforms({{2, 3}, {}}), .run = [](const Inputs& x) { return mul(x[0], x[1]); }},
      {.name = "div/same",
       .make = numerator_denominator({2, 3}, {2, 3}),
       .run = [](const Inputs& x) { return div(x[0], x[1]); },
       .eps = 5e-3f,  // truncation-dominated at 1e-2
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "div/broadcast",
       .make = numerator_denominator({2, 1, 4}, {3, 1}),
       .run = [](const Inputs& x) { return div(x[0], x[1]); },
       .eps = 5e-3f,  // truncation-dominated at 1e-2
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "div/rank0",  // scalar / tensor, the path of `float / Tensor`
       .make = numerator_denominator({}, {2, 3}),
       .run = [](const Inputs& x) { return div(x[0], x[1]); },
       .eps = 5e-3f,  // truncation-dominated at 1e-2
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "add_scalar", .make = one({2, 3}), .run = [](const Inputs& x) { return add(x[0], 0.7f); }},
      {.name = "mul_scalar", .make = one({2, 3}), .run = [](const Inputs& x) { return mul(x[0], -1.3f); }},

      // Unary functions, on ranges that avoid kinks and poles.
      unary("neg", qkv::neg, -1.0f, 1.0f, 1e-5, 1e-4),
      unary("exp", qkv::exp, -2.0f, 2.0f, kSmoothAtol, kSmoothRtol),
      unary("log", qkv::log, 0.5f, 3.0f, kSmoothAtol, kSmoothRtol, 5e-3f),
      unary("sqrt", qkv::sqrt, 0.5f, 3.0f, kSmoothAtol, kSmoothRtol),
      unary("tanh", qkv::tanh, -2.0f, 2.0f, kSmoothAtol, kSmoothRtol),
      unary("sigmoid", qkv::sigmoid, -3.0f, 3.0f, kSmoothAtol, kSmoothRtol),
      unary("gelu", qkv::gelu, -3.0f, 3.0f, kSmoothAtol, kSmoothRtol),
      unary("gelu_tanh", qkv::gelu_tanh, -3.0f, 3.0f, kSmoothAtol, kSmoothRtol),
      {.name = "relu",  // |x| >= 0.1 > 2 eps: no step crosses the kink at 0
       .make = away_from_zero_input({3, 4}, 0.1f, 2.0f),
       .run = [](const Inputs& x) { return relu(x[0]); }},

      // Reductions.
      {.name = "sum/all", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return sum(x[0]); }},
      {.name = "mean/all", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return mean(x[0]); }},
      {.name = "sum/axis1_keepdim", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return sum(x[0], 1, true); }},
      {.name = "sum/axis0", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return sum(x[0], 0, false); }},
      {.name = "sum/neg_axis", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return sum(x[0], -1); }},
      {.name = "mean/axis1_keepdim",
       .make = one({2, 3, 4}),
       .run = [](const Inputs& x) { return mean(x[0], 1, true); }},
      {.name = "mean/axis0", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return mean(x[0], 0, false); }},
      {.name = "mean/neg_axis_keepdim",
       .make = one({2, 3, 4}),
       .run = [](const Inputs& x) { return mean(x[0], -1, true); }},
      {.name = "max/axis1",  // distinct values 0.1 apart > 2 eps: the argmax never switches
       .make = distinct_input({2, 3, 4}, 0.1f),
       .run = [](const Inputs& x) { return max(x[0], 1).values; }},
      {.name = "max/neg_axis_keepdim",
       .make = distinct_input({2, 3, 4}, 0.1f),
       .run = [](const Inputs& x) { return max(x[0], -1, true).values; }},

      // Shape ops.
      {.name = "reshape", .make = one({2, 3, 4}), .run = [to](const Inputs& x) { return reshape(x[0], to); }},
      {.name = "permute", .make = one({2, 3, 4}), .run = [dims](const Inputs& x) { return permute(x[0], dims); }},
      {.name = "transpose", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return transpose(x[0], 0, 2); }},
      {.name = "transpose/neg_axes",
       .make = one({2, 3, 4}),
       .run = [](const Inputs& x) { return transpose(x[0], -1, -2); }},
      {.name = "concat/middle_axis_3_inputs",
       .make = uniforms({{2, 1, 3}, {2, 3, 3}, {2, 2, 3}}),
       .run = [](const Inputs& x) { return concat(x, 1); }},
      {.name = "slice/middle_axis",
       .make = one({3, 5, 2}),
       .run = [](const Inputs& x) { return slice(x[0], 1, 1, 4); }},
      {.name = "slice/last_axis", .make = one({2, 3, 4}), .run = [](const Inputs& x) { return slice(x[0], -1, 2, 4); }},

      // Matmul (shapes are the stored ones: [K, M] for a transposed a, [N, K] for a transposed b).
      matmul_case("matmul/2d", {3, 4}, {4, 5}, false, false),
      matmul_case("matmul/2d_ta", {4, 3}, {4, 5}, true, false),
      matmul_case("matmul/2d_tb", {3, 4}, {5, 4}, false, true),
      matmul_case("matmul/2d_ta_tb", {4, 3}, {5, 4}, true, true),
      matmul_case("matmul/batched_3d", {2, 3, 4}, {2, 4, 5}, false, false),
      matmul_case("matmul/batched_4d", {2, 2, 3, 4}, {2, 2, 4, 5}, false, false),
      matmul_case("matmul/batched_4d_ta_tb", {2, 2, 4, 3}, {2, 2, 5, 4}, true, true),
      matmul_case("matmul/b_2d", {2, 3, 4}, {4, 5}, false, false),  // a's batch folds into its rows
      matmul_case("matmul/b_2d_tb", {2, 3, 4}, {5, 4}, false, true),
      matmul_case("matmul/b_2d_ta", {2, 4, 3}, {4, 5}, true, false),  // no folding: b broadcast per batch
      matmul_case("matmul/a_2d", {3, 4}, {2, 4, 5}, false, false),
      matmul_case("matmul/a_2d_ta_tb", {4, 3}, {2, 5, 4}, true, true),
      matmul_case("matmul/a_batch1", {1, 3, 4}, {2, 4, 5}, false, false),
      matmul_case("matmul/b_batch1_ta", {2, 4, 3}, {1, 4, 5}, true, false),
      matmul_case("matmul/both_batch1_4d", {2, 1, 3, 4}, {1, 3, 4, 5}, false, false),
      {.name = "matmul/gram_xT_x",  // one tensor as both operands, transposed on one side
       .make = one({4, 3}),
       .run = [](const Inputs& x) { return matmul(x[0], x[0], true, false); },
       .atol = kSmoothAtol,  // quadratic in x: the difference is no longer exact
       .rtol = kSmoothRtol},
      {.name = "matmul/constant_b",  // only a needs a gradient
       .make = one({2, 3, 4}),
       .run = [constant_b](const Inputs& x) { return matmul(x[0], constant_b); },
       .atol = kMatmulAtol,
       .rtol = kMatmulRtol},

      // Softmax family.
      {.name = "softmax",
       .make = one({2, 3, 5}, -2.0f, 2.0f),
       .run = [](const Inputs& x) { return softmax(x[0]); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "softmax/masked_-inf",  // masked scores get probability 0 and gradient 0, not NaN
       .make = one({2, 3, 5}, -2.0f, 2.0f),
       .run = [causal](const Inputs& x) { return softmax(masked_fill(x[0], causal, -INFINITY)); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "log_softmax",
       .make = one({2, 3, 5}, -2.0f, 2.0f),
       .run = [](const Inputs& x) { return log_softmax(x[0]); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "masked_fill/broadcast_mask",
       .make = one({2, 3, 4}),
       .run = [mask](const Inputs& x) { return masked_fill(x[0], mask, -2.5f); }},

      // Index, dropout, norm, loss.
      {.name = "embedding/repeated_ids",
       .make = one({5, 3}),
       .run = [ids](const Inputs& x) { return embedding(x[0], ids); }},
      {.name = "dropout/p0.3",  // a fixed (seed, stream) names the mask, so every f(x +- e) uses the same one
       .make = one({4, 5}),
       .run = [](const Inputs& x) { return dropout(x[0], 0.3f, 7, 11); }},
      {.name = "layernorm/weight_bias",
       .make = uniforms({{2, 3, 6}, {6}, {6}}),
       .run = [](const Inputs& x) { return layernorm(x[0], x[1], x[2]); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "layernorm/no_weight_no_bias",
       .make = one({4, 6}),
       .run = [](const Inputs& x) { return layernorm(x[0], Tensor(), Tensor()); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "layernorm/weight_only",
       .make = uniforms({{4, 6}, {6}}),
       .run = [](const Inputs& x) { return layernorm(x[0], x[1], Tensor()); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "layernorm/constant_weight_bias",  // only x needs a gradient
       .make = one({4, 6}),
       .run = [gamma, beta](const Inputs& x) { return layernorm(x[0], gamma, beta); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "rope/offset",  // a rotation of each pair: linear in x
       .make = one({2, 3, 6}),
       .run = [](const Inputs& x) { return rope(x[0], 2); }},
      {.name = "linear/bias",  // x [2, 3, 4] through W [5, 4] and b [5]
       .make = uniforms({{2, 3, 4}, {5, 4}, {5}}),
       .run = [](const Inputs& x) { return linear(x[0], x[1], x[2]); }},
      {.name = "linear/no_bias",
       .make = uniforms({{3, 4}, {2, 4}}),
       .run = [](const Inputs& x) { return linear(x[0], x[1], Tensor()); }},
      {.name = "rope/heads",  // two heads of 4 side by side, each rotated alone
       .make = one({2, 3, 8}),
       .run = [](const Inputs& x) { return rope(x[0], 1, 10000.0f, 4); }},
      {.name = "attention/plain",  // [B 2, T 3, 2 heads x 4]
       .make = uniforms({{2, 3, 8}, {2, 3, 8}, {2, 3, 8}}),
       .run = [](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 2); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/packed_qkv",  // q, k, v are column ranges of one [B, T, 3 x 8] tensor
       .make = uniforms({{2, 3, 24}}),
       .run =
           [](const Inputs& x) {
             return attention({x[0], 0, 8}, {x[0], 8, 8}, {x[0], 16, 8}, 2, {.causal = true});
           },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/causal_kv_cache",  // Tq 2 < Tk 4: query i sees keys j <= i + 2
       .make = uniforms({{1, 2, 8}, {1, 4, 8}, {1, 4, 8}}),
       .run = [](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 2, {.causal = true}); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/causal_blocks",  // T 70 spans two query blocks of 64: the second sees more keys
       .make = uniforms({{1, 70, 2}, {1, 70, 2}, {1, 70, 2}}),
       .run = [](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 1, {.causal = true}); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/key_padding",  // batch 1 pads every key: its output is 0 and so are its gradients
       .make = uniforms({{2, 3, 4}, {2, 4, 4}, {2, 4, 4}}),
       .run = [padding](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 1, {.key_padding = &padding}); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/causal_dropout",  // a fixed (seed, stream): the same dropout mask in every f(x +- e)
       .make = uniforms({{1, 4, 8}, {1, 4, 8}, {1, 4, 8}}),
       .run = [causal_dropout](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 2, causal_dropout); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/local_causal",  // window 4 over T 70: two query blocks, each with its own key range
       .make = uniforms({{1, 70, 2}, {1, 70, 2}, {1, 70, 2}}),
       .run = [](const Inputs& x) { return attention({x[0]}, {x[1]}, {x[2]}, 1, {.causal = true, .window = 4}); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "attention/local_padding",  // bidirectional window 2 with batch 1's keys partly padded
       .make = uniforms({{2, 4, 4}, {2, 4, 4}, {2, 4, 4}}),
       .run =
           [local_padding](const Inputs& x) {
             return attention({x[0]}, {x[1]}, {x[2]}, 1, {.window = 2, .key_padding = &local_padding});
           },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "linear_attention/causal_packed",  // q, k, v as column ranges of one tensor, 2 heads
       .make = uniforms({{2, 5, 24}}),
       .run =
           [](const Inputs& x) {
             return linear_attention({x[0], 0, 8}, {x[0], 8, 8}, {x[0], 16, 8}, 2, {.causal = true});
           },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "linear_attention/padding",  // bidirectional, 3 queries over 4 keys, batch 1 partly padded
       .make = uniforms({{2, 3, 4}, {2, 4, 4}, {2, 4, 4}}),
       .run =
           [local_padding](const Inputs& x) {
             return linear_attention({x[0]}, {x[1]}, {x[2]}, 1, {.key_padding = &local_padding});
           },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "cross_entropy/ignore_index",
       .make = one({5, 6}, -2.0f, 2.0f),
       .run = [targets_ignored](const Inputs& x) { return cross_entropy(x[0], targets_ignored); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "cross_entropy/label_smoothing",
       .make = one({5, 6}, -2.0f, 2.0f),
       .run = [targets_smoothed](const Inputs& x) { return cross_entropy(x[0], targets_smoothed, -100, 0.1f); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
      {.name = "cross_entropy/ignore_index_and_label_smoothing",
       .make = one({5, 6}, -2.0f, 2.0f),
       .run = [targets_both](const Inputs& x) { return cross_entropy(x[0], targets_both, 0, 0.1f); },
       .atol = kSmoothAtol,
       .rtol = kSmoothRtol},
  };
  return cases;
}

const std::vector<GradCase>& gradcheck_cases() {
  static const std::vector<GradCase> cases = make_cases();
  return cases;
}

// ---- the check -----------------------------------------------------------------------------------------

// FNV-1a of the case name: each case gets its own random stream, unchanged when cases are added.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// sum(out * w), accumulated in double.
double weighted_sum(const Tensor& out, const std::vector<float>& w) {
  if (out.numel() != static_cast<int64_t>(w.size())) throw std::logic_error("gradcheck: the output changed shape");
  const float* p = out.data();
  double s = 0.0;
  for (size_t i = 0; i < w.size(); ++i) s += static_cast<double>(p[i]) * w[i];
  return s;
}

// One element of one input: its analytic and numeric gradients.
struct Comparison {
  size_t input;
  int64_t element;
  float x;
  double analytic, numeric;
  bool ok;
};

struct GradcheckResult {
  std::vector<Comparison> comparisons;
  std::vector<size_t> without_gradient;  // inputs that got no gradient of their shape
  int64_t failures() const {
    return std::count_if(comparisons.begin(), comparisons.end(), [](const Comparison& c) { return !c.ok; });
  }
};

GradcheckResult gradcheck(const GradCase& c) {
  GradcheckResult result;
  Rng rng(20240611, fnv1a(c.name));
  Inputs inputs = c.make(rng);
  Tensor out = c.run(inputs);
  Tensor weights = Tensor::uniform(out.shape(), rng, -1.0f, 1.0f);  // R: a constant, no gradient
  const std::vector<float> w = weights.to_vector();
  Tensor loss = sum(mul(out, weights));
  if (loss.requires_grad()) loss.backward();  // else no input gets a gradient, reported below

  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    const Tensor g = x.grad();
    if (!g.defined() || g.shape() != x.shape()) {
      result.without_gradient.push_back(k);
      continue;
    }
    float* px = x.data();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const float v = px[j], up = v + c.eps, down = v - c.eps;
      double f_up, f_down;
      {
        NoGrad no_grad;
        px[j] = up;
        f_up = weighted_sum(c.run(inputs), w);
        px[j] = down;
        f_down = weighted_sum(c.run(inputs), w);
        px[j] = v;
      }
      // Divide by the step actually taken: up - down is exact in double, and differs from 2e by float rounding.
      const double numeric = (f_up - f_down) / (static_cast<double>(up) - static_cast<double>(down));
      const double analytic = g.data()[j];
      const bool ok = std::abs(analytic - numeric) <= c.atol + c.rtol * std::abs(numeric);  // false for NaN
      result.comparisons.push_back({k, j, v, analytic, numeric, ok});
    }
  }
  return result;
}

// Runs a case as doctest assertions: one per element, naming the element when it fails.
void check_case(const GradCase& c) {
  const GradcheckResult r = gradcheck(c);
  for (size_t k : r.without_gradient) FAIL_CHECK("input ", k, " got no gradient");
  CHECK(!r.comparisons.empty());
  for (const Comparison& m : r.comparisons)
    CHECK_MESSAGE(m.ok, "input ", m.input, " element ", m.element, " (x = ", m.x, "): analytic ", m.analytic,
                  ", numeric ", m.numeric, ", tolerance ", c.atol + c.rtol * std::abs(m.numeric));
}

}  // namespace

TEST_CASE("gradcheck: every op against central differences") {
  for (const GradCase& c : gradcheck_cases()) {
    SUBCASE(c.name.c_str()) { check_case(c); }
  }
}

TEST_CASE("gradcheck: the checker catches a wrong or missing gradient") {
  // y = x^2 recorded with the backward of x^2 / 2: off by a factor 2 everywhere.
  auto wrong_square = [](const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = x.data()[i] * x.data()[i];
    if (needs_grad(x))
      record(y, "wrong_square", {x}, [x](const Tensor& dy) { add_reduced(grad_buffer(x), mul(dy, x)); });
    return y;
  };
  const GradcheckResult wrong = gradcheck(
      {.name = "wrong_square", .make = one({2, 3}), .run = [&](const Inputs& x) { return wrong_square(x[0]); }});
  CHECK(wrong.comparisons.size() == 6);
  CHECK(wrong.failures() == 6);
  // The same function through mul passes, so the failures above come from the factor 2 alone.
  const GradcheckResult right = gradcheck({.name = "square",
                                           .make = one({2, 3}),
                                           .run = [](const Inputs& x) { return mul(x[0], x[0]); },
                                           .atol = kSmoothAtol,
                                           .rtol = kSmoothRtol});
  CHECK(right.comparisons.size() == 6);
  CHECK(right.failures() == 0);
  // An op that records no node leaves its input without a gradient.
  const GradcheckResult missing =
      gradcheck({.name = "detached", .make = one({2, 3}), .run = [](const Inputs& x) { return x[0].detach(); }});
  CHECK(missing.without_gradient == std::vector<size_t>{0});
  CHECK(missing.comparisons.empty());
}

TEST_CASE("gradcheck: the table covers every required op and variant") {
  // Every differentiable op of core/ops and the variants that exercise its distinct code paths. Adding an
  // op to core/ops means adding its name here and a case to the table.
  // clang-format off
  const std::set<std::string> required = {
      "add/same", "add/broadcast", "add/rank0", "sub/same", "sub/broadcast", "sub/rank0",
      "mul/same", "mul/broadcast", "mul/rank0", "div/same", "div/broadcast", "div/rank0",
      "add_scalar", "mul_scalar",
      "neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "gelu_tanh",
      "sum/all", "mean/all", "sum/axis1_keepdim", "sum/axis0", "sum/neg_axis",
      "mean/axis1_keepdim", "mean/axis0", "mean/neg_axis_keepdim", "max/axis1", "max/neg_axis_keepdim",
      "reshape", "permute", "transpose", "concat/middle_axis_3_inputs", "slice/middle_axis",
      "matmul/2d", "matmul/2d_ta", "matmul/2d_tb", "matmul/2d_ta_tb", "matmul/batched_3d", "matmul/batched_4d",
      "matmul/b_2d", "matmul/a_2d", "matmul/a_batch1", "matmul/both_batch1_4d",
      "softmax", "log_softmax", "masked_fill/broadcast_mask",
      "embedding/repeated_ids", "dropout/p0.3",
      "layernorm/weight_bias", "layernorm/no_weight_no_bias",
      "cross_entropy/ignore_index", "cross_entropy/label_smoothing",
      "linear/bias", "linear/no_bias", "rope/offset", "rope/heads", "attention/plain", "attention/packed_qkv", "attention/causal_kv_cache",
      "attention/causal_blocks", "attention/key_padding", "attention/causal_dropout", "attention/local_causal",
      "attention/local_padding", "linear_attention/causal_packed", "linear_attention/padding"};
  // clang-format on
  std::set<std::string> present;
  for (const GradCase& c : gradcheck_cases()) {
    CHECK_MESSAGE(present.insert(c.name).second, "duplicate case name ", c.name);
  }
  for (const std::string& name : required) CHECK_MESSAGE(present.count(name) == 1, "no gradcheck case ", name);
}

TEST_CASE("gradcheck: every function declared in core/ops has a case") {
  // Scans the headers for `Tensor name(` and `MaxResult name(` declarations, so that an op added to core/ops
  // without a gradient check fails here even if nobody updated the list above.
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(__FILE__).parent_path() / ".." / ".." / "core" / "ops";
  if (!fs::is_directory(dir)) {
    MESSAGE("core/ops not found at ", dir.string(), "; skipped");
    return;
  }
  std::set<std::string> ops;
  for (const GradCase& c : gradcheck_cases()) ops.insert(c.name.substr(0, c.name.find('/')));
  // A declaration is a line "Tensor name(" or "MaxResult name(" (std::regex would do, but g++ 12 warns
  // inside libstdc++'s regex at -O1, which breaks the -Werror sanitizer build).
  auto declared_op = [](const std::string& line) -> std::string {
    for (const char* type : {"Tensor ", "MaxResult "}) {
      if (line.rfind(type, 0) != 0) continue;
      size_t start = std::string(type).size(), end = start;
      while (end < line.size() && (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_')) ++end;
      if (end > start && end < line.size() && line[end] == '(') return line.substr(start, end - start);
    }
    return "";
  };
  int declared = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".h") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      std::string op = declared_op(line);
      if (op.empty()) continue;
      ++declared;
      CHECK_MESSAGE(ops.count(op) == 1, entry.path().filename().string(), " declares ", op,
                    " but the gradcheck table has no case for it");
    }
  }
  CHECK(declared >= 30);  // the scan found the declarations (33 when this test was written)
}

TEST_CASE("gradcheck: the dropout case drops some elements and keeps others") {
  // Otherwise its gradient check would only test the identity.
  Tensor x = Tensor::ones({4, 5});
  std::vector<float> y = dropout(x, 0.3f, 7, 11).to_vector();
  int64_t dropped = std::count(y.begin(), y.end(), 0.0f);
  int64_t kept = std::count(y.begin(), y.end(), 1.0f / (1.0f - 0.3f));
  CHECK(dropped > 0);
  CHECK(kept > 0);
  CHECK(dropped + kept == 20);
}
