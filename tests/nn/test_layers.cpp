// Modules and layers: registration, names, modes, values, gradients, and the behaviours that matter.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/attention.h"
#include "nn/blocks.h"
#include "nn/layers.h"
#include "nn/positions.h"
#include "nn_test_util.h"

using namespace qkv;
using namespace qkv::testing;

namespace {
// Normal(0, std) values into every parameter, so tests do not depend on a model's init.
void randomize(Module& m, Rng& rng, float std = 0.5f) {
  for (auto& [name, p] : m.named_parameters()) {
    Tensor r = Tensor::randn(p.shape(), rng, std);
    std::copy_n(r.data(), p.numel(), p.data());
  }
}
DropoutHandle no_dropout() { return std::make_shared<DropoutContext>(); }
}  // namespace

TEST_CASE("module: parameters are named in declaration order, tied tensors listed once") {
  ModelConfig c = tiny_config(ModelKind::Gpt);
  EncoderLayer layer(c, no_dropout());
  std::vector<std::string> names;
  for (auto& [n, p] : layer.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                          "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"});
  // 2 LayerNorms (2 x 16) + attention (8*24 + 24 + 64 + 8) + mlp (8*16 + 16 + 16*8 + 8)
  CHECK(layer.num_params() == 32 + 288 + 280);
  CHECK(layer.parameters().size() == 12);
  for (auto& p : layer.parameters()) CHECK(p.requires_grad());

  std::vector<std::string> visited;
  layer.visit([&](const std::string& n, Module&) { visited.push_back(n); });
  CHECK(visited.front() == "");
  CHECK(std::find(visited.begin(), visited.end(), "attn.c_proj") != visited.end());
  layer.eval();
  bool all_eval = true;
  layer.visit([&](const std::string&, Module& m) { all_eval = all_eval && !m.training(); });
  CHECK(all_eval);
  layer.train();
  CHECK(layer.training());
}

TEST_CASE("layers: Linear is x W^T + b with W [out, in]") {
  Linear lin(3, 2, true);
  CHECK(lin.weight.shape() == Shape{2, 3});
  std::copy_n(std::vector<float>{1, 0, 2, 0, 1, 0}.data(), 6, lin.weight.data());
  lin.bias.data()[0] = 0.5f;
  Tensor y = lin.forward(Tensor::from_vector({1, 2, 3}, {1, 3}));
  CHECK(y.to_vector() == std::vector<float>{7.5f, 2.0f});
  CHECK_FALSE(Linear(3, 2, false).bias.defined());
}

TEST_CASE("layers: FeedForward is c_proj(act(c_fc(x))) with each activation") {
  // x = 1, c_fc: 2x + 0, c_proj: 1h + 0.5; the activation at 2 is exact GELU 1.95449974, GPT-2's tanh form
  // 1.95459769 (they differ in the fourth decimal, enough to tell an import that used the wrong one), ReLU 2.
  for (auto [act, want] : {std::pair{Activation::Gelu, 2.45449974f}, std::pair{Activation::GeluTanh, 2.45459769f},
                           std::pair{Activation::Relu, 2.5f}}) {
    FeedForward m(1, 1, act, true, 0.0f, no_dropout());
    auto params = m.named_parameters();
    params[0].second.data()[0] = 2.0f;  // c_fc.weight (Linear starts at zero)
    params[2].second.data()[0] = 1.0f;  // c_proj.weight
    params[3].second.data()[0] = 0.5f;  // c_proj.bias
    Tensor y = m.forward(Tensor::from_vector({1.0f}, {1, 1, 1}));
    CHECK(y.data()[0] == doctest::Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("layers: LayerNorm starts as weight 1, bias 0; Dropout is off in eval mode") {
  LayerNorm ln(4, true);
  CHECK(ln.weight.to_vector() == std::vector<float>(4, 1.0f));
  CHECK(ln.bias.to_vector() == std::vector<float>(4, 0.0f));
  CHECK_FALSE(LayerNorm(4, false).bias.defined());
  auto ctx = std::make_shared<DropoutContext>();
  Dropout drop(0.5f, ctx);
  Tensor x = Tensor::ones({1000});
  Tensor a = drop.forward(x);
  CHECK(sum(a).item() != 1000.0f);
  CHECK(ctx->call == 1);
  Tensor b = drop.forward(x);  // the next call site gets another mask
  CHECK(a.to_vector() != b.to_vector());
  drop.eval();
  CHECK(drop.forward(x).data() == x.data());
}

TEST_CASE("positions: sinusoids follow the formula of section 3.5") {
  SinusoidalPositions pe(50, 16);
  for (int64_t pos : {0, 1, 7, 49})
    for (int64_t i : {0, 3, 7}) {
      double angle = pos / std::pow(10000.0, 2.0 * i / 16);
      CHECK(pe.table().at({pos, 2 * i}) == doctest::Approx(std::sin(angle)).epsilon(1e-6));
      CHECK(pe.table().at({pos, 2 * i + 1}) == doctest::Approx(std::cos(angle)).epsilon(1e-6));
    }
  CHECK(pe.forward(3, 5).at({1, 0}) == pe.table().at({6, 0}));
  CHECK(pe.num_params() == 0);
  CHECK_THROWS_WITH_AS(pe.forward(3, 48), doctest::Contains("exceed the model's 50 positions"), Error);
  LearnedPositions wpe(4, 2);
  CHECK(wpe.num_params() == 8);
}

TEST_CASE("attention: multi-head equals each head computed alone, concatenated, then projected") {
  Rng rng(3);
  const int64_t B = 2, T = 5, C = 8, NH = 2, hs = 4;
  MultiHeadAttention mha({.d_model = C, .n_head = NH, .bias = true}, no_dropout());
  randomize(mha, rng);
  Tensor x = Tensor::randn({B, T, C}, rng);
  Tensor y = mha.forward(x, AttentionCall{true});
  // By hand: split W_qkv into per-head rows and run plain softmax attention per head.
  auto params = mha.named_parameters();
  Tensor w_attn = params[0].second, b_attn = params[1].second, w_proj = params[2].second, b_proj = params[3].second;
  Tensor qkv = matmul(x, w_attn, false, true) + b_attn;  // [B, T, 3C]
  std::vector<Tensor> heads;
  Mask causal(std::vector<uint8_t>(T * T), {T, T});
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) causal.data[i * T + j] = j > i;
  for (int64_t h = 0; h < NH; ++h) {
    Tensor q = slice(qkv, 2, h * hs, (h + 1) * hs), k = slice(qkv, 2, C + h * hs, C + (h + 1) * hs);
    Tensor v = slice(qkv, 2, 2 * C + h * hs, 2 * C + (h + 1) * hs);
    Tensor s = masked_fill(matmul(q, k, false, true) * (1.0f / std::sqrt(float(hs))), causal, -INFINITY);
    heads.push_back(matmul(softmax(s), v));  // [B, T, hs]
  }
  Tensor expected = matmul(concat(heads, 2), w_proj, false, true) + b_proj;
  for (int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(MultiHeadAttention({.d_model = 10, .n_head = 3}, no_dropout()),
                       doctest::Contains("n_head 3 does not divide d_model 10"), Error);
}

TEST_CASE("attention: a model's self-attention takes its kind, window and RoPE; cross-attention is full") {
  ModelConfig c = tiny_config(ModelKind::Seq2Seq);
  c.attention = AttentionKind::Local, c.window = 3, c.positions = Positions::Rope, c.dropout = 0.25f;
  AttentionConfig self = attention_config(c, false), cross = attention_config(c, true);
  CHECK((self.d_model == 8 && self.n_head == 2 && self.bias && self.dropout == 0.25f));
  CHECK((!self.cross && self.rope && self.kind == AttentionKind::Local && self.window == 3));
  CHECK((cross.cross && !cross.rope && cross.kind == AttentionKind::Full && cross.dropout == 0.25f));
  std::vector<std::string> names;
  for (auto& [n, p] : MultiHeadAttention(cross, no_dropout()).named_parameters()) names.push_back(n);
  CHECK(names ==
        std::vector<std::string>{"c_q.weight", "c_q.bias", "c_kv.weight", "c_kv.bias", "c_proj.weight", "c_proj.bias"});
  self.window = 0;
  CHECK_THROWS_WITH_AS(MultiHeadAttention(self, no_dropout()),
                       doctest::Contains("local attention needs a positive window, got 0"), Error);
}

TEST_CASE("attention: weights are returned for inspection and rows sum to one; masked keys get zero") {
  Rng rng(4);
  MultiHeadAttention mha({.d_model = 8, .n_head = 2}, no_dropout());
  randomize(mha, rng);
  Tensor w;
  Mask pad({0, 0, 0, 1}, {1, 4});
  mha.forward(Tensor::randn({1, 4, 8}, rng), AttentionCall{true, &pad, nullptr, &w});
  CHECK(w.shape() == Shape{1, 2, 4, 4});
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 4; ++i) {
      float row = 0;
      for (int64_t j = 0; j < 4; ++j) {
        row += w.at({0, h, i, j});
        if (j > i || j == 3) CHECK(w.at({0, h, i, j}) == 0.0f);
      }
      if (i < 3) CHECK(row == doctest::Approx(1.0f));
    }
  CHECK(w.at({0, 0, 3, 3}) == 0.0f);  // query 3 sees only keys 0-2
}

TEST_CASE("attention: without positions, self-attention is permutation-equivariant") {
  Rng rng(5);
  ModelConfig c = tiny_config(ModelKind::Encoder);
  EncoderLayer layer(c, no_dropout());
  randomize(layer, rng, 0.3f);
  Tensor x = Tensor::randn({1, 6, 8}, rng);
  std::vector<int32_t> perm{3, 0, 5, 1, 4, 2};
  auto permute_rows = [&](const Tensor& t) {
    std::vector<Tensor> rows;
    for (int32_t i : perm) rows.push_back(slice(t, 1, i, i + 1));
    return concat(rows, 1);
  };
  Tensor a = permute_rows(layer.forward(x, nullptr)), b = layer.forward(permute_rows(x), nullptr);
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(1e-5));
}

TEST_CASE("gradcheck: every layer, every parameter and the input") {
  Rng rng(6);
  ModelConfig c = tiny_config(ModelKind::Seq2Seq);
  Tensor x = Tensor::randn({2, 4, 8}, rng, 0.5f).set_requires_grad(true);
  Tensor memory = Tensor::randn({2, 3, 8}, rng, 0.5f).set_requires_grad(true);
  Tensor r = Tensor::randn({2, 4, 8}, rng);  // random weights so the loss is not a plain sum
  auto with_input = [&](Module& m) {
    auto params = m.named_parameters();
    params.emplace_back("x", x);
    return params;
  };
  Mask pad({0, 0, 0, 0, 0, 0, 1, 1}, {2, 4});
  SUBCASE("Linear") {
    Linear m(8, 8, true);
    randomize(m, rng);
    check_gradients(with_input(m), [&] { return sum(m.forward(x) * r); });
  }
  SUBCASE("LayerNorm") {
    LayerNorm m(8, true);
    randomize(m, rng);
    check_gradients(with_input(m), [&] { return sum(m.forward(x) * r); });
  }
  SUBCASE("FeedForward") {
    FeedForward m(8, 16, Activation::Gelu, true, 0.0f, no_dropout());
    randomize(m, rng);
    check_gradients(with_input(m), [&] { return sum(m.forward(x) * r); });
  }
  SUBCASE("MultiHeadAttention (causal, RoPE)") {
    MultiHeadAttention m({.d_model = 8, .n_head = 2, .bias = true, .rope = true}, no_dropout());
    randomize(m, rng);
    check_gradients(with_input(m), [&] { return sum(m.forward(x, AttentionCall{true}) * r); });
  }
  SUBCASE("MultiHeadAttention (cross, key padding)") {
    MultiHeadAttention m({.d_model = 8, .n_head = 2, .bias = true, .cross = true}, no_dropout());
    randomize(m, rng);
    Mask mpad({0, 0, 0, 0, 1, 1}, {2, 3});
    auto params = with_input(m);
    params.emplace_back("memory", memory);
    check_gradients(params, [&] { return sum(m.forward(x, memory, AttentionCall{false, &mpad}) * r); });
  }
  SUBCASE("EncoderLayer (post-norm, padding)") {
    c.norm = Norm::Post;
    EncoderLayer m(c, no_dropout());
    randomize(m, rng, 0.3f);
    check_gradients(with_input(m), [&] { return sum(m.forward(x, &pad) * r); });
  }
  SUBCASE("DecoderLayer (pre-norm, cross)") {
    DecoderLayer m(c, true, no_dropout());
    randomize(m, rng, 0.3f);
    auto params = with_input(m);
    params.emplace_back("memory", memory);
    check_gradients(params, [&] { return sum(m.forward(x, memory, nullptr) * r); });
  }
}
