// GPT-2's formats: llm.c's checkpoint and Hugging Face's names, layouts, config and tokenizer files, on tiny
// models; what they cannot express; and init_from taking a checkpoint's architecture.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/ops.h"
#include "nn/nn_test_util.h"
#include "train/config.h"
#include "train/formats/bpe_vocab_files.h"
#include "train/formats/hf_gpt2.h"
#include "train/formats/llmc_checkpoint.h"
#include "train/model_io.h"

using namespace qkv;

namespace {

const std::string kTiny = (std::filesystem::path(__FILE__).parent_path() / "fixtures" / "gpt2-tiny").string() + "/";

// A tiny GPT-2-shaped model whose every parameter is distinct, so a swapped or transposed tensor shows.
ModelConfig gpt2_shaped(int64_t vocab = 11) {
  ModelConfig m = testing::tiny_config(ModelKind::Gpt);
  m.vocab_size = vocab;
  m.d_ff = 4 * m.d_model;
  m.activation = Activation::GeluTanh;
  return m;
}

NamedTensors distinct_params(const ModelConfig& m) {
  AnyModel model = build_model(m);
  NamedTensors params = model.module().named_parameters();
  float v = 0.0f;
  for (auto& [name, t] : params)
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = (v += 0.001f);
  return params;
}

const Tensor& find(const NamedTensors& params, const std::string& name) {
  for (const auto& [n, t] : params)
    if (n == name) return t;
  FAIL("no tensor ", name);
  static Tensor none;
  return none;
}

void check_same(const NamedTensors& got, const NamedTensors& want) {
  REQUIRE(got.size() == want.size());
  for (const auto& entry : want) {  // not a structured binding: clang 14 cannot capture one in CAPTURE
    const std::string& name = entry.first;
    const Tensor& t = entry.second;
    CAPTURE(name);
    const Tensor& g = find(got, name);
    CHECK(g.shape() == t.shape());
    CHECK(g.to_vector() == t.to_vector());
  }
}

std::string set_i32(std::string bytes, size_t index, int32_t v) {
  std::memcpy(bytes.data() + 4 * index, &v, 4);
  return bytes;
}

}  // namespace

TEST_CASE("llm.c: a model written and read back is the same, with wte padded to a multiple of 128 rows") {
  const ModelConfig m = gpt2_shaped(130);  // Vp = 256
  const NamedTensors params = distinct_params(m);
  const std::string bytes = to_llmc_bytes(m, params);
  int32_t header[8];
  std::memcpy(header, bytes.data(), sizeof header);
  CHECK(std::vector<int32_t>(header, header + 8) == std::vector<int32_t>{20240326, 3, 8, 130, 2, 2, 8, 256});
  // header, wte [256, 8], wpe [8, 8], per layer 12 C^2 + 13 C, final 2 C
  CHECK(bytes.size() == 1024 + 4 * (256 * 8 + 64 + 2 * (12 * 64 + 13 * 8) + 16));
  float pad_row_sum = 0;
  for (int i = 130 * 8; i < 256 * 8; ++i) {
    float f;
    std::memcpy(&f, bytes.data() + 1024 + 4 * i, 4);
    pad_row_sum += std::abs(f);
  }
  CHECK(pad_row_sum == 0.0f);
  CHECK(is_llmc_checkpoint(bytes));
  LlmcModel back = parse_llmc(bytes, "x.bin");
  CHECK(back.model.vocab_size == 130);
  CHECK(back.model.block_size == 8);
  CHECK(back.model.activation == Activation::GeluTanh);
  CHECK(back.model.bias);
  check_same(back.params, params);
  // The first float after wte and its padding is wpe[0][0], in qkv's [out, in] = llm.c's layout.
  float wpe0;
  std::memcpy(&wpe0, bytes.data() + 1024 + 4 * 256 * 8, 4);
  CHECK(wpe0 == find(params, "transformer.wpe.weight").data()[0]);
}

TEST_CASE("llm.c: a model without biases is written with zero biases, which compute the same") {
  ModelConfig m = gpt2_shaped();
  m.bias = false;
  LlmcModel back = parse_llmc(to_llmc_bytes(m, distinct_params(m)), "x.bin");
  CHECK(back.params.size() == 4 + 2 * 12);
  CHECK(find(back.params, "transformer.h.1.mlp.c_fc.bias").to_vector() == std::vector<float>(32, 0.0f));
  CHECK(find(back.params, "transformer.ln_f.bias").to_vector() == std::vector<float>(8, 0.0f));
}

TEST_CASE("llm.c: bad files and models it cannot hold are errors that say what is wrong") {
  const ModelConfig m = gpt2_shaped();
  const std::string good = to_llmc_bytes(m, distinct_params(m));
  CHECK_THROWS_WITH_AS(parse_llmc(good.substr(0, 100), "x.bin"), doctest::Contains("too short for llm.c's header"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 0, 20240520), "x.bin"),
                       doctest::Contains("x.bin: magic 20240520, expected 20240326"), Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 1, 5), "x.bin"), doctest::Contains("version 5 holds bf16"), Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 1, 4), "x.bin"), doctest::Contains("version 4, expected 3"), Error);
  CHECK_THROWS_WITH_AS(parse_llmc(good.substr(0, good.size() - 4), "x.bin"),
                       doctest::Contains("but a model of maxT 8, Vp 128, L 2, C 8 needs"), Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 6, 0), "x.bin"), doctest::Contains("header C = 0, expected 1 to"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 5, 3), "x.bin"), doctest::Contains("C = 8 is not a multiple of NH = 3"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_llmc(set_i32(good, 7, 5), "x.bin"), doctest::Contains("header Vp = 5, expected V = 11"),
                       Error);
  ModelConfig relu = m;
  relu.activation = Activation::Relu;
  CHECK_THROWS_WITH_AS(to_llmc_bytes(relu, distinct_params(relu)),
                       doctest::Contains("model.activation relu (llm.c has gelu_tanh only)"), Error);
  ModelConfig wide = m;
  wide.d_ff = 24;
  CHECK_THROWS_WITH_AS(to_llmc_bytes(wide, distinct_params(wide)), doctest::Contains("model.d_ff 24"), Error);
}

TEST_CASE("gpt2 layout: what GPT-2's architecture cannot express is refused with the reason") {
  ModelConfig m = gpt2_shaped();
  CHECK_NOTHROW(check_gpt2_expressible(m, "hf"));
  ModelConfig rope = m, post = m, local = m, encoder = testing::tiny_config(ModelKind::Encoder);
  rope.positions = Positions::Rope;
  post.norm = Norm::Post;
  local.attention = AttentionKind::Local;
  CHECK_THROWS_WITH_AS(check_gpt2_expressible(rope, "hf"), doctest::Contains("model.positions rope (expected learned)"),
                       Error);
  CHECK_THROWS_WITH_AS(check_gpt2_expressible(post, "hf"), doctest::Contains("model.norm post"), Error);
  CHECK_THROWS_WITH_AS(check_gpt2_expressible(local, "hf"), doctest::Contains("model.attention local"), Error);
  CHECK_THROWS_WITH_AS(check_gpt2_expressible(encoder, "hf"), doctest::Contains("kind encoder (expected gpt)"), Error);
}

TEST_CASE("hugging face: GPT2LMHeadModel's names with Conv1D weights transposed, and back") {
  const ModelConfig m = gpt2_shaped();
  const NamedTensors params = distinct_params(m);
  SafeTensorsFile f = hf_safetensors_of(m, params);
  CHECK(f.metadata.at("format") == "pt");
  const SafeTensor* c_attn = f.find("transformer.h.0.attn.c_attn.weight");
  REQUIRE(c_attn);
  CHECK(c_attn->shape == Shape{8, 24});                                  // Conv1D: [in, out]
  const Tensor& w = find(params, "transformer.h.0.attn.c_attn.weight");  // [out, in] = [24, 8]
  CHECK(c_attn->f32[1] == w.data()[1 * 8 + 0]);                          // [in 0][out 1] = W[1][0]
  CHECK(f.find("transformer.ln_f.bias") != nullptr);
  CHECK(f.find("lm_head.weight") == nullptr);  // tied: transformers does not expect it
  check_same(params_from_hf(f, "x"), params);
}

TEST_CASE("hugging face: GPT2Model's layout, mask buffers and a tied lm_head read as the same model") {
  const ModelConfig m = gpt2_shaped();
  const NamedTensors params = distinct_params(m);
  SafeTensorsFile lm = hf_safetensors_of(m, params), bare;
  for (auto& [name, t] : lm.tensors) bare.tensors.emplace_back(name.substr(12), t);  // drop "transformer."
  bare.tensors.emplace_back("h.0.attn.bias", SafeTensor::of_f32({1, 1, 8, 8}, std::vector<float>(64, 1.0f)));
  bare.tensors.emplace_back("h.1.attn.masked_bias", SafeTensor::of_f32({}, {-1e4f}));
  bare.tensors.emplace_back("lm_head.weight", *lm.find("transformer.wte.weight"));
  check_same(params_from_hf(bare, "x"), params);
}

TEST_CASE("hugging face: config.json gives the model; what qkv's GPT does not compute is refused") {
  nlohmann::json c = {{"model_type", "gpt2"}, {"n_embd", 64},      {"n_layer", 3},       {"n_head", 4},
                      {"n_positions", 128},   {"vocab_size", 500}, {"n_inner", nullptr}, {"layer_norm_epsilon", 1e-5}};
  ModelConfig m = model_from_hf_config(c, "config.json");
  CHECK(m.d_model == 64);
  CHECK(m.n_layer == 3);
  CHECK(m.n_head == 4);
  CHECK(m.block_size == 128);
  CHECK(m.vocab_size == 500);
  CHECK(m.ff() == 256);
  CHECK(m.bias);
  CHECK(m.activation == Activation::GeluTanh);                                // GPT-2's default, gelu_new
  CHECK(model_from_hf_config(nlohmann::json::object(), "c").d_model == 768);  // GPT2Config's defaults
  auto refused = [&](const char* key, nlohmann::json value, const char* message) {
    nlohmann::json bad = c;
    bad[key] = value;
    CAPTURE(key);
    CHECK_THROWS_WITH_AS(model_from_hf_config(bad, "config.json"), doctest::Contains(message), Error);
  };
  refused("model_type", "llama", "model_type \"llama\", expected \"gpt2\"");
  refused("layer_norm_epsilon", 1e-6, "layer_norm_epsilon 1e-06, expected 1e-05");
  refused("activation_function", "swish", "activation_function \"swish\"");
  refused("tie_word_embeddings", false, "tie_word_embeddings is false");
  refused("scale_attn_by_inverse_layer_idx", true, "scale_attn_by_inverse_layer_idx is true");
  refused("n_head", 3, "n_embd 64 is not a multiple of n_head 3");
  refused("n_layer", -1, "n_layer is -1, expected a positive integer");
  nlohmann::json exact = c;
  exact["activation_function"] = "gelu";
  CHECK(model_from_hf_config(exact, "c").activation == Activation::Gelu);

  Tokenizer t = import_tokenizer({kTiny + "encoder.json", kTiny + "vocab.bpe"}, {});
  nlohmann::json written = hf_config_of(m, t);
  CHECK(written["activation_function"] == "gelu_new");
  CHECK(written["eos_token_id"] == t.special("<|endoftext|>"));
  ModelConfig again = model_from_hf_config(written, "written");
  CHECK(again.n_layer == m.n_layer);
  CHECK(again.ff() == m.ff());
}

TEST_CASE("hugging face: vocab.json and merges.txt written from GPT-2's tokenizer read back the same") {
  Tokenizer t = import_tokenizer({kTiny + "encoder.json", kTiny + "vocab.bpe"}, {});
  VocabFiles files = to_vocab_files(t);
  CHECK(files.merges_txt.rfind("#version: 0.2\n\xc4\xa0 t\n", 0) == 0);  // " t" spelled with GPT-2's 'Ġ'
  Tokenizer back = Tokenizer::from_vocab(
      read_vocab_and_merges(files.vocab_json, "vocab.json", files.merges_txt, "merges.txt"), "written");
  CHECK(back.tokens() == t.tokens());
  CHECK(back.merges() == t.merges());
  CHECK(back.specials() == t.specials());
  CHECK(back.encode(" the cat") == t.encode(" the cat"));
  CHECK_THROWS_WITH_AS(to_vocab_files(Tokenizer::train_char("abc")), doctest::Contains("this tokenizer is char"),
                       Error);
}

TEST_CASE("init_from: the keys a config leaves out come from the checkpoint; the ones it sets stay") {
  Config theirs = parse_config({{"model",
                                 {{"n_layer", 12},
                                  {"d_model", 96},
                                  {"n_head", 6},
                                  {"block_size", 256},
                                  {"activation", "gelu_tanh"},
                                  {"bias", true}}}});
  Config mine = parse_config({{"model", {{"block_size", 128}, {"dropout", 0.1}}}, {"train", {{"init_from", "x"}}}});
  CHECK(mine.given.count("model.block_size") == 1);
  CHECK(mine.given.count("model.n_layer") == 0);
  Config c = with_architecture_of(mine, theirs);
  CHECK(c.model.n_layer == 12);
  CHECK(c.model.d_model == 96);
  CHECK(c.model.n_head == 6);
  CHECK(c.model.activation == Activation::GeluTanh);
  CHECK(c.model.bias);
  CHECK(c.model.block_size == 128);                // set by the config
  CHECK(c.model.dropout == doctest::Approx(0.1));  // not an architecture key
  CHECK(c.given == mine.given);
}
