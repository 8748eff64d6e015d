// Generation: sampling rules, and cached decoding giving exactly the tokens of full recomputation.
#include <doctest/doctest.h>

#include "nn/generate.h"
#include "nn_test_util.h"

using namespace qkv;
using namespace qkv::testing;

TEST_CASE("sample: greedy, top-k and top-p pick from the allowed tokens only") {
  std::vector<float> logits{0.0f, 3.0f, 1.0f, 2.0f};
  Rng rng(1);
  SampleOptions greedy;
  greedy.temperature = 0.0f;
  CHECK(sample_token(logits.data(), 4, greedy, rng) == 1);
  SampleOptions topk;
  topk.top_k = 2;
  for (int i = 0; i < 200; ++i) {
    int32_t t = sample_token(logits.data(), 4, topk, rng);
    CHECK((t == 1 || t == 3));
  }
  SampleOptions topp;
  topp.top_p = 0.5f;  // p(1) = e^3 / (1 + e + e^2 + e^3) = 0.64 already reaches 0.5
  for (int i = 0; i < 50; ++i) CHECK(sample_token(logits.data(), 4, topp, rng) == 1);
  // Plain sampling follows the softmax: token 1 about 64% of the time.
  SampleOptions plain;
  int ones = 0;
  for (int i = 0; i < 4000; ++i) ones += sample_token(logits.data(), 4, plain, rng) == 1;
  CHECK(ones / 4000.0 == doctest::Approx(0.6439).epsilon(0.05));
}

TEST_CASE("KVCache::select_rows keeps the chosen beams of the keys and values, or of the linear sums") {
  KVCache cache;  // B = 3 beams, T = 2 tokens, C = 2
  cache.k = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 2, 2});
  cache.v = Tensor::from_vector({-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12}, {3, 2, 2});
  cache.select_rows({2, 0, 0, 1});  // beam search may keep a beam twice and drop another
  CHECK(cache.k.shape() == Shape{4, 2, 2});
  CHECK(cache.k.to_vector() == std::vector<float>{9, 10, 11, 12, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(cache.v.to_vector() == std::vector<float>{-9, -10, -11, -12, -1, -2, -3, -4, -1, -2, -3, -4, -5, -6, -7, -8});
  CHECK(!cache.sums.s.defined());
  CHECK(cache.length() == 2);
  CHECK_THROWS_WITH_AS(cache.select_rows({4}), doctest::Contains("row 4 is out of range [0, 4)"), Error);

  KVCache linear;  // B = 2, NH = 1, hs = 2: S [2, 1, 2, 2], z [2, 1, 2]
  linear.sums.s = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  linear.sums.z = Tensor::from_vector({0.5f, 1.5f, 2.5f, 3.5f}, {2, 1, 2});
  linear.linear_length = 5;
  linear.select_rows({1, 1, 0});
  CHECK(linear.sums.s.to_vector() == std::vector<float>{5, 6, 7, 8, 5, 6, 7, 8, 1, 2, 3, 4});
  CHECK(linear.sums.z.to_vector() == std::vector<float>{2.5f, 3.5f, 2.5f, 3.5f, 0.5f, 1.5f});
  CHECK(!linear.k.defined());
  CHECK(linear.length() == 5);  // tokens, not beams

  KVCache empty;  // a layer that has seen nothing yet stays empty
  empty.select_rows({0, 0});
  CHECK((!empty.k.defined() && !empty.v.defined() && !empty.sums.s.defined()));
}

TEST_CASE("generate: gpt with a KV cache samples the same tokens as recomputation, past the block too") {
  Rng rng(2);
  // Each positions kind, and each attention kind (linear decodes with running sums, local with a window).
  std::vector<std::pair<Positions, AttentionKind>> variants{{Positions::Learned, AttentionKind::Full},
                                                            {Positions::Rope, AttentionKind::Full},
                                                            {Positions::Learned, AttentionKind::Local},
                                                            {Positions::Rope, AttentionKind::Linear}};
  for (const auto& variant : variants) {
    // Not a structured binding: doctest's CAPTURE makes a lambda, which clang 14 refuses for bindings.
    const Positions pos = variant.first;
    const AttentionKind kind = variant.second;
    CAPTURE(static_cast<int>(kind));
    ModelConfig c = tiny_config(ModelKind::Gpt);
    c.positions = pos;
    c.attention = kind;
    c.window = 3;
    GPT model(c);
    model.init_weights(rng);
    SampleOptions o;
    o.max_new_tokens = 20;  // the block is 8: the context is cropped from the left
    o.top_k = 5;
    o.seed = 9;
    std::vector<int32_t> prompt{1, 2, 3};
    std::vector<int32_t> cached = generate(model, prompt, o);
    o.use_cache = false;
    std::vector<int32_t> full = generate(model, prompt, o);
    CHECK(cached.size() == 23);
    CHECK(cached == full);
    CHECK(std::vector<int32_t>(cached.begin(), cached.begin() + 3) == prompt);
    // A prompt longer than the block is cropped, not an error.
    std::vector<int32_t> long_prompt(12, 4);
    CHECK(generate(model, long_prompt, o).size() == 32);
  }
}

TEST_CASE("translate: cached greedy and beam search equal their uncached versions, for each attention kind") {
  Rng rng(3);
  for (AttentionKind kind : {AttentionKind::Full, AttentionKind::Local, AttentionKind::Linear}) {
    CAPTURE(static_cast<int>(kind));
    ModelConfig c = tiny_config(ModelKind::Seq2Seq);
    c.block_size = 12;
    c.attention = kind;
    c.window = 3;
    Seq2Seq model(c);
    model.init_weights(rng);
    std::vector<int32_t> src{5, 6, 7, 8};
    for (int64_t beam : {1, 3}) {
      DecodeOptions o;
      o.beam = beam;
      std::vector<int32_t> cached = translate(model, src, o);
      o.use_cache = false;
      CHECK(cached == translate(model, src, o));
      CHECK(cached.size() <= 11);
    }
  }
}
