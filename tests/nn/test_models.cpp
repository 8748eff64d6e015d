// The three model kinds: names and counts, causality, padding, gradients of every parameter, overfitting.
#include <doctest/doctest.h>

#include "nn/encoder.h"
#include "nn/gpt.h"
#include "nn/seq2seq.h"
#include "nn_test_util.h"

using namespace qkv;
using namespace qkv::testing;

namespace {
ModelConfig gpt_baby() {
  ModelConfig c;
  c.vocab_size = 65;  // tinyshakespeare's characters
  return c;           // the defaults are gpt-baby: L4 H4 C128 T64, no bias
}
}  // namespace

TEST_CASE("gpt: gpt-baby has nanoGPT's names and exactly 804,096 parameters") {
  GPT model(gpt_baby());
  auto params = model.named_parameters();
  CHECK(model.num_params() == 804096);  // wte 8,320 + wpe 8,192 + 4 x 196,864 + ln_f 128
  CHECK(params[0].first == "transformer.wte.weight");
  CHECK(params[0].second.shape() == Shape{65, 128});
  CHECK(params[1].first == "transformer.wpe.weight");
  CHECK(params[2].first == "transformer.h.0.ln_1.weight");
  CHECK(params[3].first == "transformer.h.0.attn.c_attn.weight");
  CHECK(params[3].second.shape() == Shape{384, 128});
  CHECK(params[4].first == "transformer.h.0.attn.c_proj.weight");
  CHECK(params[5].first == "transformer.h.0.ln_2.weight");
  CHECK(params[6].first == "transformer.h.0.mlp.c_fc.weight");
  CHECK(params[7].first == "transformer.h.0.mlp.c_proj.weight");
  CHECK(params.back().first == "transformer.ln_f.weight");
  CHECK(params.size() == 2 + 4 * 6 + 1);
}

namespace {
std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}
}  // namespace

TEST_CASE("models: encoder and seq2seq keep their checkpoint names and order") {
  ModelConfig c = tiny_config(ModelKind::Encoder);
  c.n_layer = 1, c.bias = false, c.n_classes = 2;
  const std::vector<std::string> layer{"ln_1.weight", "attn.c_attn.weight", "attn.c_proj.weight",
                                       "ln_2.weight", "mlp.c_fc.weight",    "mlp.c_proj.weight"};
  std::vector<std::string> encoder{"wte.weight", "wpe.weight"};
  for (const auto& n : layer) encoder.push_back("h.0." + n);
  encoder.insert(encoder.end(), {"ln_f.weight", "classifier.weight", "classifier.bias"});
  CHECK(names_of(Encoder(c)) == encoder);

  c.kind = ModelKind::Seq2Seq, c.n_classes = 0;
  std::vector<std::string> seq2seq{"embed.weight", "encoder.wpe.weight"};
  for (const auto& n : layer) seq2seq.push_back("encoder.h.0." + n);
  seq2seq.insert(
      seq2seq.end(),
      {"encoder.ln_f.weight", "decoder.wpe.weight", "decoder.h.0.ln_1.weight", "decoder.h.0.attn.c_attn.weight",
       "decoder.h.0.attn.c_proj.weight", "decoder.h.0.ln_x.weight", "decoder.h.0.cross_attn.c_q.weight",
       "decoder.h.0.cross_attn.c_kv.weight", "decoder.h.0.cross_attn.c_proj.weight", "decoder.h.0.ln_2.weight",
       "decoder.h.0.mlp.c_fc.weight", "decoder.h.0.mlp.c_proj.weight", "decoder.ln_f.weight"});
  CHECK(names_of(Seq2Seq(c)) == seq2seq);
  c.positions = Positions::Sinusoidal;  // a fixed table: no wpe parameters
  std::erase(seq2seq, "encoder.wpe.weight");
  std::erase(seq2seq, "decoder.wpe.weight");
  CHECK(names_of(Seq2Seq(c)) == seq2seq);
}

TEST_CASE("models: parameter counts of the reference configs, computed by hand") {
  SUBCASE("gpt-shakespeare-char: L6 H6 C384 T256, V65, no bias") {
    ModelConfig c;
    c.n_layer = 6, c.n_head = 6, c.d_model = 384, c.block_size = 256, c.vocab_size = 65;
    int64_t block = 384 + 3 * 384 * 384 + 384 * 384 + 384 + 4 * 384 * 384 + 4 * 384 * 384;  // 1,770,240
    CHECK(GPT(c).num_params() == 65 * 384 + 256 * 384 + 6 * block + 384);                   // 10,745,088
  }
  SUBCASE("seq2seq-copy: 2+2 layers, d 512, ff 2048, V 13, with biases") {
    ModelConfig c;
    c.kind = ModelKind::Seq2Seq, c.n_layer = 2, c.n_head = 8, c.d_model = 512, c.d_ff = 2048, c.vocab_size = 13;
    c.bias = true, c.positions = Positions::Sinusoidal, c.pad_id = 0;
    int64_t ln = 2 * 512, attn = 3 * 512 * 512 + 3 * 512 + 512 * 512 + 512, mlp = 2 * 512 * 2048 + 2048 + 512;
    int64_t cross = 512 * 512 + 512 + 2 * 512 * 512 + 2 * 512 + 512 * 512 + 512;
    int64_t enc = 2 * ln + attn + mlp, dec = enc + ln + cross;
    CHECK(Seq2Seq(c).num_params() == 13 * 512 + 2 * enc + 2 * dec + 2 * ln);  // 14,721,536
  }
  SUBCASE("encoder-classify: L4 H4 C128 T128, 2 classes, learned positions") {
    ModelConfig c;
    c.kind = ModelKind::Encoder, c.block_size = 128, c.vocab_size = 70, c.n_classes = 2, c.pad_id = 0;
    int64_t layer = 128 + 3 * 128 * 128 + 128 * 128 + 128 + 8 * 128 * 128;  // 196,864
    CHECK(Encoder(c).num_params() == 70 * 128 + 128 * 128 + 4 * layer + 128 + 2 * 128 + 2);
  }
}

// Every attention kind: full, local (window 3) and linear.
std::vector<ModelConfig> attention_kinds(ModelKind kind) {
  std::vector<ModelConfig> out;
  for (AttentionKind a : {AttentionKind::Full, AttentionKind::Local, AttentionKind::Linear}) {
    ModelConfig c = tiny_config(kind);
    c.attention = a;
    c.window = 3;
    out.push_back(c);
  }
  return out;
}

TEST_CASE("causality: changing token t leaves every logit before t bitwise unchanged, for each attention kind") {
  Rng rng(1);
  SUBCASE("gpt") {
    for (const ModelConfig& c : attention_kinds(ModelKind::Gpt)) {
      CAPTURE(static_cast<int>(c.attention));
      GPT model(c);
      model.init_weights(rng);
      Ids a = random_ids(rng, {2, 8}, 0, 11), b = a;
      b.data[5] = (b.data[5] + 1) % 11;  // batch 0, position 5
      Tensor la = model.forward(a).logits, lb = model.forward(b).logits;
      for (int64_t t = 0; t < 8; ++t)
        for (int64_t v = 0; v < 11; ++v) {
          if (t < 5) CHECK(la.at({0, t, v}) == lb.at({0, t, v}));
          CHECK(la.at({1, t, v}) == lb.at({1, t, v}));
        }
      CHECK(la.at({0, 5, 0}) != lb.at({0, 5, 0}));
    }
  }
  SUBCASE("seq2seq decoder") {
    for (const ModelConfig& c : attention_kinds(ModelKind::Seq2Seq)) {
      CAPTURE(static_cast<int>(c.attention));
      Seq2Seq model(c);
      model.init_weights(rng);
      Ids src = random_ids(rng, {1, 6}, 3, 11), a = random_ids(rng, {1, 7}, 3, 11), b = a;
      b.data[4] = b.data[4] == 3 ? 4 : 3;
      Tensor la = model.forward(src, a).logits, lb = model.forward(src, b).logits;
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t v = 0; v < 11; ++v) CHECK(la.at({0, t, v}) == lb.at({0, t, v}));
      CHECK(la.at({0, 4, 0}) != lb.at({0, 4, 0}));
    }
  }
}

TEST_CASE("padding: padding a source changes nothing for its real tokens, for each attention kind") {
  Rng rng(2);
  SUBCASE("encoder outputs") {
    for (const ModelConfig& c : attention_kinds(ModelKind::Encoder)) {
      CAPTURE(static_cast<int>(c.attention));
      Encoder model(c);
      model.init_weights(rng);
      Ids real = random_ids(rng, {1, 5}, 1, 11);
      Ids padded = real;
      padded.data.insert(padded.data.end(), {0, 0, 0});
      padded.shape = {1, 8};
      Mask none = padding_mask(real, 0), mask = padding_mask(padded, 0);
      Tensor a = model.encode(real, &none), b = model.encode(padded, &mask);
      for (int64_t t = 0; t < 5; ++t)
        for (int64_t i = 0; i < 8; ++i) CHECK(std::abs(a.at({0, t, i}) - b.at({0, t, i})) <= 1e-6f);
    }
  }
  SUBCASE("seq2seq logits") {
    for (const ModelConfig& c : attention_kinds(ModelKind::Seq2Seq)) {
      CAPTURE(static_cast<int>(c.attention));
      Seq2Seq model(c);
      model.init_weights(rng);
      Ids src = random_ids(rng, {1, 4}, 3, 11), tgt = random_ids(rng, {1, 5}, 3, 11);
      Ids padded = src;
      padded.data.insert(padded.data.end(), {0, 0, 0, 0});
      padded.shape = {1, 8};
      Tensor a = model.forward(src, tgt).logits, b = model.forward(padded, tgt).logits;
      for (int64_t i = 0; i < a.numel(); ++i) CHECK(std::abs(a.data()[i] - b.data()[i]) <= 1e-6f);
    }
  }
}

TEST_CASE("positions: with learned positions the encoder is not permutation-equivariant") {
  Rng rng(3);
  Encoder model(tiny_config(ModelKind::Encoder));
  model.init_weights(rng);
  Ids a({3, 4, 5}, {1, 3}), b({5, 4, 3}, {1, 3});
  Tensor ha = model.encode(a, nullptr), hb = model.encode(b, nullptr);
  CHECK(std::abs(ha.at({0, 0, 0}) - hb.at({0, 2, 0})) > 1e-4f);
}

TEST_CASE("gradcheck: whole tiny models, every parameter") {
  Rng rng(4);
  SUBCASE("gpt (learned positions)") {
    GPT model(tiny_config(ModelKind::Gpt));
    model.init_weights(rng);
    Ids idx = random_ids(rng, {2, 6}, 0, 11), tgt = random_ids(rng, {2, 6}, 0, 11);
    check_gradients(model.named_parameters(), [&] { return model.forward(idx, &tgt).loss; });
  }
  SUBCASE("gpt (rope, post-norm)") {
    ModelConfig c = tiny_config(ModelKind::Gpt);
    c.positions = Positions::Rope;
    c.norm = Norm::Post;
    GPT model(c);
    model.init_weights(rng);
    Ids idx = random_ids(rng, {2, 6}, 0, 11), tgt = random_ids(rng, {2, 6}, 0, 11);
    check_gradients(model.named_parameters(), [&] { return model.forward(idx, &tgt).loss; });
  }
  SUBCASE("encoder: masked LM and classification (mean pooling)") {
    ModelConfig c = tiny_config(ModelKind::Encoder);
    c.n_classes = 3;
    c.pooling = Pooling::Mean;
    Encoder model(c);
    model.init_weights(rng);
    Ids idx({4, 5, 6, 0, 7, 8, 9, 10}, {2, 4});
    Mask pad = padding_mask(idx, 0);
    Ids mlm_targets({-100, 5, -100, -100, 7, -100, -100, 3}, {2, 4}), labels({2, 0}, {2});
    check_gradients(model.named_parameters(),
                    [&] { return model.mlm(idx, &pad, &mlm_targets).loss + model.classify(idx, &pad, &labels).loss; });
  }
  SUBCASE("seq2seq (sinusoidal, label smoothing, padded source and target)") {
    ModelConfig c = tiny_config(ModelKind::Seq2Seq);
    c.positions = Positions::Sinusoidal;
    Seq2Seq model(c);
    model.init_weights(rng);
    Ids src({4, 5, 6, 0, 7, 8, 9, 10}, {2, 4}), tgt({1, 4, 5, 1, 6, 0}, {2, 3}), out({4, 5, 2, 6, 2, 0}, {2, 3});
    check_gradients(model.named_parameters(), [&] { return model.forward(src, tgt, &out, 0.1f).loss; });
  }
}

TEST_CASE("overfitting: plain gradient descent drives each kind's loss on one batch below 0.05") {
  Rng rng(5);
  auto descend = [](Module& model, const std::function<Tensor()>& loss, float lr, int steps) {
    float last = 0;
    for (int s = 0; s < steps && (s == 0 || last >= 0.05f); ++s) {
      for (Tensor& p : model.parameters()) p.zero_grad();
      Tensor l = loss();
      last = l.item();
      l.backward();
      NoGrad no_grad;
      for (Tensor& p : model.parameters())
        for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] -= lr * p.grad().data()[i];
    }
    return last;
  };
  ModelConfig c = tiny_config(ModelKind::Gpt);
  c.d_model = 16, c.d_ff = 32;
  SUBCASE("gpt") {
    GPT model(c);
    model.init_weights(rng);
    Ids idx = random_ids(rng, {2, 8}, 0, 11), tgt = random_ids(rng, {2, 8}, 0, 11);
    CHECK(descend(
              model, [&] { return model.forward(idx, &tgt).loss; }, 0.5f, 600) < 0.05f);
  }
  SUBCASE("encoder (masked LM)") {
    c.kind = ModelKind::Encoder, c.pad_id = 0;
    Encoder model(c);
    model.init_weights(rng);
    Ids idx = random_ids(rng, {2, 8}, 1, 11), tgt = random_ids(rng, {2, 8}, 1, 11);
    CHECK(descend(
              model, [&] { return model.mlm(idx, nullptr, &tgt).loss; }, 0.5f, 600) < 0.05f);
  }
  SUBCASE("seq2seq") {
    c.kind = ModelKind::Seq2Seq, c.pad_id = 0;
    Seq2Seq model(c);
    model.init_weights(rng);
    Ids src = random_ids(rng, {2, 6}, 3, 11), tgt = random_ids(rng, {2, 7}, 3, 11),
        out = random_ids(rng, {2, 7}, 3, 11);
    CHECK(descend(
              model, [&] { return model.forward(src, tgt, &out).loss; }, 0.3f, 600) < 0.05f);
  }
}
