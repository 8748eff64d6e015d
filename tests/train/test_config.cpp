// Configs: every key has a default, mistakes name the key, overrides apply by dotted path.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "train/config.h"

using namespace qkv;
using nlohmann::json;

TEST_CASE("config: defaults, parsing and the resolved form") {
  Config c = parse_config(json::parse(R"({"model": {"n_layer": 6, "norm": "post"}, "train": {"seed": 7}})"));
  CHECK(c.model.n_layer == 6);
  CHECK(c.model.norm == Norm::Post);
  CHECK(c.model.n_head == 4);  // default
  CHECK(c.train.seed == 7);
  CHECK(c.optim.name == OptimizerKind::AdamW);
  CHECK(c.optim.schedule == Schedule::Cosine);
  CHECK(c.data.tokenizer.kind == TokenizerKind::Char);
  json resolved = to_json(c);
  CHECK(resolved["model"]["norm"] == "post");
  CHECK(resolved["train"]["batch_size"] == 12);
  CHECK(resolved["data"]["task"] == "lm");
  CHECK(to_json(parse_config(resolved)) == resolved);  // the resolved form parses back to itself
}

TEST_CASE("config: unknown keys, wrong types and bad values name the key") {
  auto error_of = [](const char* text) {
    try {
      parse_config(json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"model": {"n_layers": 2}})") ==
        "config: unknown key model.n_layers (did you mean model.n_layer?)");
  CHECK(error_of(R"({"modle": {}})").find("unknown key modle") != std::string::npos);
  CHECK(error_of(R"({"model": {"n_layer": "two"}})").find("model.n_layer must be an integer") != std::string::npos);
  CHECK(error_of(R"({"model": {"dropout": true}})").find("model.dropout must be a number") != std::string::npos);
  CHECK(error_of(R"({"model": {"norm": "middle"}})").find("model.norm must be one of pre, post") != std::string::npos);
  CHECK(error_of(R"({"train": {"batch_size": 0}})").find("train.batch_size must be positive") != std::string::npos);
  CHECK(error_of(R"({"train": {"seed": -1}})").find("train.seed must not be negative") != std::string::npos);
  CHECK(error_of(R"({"optim": {"name": "lion"}})") ==
        "config: optim.name must be one of sgd, adam, adamw, got \"lion\"");
  CHECK(error_of(R"({"optim": {"schedule": "linear"}})") ==
        "config: optim.schedule must be one of constant, cosine, noam, got \"linear\"");
  CHECK(error_of(R"({"data": {"tokenizer": 3}})") == "config: data.tokenizer must be a string, got number 3");
  CHECK(error_of(R"({"data": {"tokenizer": "my.tok"}})") == "no error");  // a path, read when the task is built
  CHECK(error_of(R"({"model": {"kind": "gpt"}, "data": {"task": "seq2seq"}})").find("does not fit model.kind gpt") !=
        std::string::npos);
}

TEST_CASE("config: --set overrides by dotted path; JSON syntax errors give line and column") {
  json j = json::parse(R"({"train": {"max_steps": 10}})");
  apply_override(j, "train.max_steps=500");
  apply_override(j, "data.train=my.txt");
  apply_override(j, "model.bias=true");
  Config c = parse_config(j);
  CHECK(c.train.max_steps == 500);
  CHECK(c.data.train == "my.txt");
  CHECK(c.model.bias);
  CHECK_THROWS_WITH_AS(apply_override(j, "train.max_step=5"), doctest::Contains("did you mean train.max_steps"), Error);
  CHECK_THROWS_WITH_AS(apply_override(j, "train.max_steps"), doctest::Contains("expected key.path=value"), Error);
  std::string path = (std::filesystem::temp_directory_path() / "qkv_test_bad.json").string();
  std::ofstream(path) << "{\n  \"model\": {\n    \"n_layer\": 4,,\n  }\n}\n";
  CHECK_THROWS_WITH_AS(load_config(path),
                       doctest::Contains("qkv_test_bad.json: invalid JSON: parse error at line 3, column 18"), Error);
  CHECK_THROWS_WITH_AS(load_config(path + ".missing"), doctest::Contains("no such file"), Error);
  std::filesystem::remove(path);
}

TEST_CASE("config: the typed choices print the names they were parsed from") {
  Config c = parse_config(json::parse(R"({"model": {"kind": "seq2seq"}, "data": {"task": "seq2seq",
      "tokenizer": "bpe", "vocab_size": 300}, "optim": {"name": "sgd", "schedule": "noam"}})"));
  CHECK(c.model.kind == ModelKind::Seq2Seq);
  CHECK(c.data.task == Task::Seq2Seq);
  CHECK(c.data.tokenizer.kind == TokenizerKind::Bpe);
  CHECK(c.data.tokenizer.path.empty());
  CHECK(c.optim.name == OptimizerKind::Sgd);
  CHECK(c.optim.schedule == Schedule::Noam);
  json j = to_json(c);
  CHECK(j["model"]["kind"] == "seq2seq");
  CHECK(j["data"]["task"] == "seq2seq");
  CHECK(j["data"]["tokenizer"] == "bpe");
  CHECK(j["optim"]["name"] == "sgd");
  CHECK(j["optim"]["schedule"] == "noam");
  CHECK(std::string(name(ModelKind::Encoder)) == "encoder");
  CHECK(std::string(name(Task::Classify)) == "classify");
  CHECK(std::string(name(TokenizerKind::Char)) == "char");
}
