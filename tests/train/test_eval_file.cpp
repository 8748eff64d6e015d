// TrainTask::evaluate_file, as `qkv eval` runs it: a task built from a checkpoint alone (its training data gone)
// scores a whole file. Zero weights make every logit 0, so the loss is ln V (or ln K) exactly and the argmax
// is the first id; the counts and the MLM masks (stream 77 of the seed) are pinned.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/model_io.h"
#include "train/task.h"

using namespace qkv;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("qkv_eval_file_" + name)).string();
}

std::string write_text(const std::string& name, const std::string& text) {
  std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

// Builds the task of `config_json` on `train_text`, zeroes its weights, saves it and deletes the training
// data: what is left is a checkpoint, loaded as `qkv eval` loads it.
std::unique_ptr<TrainTask> zero_checkpoint_task(const std::string& name, const std::string& config_json,
                                                const std::string& train_text) {
  Config config = parse_config(nlohmann::json::parse(config_json));
  config.data.train = write_text(name + ".train", train_text);
  std::unique_ptr<TrainTask> trained = make_task(config);
  for (auto& [pname, p] : trained->model().module().named_parameters()) std::fill_n(p.data(), p.numel(), 0.0f);
  std::string ckpt = temp_path(name + ".qkv");
  save_checkpoint(ckpt, make_checkpoint(config, trained->tokenizer(), trained->model(), trained->labels()));
  std::filesystem::remove(config.data.train);
  return make_eval_task(load_model(ckpt));
}

std::string repeat(const std::string& line, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += line;
  return out;
}

}  // namespace

TEST_CASE("evaluate_file: LM") {
  auto task = zero_checkpoint_task("lm", R"({"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 8,
      "block_size": 16}, "data": {"tokenizer": "char"}})",
                                   repeat("the cat sat on the mat\n", 20));
  FileScore s = task->evaluate_file(write_text("lm.txt", repeat("a cat sat\n", 10)));  // 100 tokens
  int64_t V = task->tokenizer().size();
  CHECK(V == 11);  // " acehmnost\n"
  CHECK(s.loss == doctest::Approx(std::log(11.0)).epsilon(1e-6));
  CHECK(s.perplexity == doctest::Approx(11.0).epsilon(1e-5));
  CHECK(s.tokens == 96);  // (100 - 1) / 16 = 6 windows of 16
  CHECK(s.masked == 0);
  CHECK(std::isnan(s.accuracy));
  CHECK(std::isnan(s.bleu));
  CHECK_THROWS_WITH_AS(task->evaluate_file(write_text("short.txt", "a cat")),
                       doctest::Contains("holds 5 tokens, fewer than one block of 17"), Error);
  // Built from the checkpoint alone, the task holds no training data.
  Rng rng(1);
  CHECK_THROWS_WITH_AS(task->evaluate(true, 2, 1, rng, Shard{}), doctest::Contains("evaluation only"), Error);
}

TEST_CASE("evaluate_file: MLM") {
  auto task = zero_checkpoint_task("mlm", R"({"model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 8,
      "block_size": 16}, "data": {"task": "mlm", "tokenizer": "char"}, "train": {"seed": 5}})",
                                   repeat("the cat sat on the mat\n", 20));
  FileScore s = task->evaluate_file(write_text("mlm.txt", repeat("the cat sat on the mat\n", 10)));  // 230 tokens
  CHECK(task->tokenizer().size() == 15);  // 11 characters and PAD, MASK, CLS, UNK
  CHECK(s.loss == doctest::Approx(std::log(15.0)).epsilon(1e-6));
  CHECK(s.tokens == 224);                          // 14 windows of 16
  CHECK(s.masked == 30);                           // the masks of stream 77 of seed 5
  CHECK(s.accuracy == doctest::Approx(1.0 / 30));  // one masked newline: id 0, the argmax of zero logits
}

TEST_CASE("evaluate_file: classify") {
  auto task = zero_checkpoint_task("cls", R"({"model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 8,
      "block_size": 8}, "data": {"task": "classify", "tokenizer": "char", "val_fraction": 0.25}})",
                                   repeat("pos\tgood\nneg\tbad\n", 10));
  CHECK(task->labels() == std::vector<std::string>{"neg", "pos"});
  // The long review is cut to block_size (CLS and 7 characters), not dropped.
  FileScore s = task->evaluate_file(write_text("cls.tsv", "pos\tgood\nneg\tbad\nneg\tbadbadbadbad\npos\tgood\n"));
  CHECK(s.loss == doctest::Approx(std::log(2.0)).epsilon(1e-6));
  CHECK(s.accuracy == 0.5);  // every example gets class 0, neg
  CHECK(s.examples == 4);
  CHECK(std::isnan(s.perplexity));
}

TEST_CASE("evaluate_file: seq2seq") {
  auto task = zero_checkpoint_task("s2s", R"({"model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 8,
      "block_size": 6}, "data": {"task": "seq2seq", "tokenizer": "char", "val_fraction": 0.25}})",
                                   repeat("abc\tabc\ncab\tcab\n", 10));
  CHECK(task->tokenizer().size() == 6);  // a b c and PAD, BOS, EOS
  // The pair longer than block_size is dropped.
  FileScore s = task->evaluate_file(write_text("s2s.tsv", "abc\tabc\nba\tba\nabcabcabc\tabcabcabc\n"));
  CHECK(s.loss == doctest::Approx(std::log(6.0)).epsilon(1e-6));
  CHECK(s.bleu == 0);  // greedy decoding of zero logits repeats id 0, "a": no 4-gram matches
  CHECK(s.examples == 2);
  CHECK(s.tokens == 0);
}
