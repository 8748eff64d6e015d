// The trainer: exact resume after --stop-at, metrics lines, each task lowering its validation loss, non-finite
// losses and a data file changed before --resume.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "core/threads.h"
#include "train/checkpoint.h"
#include "train/model_io.h"
#include "train/trainer.h"

using namespace qkv;
using nlohmann::json;

namespace {

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("qkv_trainer_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::vector<json> read_metrics(const std::string& dir) {
  std::vector<json> lines;
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// step -> train_loss of the train lines
std::map<int64_t, double> train_losses(const std::string& dir) {
  std::map<int64_t, double> out;
  for (const json& j : read_metrics(dir))
    if (j.contains("train_loss")) out[j["step"].get<int64_t>()] = j["train_loss"].get<double>();
  return out;
}

Config tiny_gpt(const std::string& data, const std::string& out) {
  Config c = parse_config(json::parse(R"({
    "model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16, "dropout": 0.1},
    "optim": {"warmup_steps": 5, "lr": 3e-3},
    "train": {"batch_size": 4, "grad_accum": 2, "max_steps": 20, "eval_interval": 10, "eval_steps": 2,
              "log_interval": 1, "ckpt_interval": 100, "threads": 1}})"));
  c.data.train = data;
  c.train.out_dir = out;
  return c;
}

std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string story() {
  std::string s;
  for (int i = 0; i < 200; ++i) s += "the cat sat on the mat. the dog ate the bone. ";
  return s;
}

std::string copy_pairs(int n) {
  std::string s;
  uint32_t x = 7;
  for (int i = 0; i < n; ++i) {
    std::string w;
    for (int j = 0; j < 6; ++j) w += static_cast<char>('a' + (x = x * 1103515245u + 12345u) % 5);
    s += w + "\t" + w + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("trainer: a run stopped with --stop-at and resumed gives bitwise the losses of an uninterrupted run") {
  std::string dir = temp_dir("resume_gpt");
  std::string data = write_text(dir, "story.txt", story());
  SUBCASE("gpt, with dropout and gradient accumulation") {
    CHECK(train(tiny_gpt(data, dir + "/a"), {}) == 0);
    CHECK(train(tiny_gpt(data, dir + "/b"), TrainOptions{"", {}, 10}) == 0);
    CHECK(train(Config{}, TrainOptions{dir + "/b/ckpt.qkv", {"train.log_interval=1"}, 0}) == 0);
    auto a = train_losses(dir + "/a"), b = train_losses(dir + "/b");
    REQUIRE(a.size() == 20);
    REQUIRE(b.size() == 20);
    for (int64_t s = 11; s <= 20; ++s) CHECK(a[s] == b[s]);
    CHECK(a[20] < a[1]);
  }
  SUBCASE("gpt in bf16: resumes bit for bit, records its precision, and differs from fp32 by rounding only") {
    Config c = tiny_gpt(data, dir + "/bf16_a");
    c.train.precision = Precision::bf16;
    CHECK(train(c, {}) == 0);
    CHECK(precision() == Precision::fp32);  // the caller's precision is back
    c.train.out_dir = dir + "/bf16_b";
    CHECK(train(c, TrainOptions{"", {}, 10}) == 0);
    CHECK(load_model(dir + "/bf16_b/ckpt.qkv").config.train.precision == Precision::bf16);
    CHECK(train(Config{}, TrainOptions{dir + "/bf16_b/ckpt.qkv", {"train.log_interval=1"}, 0}) == 0);
    CHECK(train(tiny_gpt(data, dir + "/fp32"), {}) == 0);
    auto a = train_losses(dir + "/bf16_a"), b = train_losses(dir + "/bf16_b"), f = train_losses(dir + "/fp32");
    REQUIRE(a.size() == 20);
    REQUIRE(b.size() == 20);
    for (int64_t s = 11; s <= 20; ++s) CHECK(a[s] == b[s]);
    CHECK(a[1] != f[1]);  // the products really ran in bf16
    for (int64_t s = 1; s <= 20; ++s) CHECK(a[s] == doctest::Approx(f[s]).epsilon(2e-2));
  }
  SUBCASE("seq2seq") {
    std::string pairs = write_text(dir, "copy.tsv", copy_pairs(200));
    auto make = [&](const std::string& out) {
      Config c = parse_config(json::parse(R"({
        "model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 10, "dropout": 0.1,
                  "positions": "sinusoidal"},
        "data": {"task": "seq2seq"},
        "optim": {"name": "adam", "lr": 1.0, "beta2": 0.98, "eps": 1e-9, "schedule": "noam", "warmup_steps": 10,
                  "label_smoothing": 0.1},
        "train": {"batch_size": 8, "max_steps": 16, "eval_interval": 8, "eval_steps": 1, "log_interval": 1,
                  "threads": 1}})"));
      c.data.train = pairs;
      c.train.out_dir = out;
      return c;
    };
    CHECK(train(make(dir + "/s2s_a"), {}) == 0);
    CHECK(train(make(dir + "/s2s_b"), TrainOptions{"", {}, 8}) == 0);
    CHECK(train(Config{}, TrainOptions{dir + "/s2s_b/ckpt.qkv", {}, 0}) == 0);
    auto a = train_losses(dir + "/s2s_a"), b = train_losses(dir + "/s2s_b");
    for (int64_t s = 9; s <= 16; ++s) CHECK(a[s] == b[s]);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("trainer: metrics lines, checkpoints and refused overrides on resume") {
  std::string dir = temp_dir("metrics");
  std::string data = write_text(dir, "story.txt", story());
  Config c = tiny_gpt(data, dir + "/run");
  c.train.log_interval = 5;
  REQUIRE(train(c, {}) == 0);
  std::vector<json> lines = read_metrics(dir + "/run");
  // Train lines at 5, 10, 15, 20; eval lines at 10 and 20 (after the train line of the same step).
  REQUIRE(lines.size() == 6);
  CHECK(lines[0]["step"] == 5);
  for (const char* key : {"train_loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s", "skipped"})
    CHECK(lines[0].contains(key));
  CHECK(lines[2]["step"] == 10);
  CHECK(lines[2].contains("val_loss"));
  CHECK(lines[2].contains("eval_train_loss"));
  CHECK(std::filesystem::exists(dir + "/run/ckpt.qkv"));
  CHECK(std::filesystem::exists(dir + "/run/best.qkv"));
  CHECK(load_checkpoint(dir + "/run/ckpt.qkv").state.step == 20);
  CHECK_THROWS_WITH_AS(train(Config{}, TrainOptions{dir + "/run/ckpt.qkv", {"optim.lr=0.1"}, 0}),
                       doctest::Contains("--set optim.lr cannot change on --resume"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("trainer: init_from keeps the pretrained tokenizer, so a classifier starts from the MLM's embeddings") {
  std::string dir = temp_dir("init_from");
  std::string text = write_text(dir, "story.txt", story());
  std::string reviews;
  for (int i = 0; i < 40; ++i) reviews += (i % 2 ? "the cat sat. great\tgreat\n" : "the dog ate 5$ bones\tother\n");
  std::string tsv = write_text(dir, "reviews.tsv", reviews);
  Config mlm = parse_config(json::parse(R"({
    "model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16},
    "data": {"task": "mlm", "tokenizer": "char"},
    "train": {"batch_size": 4, "max_steps": 2, "eval_interval": 2, "eval_steps": 1, "threads": 1}})"));
  mlm.data.train = text;
  mlm.train.out_dir = dir + "/mlm";
  REQUIRE(train(mlm, {}) == 0);
  Config cls = parse_config(json::parse(R"({
    "model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16, "n_classes": 2},
    "data": {"task": "classify", "tokenizer": "bpe", "vocab_size": 300, "max_len": 16},
    "train": {"batch_size": 4, "max_steps": 1, "eval_interval": 1, "eval_steps": 1, "threads": 1}})"));
  cls.data.train = tsv;
  cls.train.out_dir = dir + "/cls";
  cls.train.init_from = dir + "/mlm/ckpt.qkv";
  REQUIRE(train(cls, {}) == 0);  // '5' and '$' are not in the story: they become UNK, not an error
  Checkpoint a = load_checkpoint(dir + "/mlm/ckpt.qkv"), b = load_checkpoint(dir + "/cls/ckpt.qkv");
  CHECK(a.tokenizer == b.tokenizer);
  auto find = [](const Checkpoint& c, const std::string& name) {
    for (const auto& [n, t] : c.params)
      if (n == name) return t;
    FAIL("no parameter ", name);
    return Tensor();
  };
  Tensor wa = find(a, "wte.weight"), wb = find(b, "wte.weight");
  REQUIRE(wa.shape() == wb.shape());
  // One AdamW step at the first warm-up learning rate moves each weight by at most about lr / warmup.
  float most = 0.0f;
  for (int64_t i = 0; i < wa.numel(); ++i) most = std::max(most, std::abs(wa.data()[i] - wb.data()[i]));
  CHECK(most < 1e-4f);
  std::filesystem::remove_all(dir);
}

TEST_CASE("trainer: a classification val split that fits in the evaluation batches is read whole, in order") {
  std::string dir = temp_dir("classify_eval");
  std::string reviews;
  for (int i = 0; i < 40; ++i) {  // texts of 1 to 5 words, so batches are padded
    std::string text;
    for (int w = 0; w <= i % 5; ++w) text += (i + w) % 3 ? "good " : "bad ";
    reviews += std::string(i % 2 ? "great\t" : "other\t") + text + "\n";
  }
  Config cls = parse_config(json::parse(R"({
    "model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16, "n_classes": 2},
    "data": {"task": "classify", "tokenizer": "char", "val_fraction": 0.25},
    "train": {"batch_size": 4, "threads": 1}})"));
  cls.data.train = write_text(dir, "reviews.tsv", reviews);
  std::unique_ptr<TrainTask> task = make_task(cls);
  init_weights(task->model(), 7);
  task->model().module().eval();
  auto val = [&](int64_t B, int64_t batches, uint64_t key) {
    Rng rng(key, 1);
    return task->evaluate(true, B, batches, rng, Shard{}).result();
  };
  // 10 val examples fit in 3 batches of 4: every draw scores all of them, the last batch of 2 counting half.
  EvalResult a = val(4, 3, 1), b = val(4, 3, 2), singles = val(1, 10, 3);
  CHECK(a.loss == b.loss);
  CHECK(a.accuracy == b.accuracy);
  // The mean over examples: padded batches of 4 give what the examples give one at a time.
  CHECK(a.loss == doctest::Approx(singles.loss).epsilon(1e-5));
  CHECK(a.accuracy == singles.accuracy);
  // 2 batches of 4 cannot hold 10 examples: they are sampled, and another draw scores other examples.
  CHECK(val(4, 2, 1).loss != val(4, 2, 2).loss);
  std::filesystem::remove_all(dir);
}

namespace {
// The first non-finite value among a checkpoint's parameters, by name ("" when all are finite).
std::string non_finite(const Checkpoint& c) {
  for (const auto& [name, t] : c.params)
    for (float v : t.to_vector())
      if (!std::isfinite(v)) return name;
  return "";
}
}  // namespace

TEST_CASE("trainer: a non-finite loss or update stops with exit 3 and never reaches a checkpoint") {
  std::string dir = temp_dir("nonfinite");
  std::string data = write_text(dir, "story.txt", story());
  Config c = tiny_gpt(data, dir + "/huge");
  c.train.max_steps = 6;
  c.train.ckpt_interval = 1;
  SUBCASE("lr 1e30: finite weights of about 1e29 after step 1, then a NaN gradient norm") {
    c.optim.lr = 1e30f;
    CHECK(train(c, {}) == 3);
    Checkpoint last = load_checkpoint(dir + "/huge/ckpt.qkv");
    CHECK(last.state.step >= 1);
    CHECK(last.state.step < 6);
    CHECK(non_finite(last) == "");
  }
  SUBCASE("lr 3e38 from step 1: the first update overflows the weights, so no checkpoint is written at all") {
    c.optim.lr = 3e38f;
    c.optim.warmup_steps = 0;
    CHECK(train(c, {}) == 3);
    CHECK_FALSE(std::filesystem::exists(dir + "/huge/ckpt.qkv"));
  }
  SUBCASE("train.skip_nonfinite: the run goes on, skipping and counting those updates") {
    c.optim.lr = 1e30f;
    c.train.skip_nonfinite = true;
    CHECK(train(c, {}) == 0);
    Checkpoint last = load_checkpoint(dir + "/huge/ckpt.qkv");
    CHECK(last.state.step == 6);
    CHECK(last.state.skipped > 0);
    CHECK(non_finite(last) == "");
    CHECK(read_metrics(dir + "/huge").back().contains("val_loss"));
    int64_t logged = -1;
    for (const json& j : read_metrics(dir + "/huge"))
      if (j.contains("skipped")) logged = j["skipped"].get<int64_t>();
    CHECK(logged == last.state.skipped);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("trainer: --resume refuses a data file other than the recorded one, unless allow_data_change") {
  std::string dir = temp_dir("data_change");
  std::string data = write_text(dir, "story.txt", story());
  Config c = tiny_gpt(data, dir + "/run");
  c.train.max_steps = 2;
  REQUIRE(train(c, {}) == 0);
  std::string ckpt = dir + "/run/ckpt.qkv";
  FileHash before = hash_file(data);
  const std::string absolute = std::filesystem::absolute(data).lexically_normal().string();
  REQUIRE(load_checkpoint(ckpt).state.data ==
          std::vector<DataFingerprint>{{"data.train", data, absolute, before.size, before.fnv1a64}});

  std::string edited = story();
  edited[10] = edited[10] == 'a' ? 'e' : 'a';  // same size, other bytes: only the hash tells
  write_text(dir, "story.txt", edited);
  CHECK_THROWS_WITH_AS(train(Config{}, TrainOptions{ckpt, {"train.max_steps=3"}}),
                       doctest::Contains(("data.train " + data + " is not the file " + ckpt +
                                          " was trained on: recorded " + std::to_string(before.size) + " bytes")
                                             .c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(train(Config{}, TrainOptions{ckpt, {"train.max_steps=3"}}),
                       doctest::Contains("pass --allow-data-change"), Error);
  CHECK(load_checkpoint(ckpt).state.step == 2);  // nothing was written

  TrainOptions allow{ckpt, {"train.max_steps=3"}};
  allow.allow_data_change = true;
  CHECK(train(Config{}, allow) == 0);
  FileHash after = hash_file(data);
  Checkpoint resumed = load_checkpoint(ckpt);
  CHECK(resumed.state.step == 3);
  CHECK(resumed.state.data == std::vector<DataFingerprint>{{"data.train", data, absolute, after.size, after.fnv1a64}});
  CHECK(train(Config{}, TrainOptions{ckpt, {"train.max_steps=4"}}) == 0);  // the new file is now the recorded one
  std::filesystem::remove_all(dir);
}
