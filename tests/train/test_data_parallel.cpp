// Data parallelism without MPI: a step split into micro-batches computes the whole batch's loss and gradients
// (the arithmetic a split into ranks shares), evaluation sums add up, and the helpers that split batches.
// tests/cli/test_mpi.sh runs the same equivalence over 2 MPI ranks.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/ops.h"
#include "train/bleu.h"
#include "train/data_parallel.h"
#include "train/trainer.h"

using namespace qkv;

namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("qkv_dp_" + name);
  std::ofstream(path) << text;
  return path.string();
}

// Source and target of 1 to 8 symbols, so batches are padded.
std::string ragged_pairs(int n) {
  std::string s;
  uint32_t x = 11;
  for (int i = 0; i < n; ++i) {
    std::string w;
    int len = 1 + static_cast<int>((x = x * 1103515245u + 12345u) >> 16) % 8;
    for (int j = 0; j < len; ++j) w += static_cast<char>('a' + ((x = x * 1103515245u + 12345u) >> 16) % 5);
    s += w + "\t" + w + "\n";
  }
  return s;
}

struct Step {
  double loss = 0.0;
  std::map<std::string, std::vector<float>> grads;
};

// One training step of `config` from its seeded initialisation; the gradients before clipping.
Step first_step(const Config& config) {
  Config resolved = config;
  std::unique_ptr<TrainTask> task = make_task(resolved);
  init_weights(task->model(), config.train.seed);
  task->model().module().train();
  auto params = task->model().module().named_parameters();
  Optimizer optimizer(params, config.optim);
  Comm alone;
  GradientSync sync(alone, task->model().module().parameters());
  Step out;
  StepResult r = train_step(*task, optimizer, config, 1, sync, nullptr, [&] {
    for (auto& [name, p] : params) out.grads[name] = p.grad().to_vector();
  });
  out.loss = r.loss;
  return out;
}

// The largest ||a - b|| / ||b|| over the parameters.
double worst_relative(const Step& a, const Step& b) {
  double worst = 0.0;
  for (const auto& [name, ga] : a.grads) {
    const std::vector<float>& gb = b.grads.at(name);
    REQUIRE(ga.size() == gb.size());
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < ga.size(); ++i) {
      diff += (static_cast<double>(ga[i]) - gb[i]) * (static_cast<double>(ga[i]) - gb[i]);
      norm += static_cast<double>(gb[i]) * gb[i];
    }
    worst = std::max(worst, std::sqrt(diff / norm));
  }
  return worst;
}

}  // namespace

TEST_CASE("data parallel: micro-batches of a step give the loss and gradients of the whole batch") {
  std::string story;
  for (int i = 0; i < 200; ++i) story += "the cat sat on the mat. the dog ate the bone. ";
  Config gpt = parse_config(nlohmann::json::parse(R"({
    "model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16, "dropout": 0.0},
    "train": {"batch_size": 8, "threads": 1}})"));
  gpt.data.train = temp_file("story.txt", story);
  // Padded batches: the loss is the mean over all real target tokens, not a mean of micro-batch means.
  Config s2s = parse_config(nlohmann::json::parse(R"({
    "model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 12, "dropout": 0.0},
    "data": {"task": "seq2seq"}, "optim": {"name": "adam", "schedule": "noam", "lr": 0.5},
    "train": {"batch_size": 8, "threads": 1}})"));
  s2s.data.train = temp_file("pairs.tsv", ragged_pairs(300));
  for (Config whole : {gpt, s2s}) {
    CAPTURE(name(whole.model.kind));
    Config split = whole;
    whole.train.batch_size = 8;
    split.train.batch_size = 4;
    split.train.grad_accum = 2;
    Step a = first_step(whole), b = first_step(split);
    CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-6));
    CHECK(worst_relative(b, a) < 1e-5);
    // The same through global_batch.
    split.train.grad_accum = 1;
    split.train.global_batch = 8;
    CHECK(worst_relative(first_step(split), a) < 1e-5);
    // A different batch is not the same: the comparison can fail.
    whole.train.seed += 1;
    CHECK(worst_relative(first_step(whole), a) > 1e-2);
  }
}

TEST_CASE("data parallel: grad_accum_of splits the global batch over micro-batches and ranks") {
  TrainConfig t;
  t.batch_size = 4;
  t.grad_accum = 3;
  CHECK(grad_accum_of(t, 1) == 3);
  CHECK(grad_accum_of(t, 2) == 3);  // no global batch: each rank accumulates grad_accum micro-batches
  t.global_batch = 16;
  CHECK(grad_accum_of(t, 1) == 4);
  CHECK(grad_accum_of(t, 2) == 2);
  CHECK(grad_accum_of(t, 4) == 1);
  CHECK_THROWS_WITH_AS(grad_accum_of(t, 3), doctest::Contains("not a multiple of train.batch_size 4 x 3"), Error);
}

TEST_CASE("data parallel: slice_rows, evaluation sums and BLEU counts add up over parts") {
  Ids ids({0, 1, 2, 3, 4, 5, 6, 7, 8}, {3, 3});
  Ids mid = slice_rows(ids, 1, 2);
  CHECK(mid.shape == Shape{2, 3});
  CHECK(mid.data == std::vector<int32_t>{3, 4, 5, 6, 7, 8});
  CHECK(slice_rows(ids, 3, 0).numel() == 0);
  CHECK_THROWS_WITH_AS(slice_rows(ids, 2, 2), doctest::Contains("rows [2, 4) of a batch of 3"), Error);

  std::vector<std::vector<int32_t>> hyps{{1, 2, 3, 4, 5, 6}, {1, 2, 3, 4}, {7, 8, 9, 9, 1}};
  std::vector<std::vector<int32_t>> refs{{1, 2, 3, 4, 5, 7}, {1, 2, 3, 4, 5}, {7, 8, 9, 9, 2}};
  BleuStats a = bleu_stats({hyps[0]}, {refs[0]}), b = bleu_stats({hyps[1], hyps[2]}, {refs[1], refs[2]});
  Comm alone;
  EvalSums sums;
  sums.loss = 3.0;  // two batches of mean loss 1 and 2
  sums.batches = 2;
  sums.right = 3;
  sums.seen = 4;
  sums.has_bleu = true;
  for (int n = 0; n < 4; ++n) {
    sums.bleu.matches[n] = a.matches[n] + b.matches[n];
    sums.bleu.totals[n] = a.totals[n] + b.totals[n];
  }
  sums.bleu.hyp_len = a.hyp_len + b.hyp_len;
  sums.bleu.ref_len = a.ref_len + b.ref_len;
  EvalResult r = reduce_eval(alone, sums);
  CHECK(r.loss == 1.5);
  CHECK(r.accuracy == 0.75);
  CHECK(r.bleu == doctest::Approx(corpus_bleu(hyps, refs)));
  CHECK(r.bleu > 0.0);
}

TEST_CASE("data parallel: GradientSync alone scales the gradients it sums") {
  Tensor p = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  sum(p * 2.0f).backward();
  Comm alone;
  GradientSync sync(alone, {p});
  sync.sum_gradients(0.25f);
  CHECK(p.grad().to_vector() == std::vector<float>{0.5f, 0.5f, 0.5f});
  sync.broadcast_parameters();  // one rank: nothing moves
  CHECK(p.to_vector() == std::vector<float>{1, 2, 3});
}
