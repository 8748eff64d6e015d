// The models' front end: token rows plus position rows (learned, sinusoidal or none), scaled when asked.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/embeddings.h"
#include "nn_test_util.h"

using namespace qkv;
using namespace qkv::testing;

namespace {
// V 5, C 4, T 4; token row v holds 10 v + i, learned position row p holds 0.5 p + 0.125 i (exact in float).
ModelConfig front_config(Positions positions) {
  ModelConfig c = tiny_config(ModelKind::Gpt);
  c.vocab_size = 5, c.d_model = 4, c.n_head = 2, c.block_size = 4, c.positions = positions;
  return c;
}
void fill(InputEmbeddings& e) {
  for (int64_t v = 0; v < 5; ++v)
    for (int64_t i = 0; i < 4; ++i) e.tokens->weight.data()[v * 4 + i] = 10.0f * v + i;
  if (e.learned)
    for (int64_t p = 0; p < 4; ++p)
      for (int64_t i = 0; i < 4; ++i) e.learned->weight.data()[p * 4 + i] = 0.5f * p + 0.125f * i;
}
DropoutHandle no_dropout() { return std::make_shared<DropoutContext>(); }
}  // namespace

TEST_CASE("embeddings: learned positions add row offset + t to token row ids[b, t], scaled by sqrt(C) when asked") {
  for (bool scaled : {false, true}) {
    CAPTURE(scaled);
    InputEmbeddings e(front_config(Positions::Learned), no_dropout(), "gpt", scaled);
    fill(e);
    CHECK(e.sinusoids == nullptr);
    Tensor y = e.forward(Ids({3, 1, 4, 0}, {2, 2}), 1);  // positions 1 and 2
    CHECK(y.shape() == Shape{2, 2, 4});
    float s = scaled ? 2.0f : 1.0f;  // sqrt(4)
    // [b, t, i] = s (10 id + i) + 0.5 (1 + t) + 0.125 i
    CHECK(y.at({0, 0, 0}) == s * 30.0f + 0.5f);
    CHECK(y.at({0, 1, 3}) == s * 13.0f + 1.0f + 0.375f);
    CHECK(y.at({1, 0, 2}) == s * 42.0f + 0.5f + 0.25f);
    CHECK(y.at({1, 1, 1}) == s * 1.0f + 1.0f + 0.125f);
  }
}

TEST_CASE("embeddings: sinusoidal positions add the fixed table's rows; RoPE adds nothing") {
  InputEmbeddings sin(front_config(Positions::Sinusoidal), no_dropout(), "encoder");
  fill(sin);
  CHECK(sin.learned == nullptr);
  Tensor y = sin.forward(Ids({2, 2}, {1, 2}));
  // position 0: sin 0, cos 0, sin 0, cos 0; position 1: sin 1, cos 1, sin 0.01, cos 0.01 (C 4)
  std::vector<float> expected{
      20, 22, 22, 24, 20 + std::sin(1.0f), 21 + std::cos(1.0f), 22 + std::sin(0.01f), 23 + std::cos(0.01f)};
  std::vector<float> got = y.to_vector();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-6));

  InputEmbeddings rope(front_config(Positions::Rope), no_dropout(), "gpt");
  fill(rope);
  CHECK((rope.learned == nullptr && rope.sinusoids == nullptr));
  CHECK(rope.forward(Ids({4}, {1, 1}), 3).to_vector() == std::vector<float>{40, 41, 42, 43});
}

TEST_CASE("embeddings: with_own_positions shares the token table and dropout, not the learned positions") {
  InputEmbeddings src(front_config(Positions::Learned), no_dropout(), "seq2seq", true);
  InputEmbeddings tgt = src.with_own_positions();
  CHECK(tgt.tokens == src.tokens);
  CHECK(tgt.drop == src.drop);
  CHECK(tgt.learned != src.learned);
  CHECK(tgt.learned->weight.shape() == Shape{4, 4});
  fill(src);  // tgt's positions stay zero: only 2 * the token row
  CHECK(tgt.forward(Ids({1}, {1, 1})).to_vector() == std::vector<float>{20, 22, 24, 26});
  CHECK(src.forward(Ids({1}, {1, 1})).to_vector() == std::vector<float>{20, 22.125f, 24.25f, 26.375f});
}

TEST_CASE("embeddings: registers wte, wpe and drop; checks the shape and block_size naming the model") {
  for (Positions p : {Positions::Learned, Positions::Sinusoidal, Positions::Rope}) {
    InputEmbeddings e(front_config(p), no_dropout(), "gpt");
    std::vector<std::string> names;
    e.register_parts([&](const std::string& name, std::shared_ptr<Module>) { names.push_back(name); });
    if (p == Positions::Rope)
      CHECK(names == std::vector<std::string>{"wte", "drop"});
    else
      CHECK(names == std::vector<std::string>{"wte", "wpe", "drop"});
  }
  InputEmbeddings e(front_config(Positions::Learned), no_dropout(), "encoder");
  CHECK_THROWS_WITH_AS(e.forward(Ids({1, 2, 3}, {3})), doctest::Contains("encoder: expected token ids of shape [B, T]"),
                       Error);
  CHECK_THROWS_WITH_AS(e.forward(Ids({1, 2, 3, 4, 1}, {1, 5})), "encoder: 5 tokens exceed block_size 4", Error);
  CHECK_THROWS_WITH_AS(e.forward(Ids({1, 2}, {1, 2}), 3), "encoder: 5 tokens exceed block_size 4 (with the cache)",
                       Error);
}
