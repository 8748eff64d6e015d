// Optimizers, schedules and clipping against numbers computed by hand (and checked against PyTorch 1.13), the
// state round trip through an archive, and the errors for mismatched state and bad configs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/archive.h"
#include "core/error.h"
#include "core/threads.h"
#include "train/optim.h"
#include "train/schedule.h"

using namespace qkv;

namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

Tensor param(const std::vector<float>& values, const Shape& shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad(true);
  return t;
}

void set_grad(Tensor& p, const std::vector<float>& g) {
  REQUIRE(static_cast<int64_t>(g.size()) == p.numel());
  p.zero_grad();
  std::memcpy(p.grad().data(), g.data(), g.size() * sizeof(float));
}

void check_values(const Tensor& t, const std::vector<float>& expected) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < t.numel(); ++i) CHECK(t.data()[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

OptimConfig make_config(const std::string& name) {
  OptimConfig c;
  c.name = *parse_enum(kOptimizerKinds, name);
  c.beta1 = 0.9f;
  c.beta2 = 0.99f;
  c.eps = 1e-8f;
  c.momentum = 0.9f;
  c.weight_decay = 0.1f;
  return c;
}

// The two-parameter model of the hand-computed tests: W [2, 2] is decayed, b [2] is not. Gradients of step k:
const std::vector<float> kW0 = {1.0f, -2.0f, 0.5f, 3.0f}, kB0 = {0.25f, -0.5f};
const std::vector<std::vector<float>> kGradW = {{0.5f, -1.0f, 2.0f, 0.0f}, {-0.3f, 0.4f, 1.0f, -0.5f}};
const std::vector<std::vector<float>> kGradB = {{0.1f, 0.2f}, {0.2f, -0.4f}};

struct TwoParams {
  Tensor w = param(kW0, {2, 2}), b = param(kB0, {2});
  Named named() const { return {{"w", w}, {"b", b}}; }
  void run(Optimizer& opt, int steps, float lr) {
    for (int k = 0; k < steps; ++k) {
      set_grad(w, kGradW[k]);
      set_grad(b, kGradB[k]);
      opt.step(lr);
    }
  }
};

}  // namespace

TEST_CASE("optim: one AdamW step decays the 2-D parameter only") {
  // lr 0.1, wd 0.1. At t = 1, m_hat = g and v_hat = g^2, so the Adam part moves each element by
  // lr * g / (|g| + eps) = 0.1 * sign(g) (0 where g = 0). The decay p *= 1 - 0.1 * 0.1 = 0.99 applies to W only:
  //   W: 1 * 0.99 - 0.1 = 0.89;  -2 * 0.99 + 0.1 = -1.88;  0.5 * 0.99 - 0.1 = 0.395;  3 * 0.99 - 0 = 2.97
  //   b: 0.25 - 0.1 = 0.15;  -0.5 - 0.1 = -0.6  (a decayed b would give 0.1475 and -0.595)
  // PyTorch's AdamW with the same two groups gives the same numbers to float precision.
  TwoParams m;
  Optimizer opt(m.named(), make_config("adamw"));
  m.run(opt, 1, 0.1f);
  check_values(m.w, {0.89f, -1.88f, 0.395f, 2.97f});
  check_values(m.b, {0.15f, -0.6f});
  CHECK(opt.step_count() == 1);
}

TEST_CASE("optim: two Adam steps with L2 decay on the 2-D parameter") {
  // lr 0.1, beta1 0.9, beta2 0.99, wd 0.1 added to the gradient of W only. W[0], from p = 1:
  //   t=1: g' = 0.5 + 0.1 * 1 = 0.6, m = 0.06, v = 0.0036, m_hat = 0.6, v_hat = 0.36, p = 1 - 0.1 = 0.9
  //   t=2: g' = -0.3 + 0.1 * 0.9 = -0.21, m = 0.054 - 0.021 = 0.033, v = 0.003564 + 0.000441 = 0.004005,
  //        m_hat = 0.033 / 0.19 = 0.1736842, v_hat = 0.004005 / 0.0199 = 0.2012563,
  //        p = 0.9 - 0.1 * 0.1736842 / sqrt(0.2012563) = 0.8612844
  // b[0], from p = 0.25 without decay:
  //   t=1: p = 0.25 - 0.1 = 0.15
  //   t=2: m = 0.009 + 0.02 = 0.029, v = 0.000099 + 0.0004 = 0.000499, m_hat = 0.1526316, v_hat = 0.0250754,
  //        p = 0.15 - 0.1 * 0.1526316 / 0.1583522 = 0.0536125
  // The other elements the same way (torch.optim.Adam agrees to 1e-7).
  TwoParams m;
  Optimizer opt(m.named(), make_config("adam"));
  m.run(opt, 2, 0.1f);
  check_values(m.w, {0.8612844f, -1.8467183f, 0.3064450f, 2.8877940f});
  check_values(m.b, {0.0536125f, -0.5634392f});
}

TEST_CASE("optim: two SGD-momentum steps with decay on the 2-D parameter") {
  // lr 0.1, momentum 0.9, wd 0.1 on W only: d = g + wd * p, buf = 0.9 * buf + d, p -= 0.1 * buf.
  //   W[0]: d = 0.5 + 0.1 = 0.6, buf = 0.6, p = 0.94;  d = -0.3 + 0.094 = -0.206, buf = 0.54 - 0.206 = 0.334,
  //         p = 0.94 - 0.0334 = 0.9066
  //   W[2]: d = 2.05, buf = 2.05, p = 0.295;  d = 1.0295, buf = 1.845 + 1.0295 = 2.8745, p = 0.00755
  //   b[0]: buf = 0.1, p = 0.24;  buf = 0.09 + 0.2 = 0.29, p = 0.211
  //   b[1]: buf = 0.2, p = -0.52;  buf = 0.18 - 0.4 = -0.22, p = -0.498
  TwoParams m;
  Optimizer opt(m.named(), make_config("sgd"));
  m.run(opt, 2, 0.1f);
  check_values(m.w, {0.9066f, -1.7932f, 0.00755f, 2.9633f});
  check_values(m.b, {0.211f, -0.498f});
}

TEST_CASE("optim: parameters without a gradient are skipped and zero_grad allocates") {
  Tensor w = param({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  Optimizer opt({{"w", w}}, make_config("adamw"));
  opt.step(0.1f);  // no gradient yet: not even the decay applies
  check_values(w, {1.0f, 2.0f, 3.0f, 4.0f});
  CHECK(opt.step_count() == 1);
  opt.zero_grad();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().to_vector() == std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f});
  opt.step(0.1f);  // zero gradient: only the decay, 1 - 0.1 * 0.1
  check_values(w, {0.99f, 1.98f, 2.97f, 3.96f});
  CHECK_THROWS_WITH_AS(opt.step(NAN), doctest::Contains("learning rate"), Error);
}

TEST_CASE("optim: an optimizer rejects duplicate names and tensors") {
  Tensor a = param({1.0f}, {1}), b = param({2.0f}, {1});
  CHECK_THROWS_WITH_AS(Optimizer({{"a", a}, {"a", b}}, make_config("sgd")), doctest::Contains("'a' appears twice"),
                       Error);
  CHECK_THROWS_WITH_AS(Optimizer({{"a", a}, {"tied", a}}, make_config("sgd")),
                       doctest::Contains("'tied' is the same tensor"), Error);
}

TEST_CASE("optim: schedules at chosen steps") {
  OptimConfig c;  // lr 1e-3, min_lr 1e-4, warmup 100
  c.schedule = Schedule::Cosine;
  // Warmup lr * s / 100; then min_lr + 0.5 * (1 + cos(pi * (s - 100) / 900)) * 9e-4 up to max_steps 1000.
  CHECK(learning_rate(c, 1, 1000, 64) == doctest::Approx(1e-5).epsilon(1e-6));
  CHECK(learning_rate(c, 50, 1000, 64) == doctest::Approx(5e-4).epsilon(1e-6));
  CHECK(learning_rate(c, 100, 1000, 64) == doctest::Approx(1e-3).epsilon(1e-6));
  CHECK(learning_rate(c, 101, 1000, 64) == doctest::Approx(0.00099999725845).epsilon(1e-6));
  CHECK(learning_rate(c, 550, 1000, 64) == doctest::Approx(5.5e-4).epsilon(1e-6));  // r = 0.5: halfway
  CHECK(learning_rate(c, 1000, 1000, 64) == doctest::Approx(1e-4).epsilon(1e-6));
  CHECK(learning_rate(c, 1001, 1000, 64) == doctest::Approx(1e-4).epsilon(1e-6));
  // decay_steps 500 overrides max_steps: r = (s - 100) / 400. At 400: 1e-4 + 0.5 * (1 + cos(0.75 pi)) * 9e-4.
  c.decay_steps = 500;
  CHECK(learning_rate(c, 300, 1000, 64) == doctest::Approx(5.5e-4).epsilon(1e-6));
  CHECK(learning_rate(c, 400, 1000, 64) == doctest::Approx(2.3180194846605e-4).epsilon(1e-6));
  CHECK(learning_rate(c, 501, 1000, 64) == doctest::Approx(1e-4).epsilon(1e-6));
  CHECK(learning_rate(c, 800, 1000, 64) == doctest::Approx(1e-4).epsilon(1e-6));

  c.schedule = Schedule::Constant;
  CHECK(learning_rate(c, 1, 1000, 64) == 1e-3f);
  CHECK(learning_rate(c, 5000, 1000, 64) == 1e-3f);

  // Noam with the Annotated Transformer's factor 0.5, d_model 512, warmup 400: 0.5 / sqrt(512) = 0.0220970869.
  //   s = 1:    * 1 / 400^1.5 = 1 / 8000          -> 2.76213586e-6
  //   s = 400:  * 400^-0.5 = 0.05                 -> 1.10485435e-3 (the peak)
  //   s = 1600: * 1600^-0.5 = 0.025               -> 5.52427173e-4
  c.schedule = Schedule::Noam;
  c.lr = 0.5f;
  c.warmup_steps = 400;
  CHECK(learning_rate(c, 1, 0, 512) == doctest::Approx(2.7621358640e-6).epsilon(1e-6));
  CHECK(learning_rate(c, 400, 0, 512) == doctest::Approx(1.1048543456e-3).epsilon(1e-6));
  CHECK(learning_rate(c, 1600, 0, 512) == doctest::Approx(5.5242717280e-4).epsilon(1e-6));

  CHECK_THROWS_WITH_AS(learning_rate(c, 0, 10, 512), doctest::Contains("step counts from 1"), Error);
  CHECK_THROWS_WITH_AS(learning_rate(c, 1, 10, 0), doctest::Contains("d_model"), Error);
}

TEST_CASE("optim: clip_grad_norm scales to max_norm and leaves small gradients") {
  // Gradients (3, 4) and (12): norm sqrt(9 + 16 + 144) = 13.
  Tensor a = param({0.0f, 0.0f}, {2}), b = param({0.0f}, {1, 1}), no_grad = param({5.0f}, {1});
  auto reset = [&] {
    set_grad(a, {3.0f, 4.0f});
    set_grad(b, {12.0f});
  };
  auto norm_now = [&] {
    std::vector<float> g = a.grad().to_vector();
    g.push_back(b.grad().item());
    double s = 0.0;
    for (float x : g) s += static_cast<double>(x) * x;
    return std::sqrt(s);
  };
  reset();
  CHECK(clip_grad_norm({a, b, no_grad}, 1.0f) == doctest::Approx(13.0).epsilon(1e-7));
  CHECK(norm_now() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(a.grad().at({0}) == doctest::Approx(3.0 / 13.0).epsilon(1e-6));

  reset();
  CHECK(clip_grad_norm({a, b}, 20.0f) == doctest::Approx(13.0).epsilon(1e-7));
  CHECK(a.grad().to_vector() == std::vector<float>{3.0f, 4.0f});
  CHECK(clip_grad_norm({a, b}, 0.0f) == doctest::Approx(13.0).epsilon(1e-7));  // 0: measure only
  CHECK(b.grad().item() == 12.0f);

  a.grad().data()[1] = INFINITY;
  CHECK(std::isinf(clip_grad_norm({a, b}, 1.0f)));
  CHECK(b.grad().item() == 12.0f);
  a.grad().data()[1] = NAN;
  CHECK(std::isnan(clip_grad_norm({a, b}, 1.0f)));
  CHECK(b.grad().item() == 12.0f);
}

TEST_CASE("optim: clipping and AdamW give the same bits on 1 and 2 threads") {
  // 40000 elements: above kGrain, so both loops really run in parallel with 2 threads.
  auto run = [](int n_threads, float& norm) {
    set_threads(n_threads);
    std::vector<float> w(40000), g(40000);
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = std::sin(0.37f * static_cast<float>(i));
      g[i] = std::cos(1.3f * static_cast<float>(i)) * 1e-2f;
    }
    Tensor p = param(w, {200, 200});
    Optimizer opt({{"p", p}}, make_config("adamw"));
    set_grad(p, g);
    norm = clip_grad_norm({p}, 0.5f);
    opt.step(1e-3f);
    return p;
  };
  float norm1 = 0.0f, norm2 = 0.0f;
  Tensor p1 = run(1, norm1), p2 = run(2, norm2);
  set_threads(0);
  CHECK(norm1 == norm2);
  CHECK(norm1 > 0.5f);
  CHECK(same_bits(p1, p2));
}

TEST_CASE("optim: saved state continues with identical bits") {
  for (const char* name : {"sgd", "adam", "adamw"}) {
    CAPTURE(std::string(name));
    auto model = [] {
      std::vector<float> w(15), b(5);
      for (int i = 0; i < 15; ++i) w[i] = 0.1f * static_cast<float>(i) - 0.7f;
      for (int i = 0; i < 5; ++i) b[i] = 0.05f * static_cast<float>(i);
      return Named{{"h.0.w", param(w, {3, 5})}, {"h.0.b", param(b, {5})}};
    };
    auto grads = [](Named& params, int step) {
      for (auto& [n, p] : params) {
        std::vector<float> g(p.numel());
        for (size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.37f * static_cast<float>(i) + 1.3f * step);
        set_grad(p, g);
      }
    };
    Named straight = model(), stopped = model();
    Optimizer a(straight, make_config(name)), b(stopped, make_config(name));
    for (int step = 1; step <= 3; ++step) {
      grads(straight, step);
      a.step(0.01f * step);
    }
    for (int step = 1; step <= 2; ++step) {
      grads(stopped, step);
      b.step(0.01f * step);
    }
    ArchiveWriter out;
    b.write(out);
    Optimizer resumed(stopped, make_config(name));
    ArchiveReader in(out.bytes(), "state.qkv");
    resumed.read(in);
    CHECK(in.remaining() == 0);
    CHECK(resumed.step_count() == 2);
    grads(stopped, 3);
    resumed.step(0.03f);
    CHECK(resumed.step_count() == 3);
    for (size_t i = 0; i < straight.size(); ++i) CHECK(same_bits(straight[i].second, stopped[i].second));
  }
}

TEST_CASE("optim: loading state for other parameters throws naming the mismatch") {
  Named saved_params = {{"a", param(std::vector<float>(6, 1.0f), {2, 3})}, {"b", param({1, 2, 3}, {3})}};
  Optimizer saved(saved_params, make_config("adam"));
  ArchiveWriter out;
  saved.write(out);
  const std::string bytes = out.bytes();
  auto load = [&](Named params, const std::string& name = "adam") {
    Optimizer opt(std::move(params), make_config(name));
    ArchiveReader in(bytes, "state.qkv");
    opt.read(in);
  };
  CHECK_NOTHROW(load(saved_params));
  CHECK_THROWS_WITH_AS(load({{"a", param(std::vector<float>(6), {2, 3})}, {"c", param({1, 2, 3}, {3})}}),
                       doctest::Contains("parameter 1 is 'b' but the model's parameter 1 is 'c'"), Error);
  CHECK_THROWS_WITH_AS(load({{"a", param(std::vector<float>(6), {3, 2})}, {"b", param({1, 2, 3}, {3})}}),
                       doctest::Contains("state of 'a' has shape [2, 3] but the model's parameter has shape [3, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(load({{"a", param(std::vector<float>(6), {2, 3})}}),
                       doctest::Contains("state.qkv: the optimizer state has 2 parameters, the model has 1"), Error);
  CHECK_THROWS_WITH_AS(load(saved_params, "adamw"), doctest::Contains("is for 'adam' but the config says 'adamw'"),
                       Error);

  // A failed load leaves the optimizer as it was; truncated state is an error at every length.
  Optimizer opt({{"a", param(std::vector<float>(6), {2, 3})}, {"c", param({1, 2, 3}, {3})}}, make_config("adam"));
  ArchiveReader in(bytes, "state.qkv");
  CHECK_THROWS_AS(opt.read(in), Error);
  CHECK(opt.step_count() == 0);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Optimizer fresh(saved_params, make_config("adam"));
    CHECK_THROWS_AS(
        [&] {
          ArchiveReader cut(bytes.substr(0, n), "state.qkv");
          fresh.read(cut);
        }(),
        Error);
  }
}

TEST_CASE("optim: config validation names the key") {
  CHECK_NOTHROW(OptimConfig{}.validate());
  const std::vector<std::pair<std::function<void(OptimConfig&)>, std::string>> cases = {
      {[](OptimConfig& c) { c.lr = 0.0f; }, "optim.lr must be"},
      {[](OptimConfig& c) { c.lr = NAN; }, "optim.lr must be"},
      {[](OptimConfig& c) { c.min_lr = -1.0f; }, "optim.min_lr must be"},
      {[](OptimConfig& c) { c.beta1 = -0.1f; }, "optim.beta1 must be in [0, 1)"},
      {[](OptimConfig& c) { c.beta2 = 1.0f; }, "optim.beta2 must be in [0, 1), got 1"},
      {[](OptimConfig& c) { c.eps = 0.0f; }, "optim.eps must be"},
      {[](OptimConfig& c) { c.momentum = 1.5f; }, "optim.momentum must be in [0, 1)"},
      {[](OptimConfig& c) { c.weight_decay = -0.1f; }, "optim.weight_decay must be"},
      {[](OptimConfig& c) { c.grad_clip = INFINITY; }, "optim.grad_clip must be"},
      {[](OptimConfig& c) { c.warmup_steps = -1; }, "optim.warmup_steps must be >= 0"},
      {[](OptimConfig& c) {
         c.schedule = Schedule::Noam;
         c.warmup_steps = 0;
       },
       "optim.warmup_steps must be >= 1 for the noam schedule"},
      {[](OptimConfig& c) { c.decay_steps = -5; }, "optim.decay_steps must be >= 0"},
      {[](OptimConfig& c) { c.label_smoothing = 1.0f; }, "optim.label_smoothing must be in [0, 1)"},
  };
  for (const auto& item : cases) {  // not a structured binding: clang 14 cannot capture one in CAPTURE's lambda
    const std::string& message = item.second;
    OptimConfig c;
    item.first(c);
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains(message.c_str()), Error);
    CHECK_THROWS_WITH_AS(Optimizer({}, c), doctest::Contains(message.c_str()), Error);
  }
}
