// The memory estimate before a run: the parameter count of every model kind exactly, the refusal naming the
// estimate and what is available, and the figures it prints. (Against measured RSS: tests/cli/test_memory.sh.)
#include <doctest/doctest.h>

#include "core/error.h"
#include "train/any_model.h"
#include "train/memory_estimate.h"

using namespace qkv;

namespace {

Config small(ModelKind kind, Task task) {
  Config c;
  c.model.kind = kind;
  c.data.task = task;
  c.model.n_layer = 2, c.model.n_head = 2, c.model.d_model = 16, c.model.block_size = 12;
  c.model.vocab_size = 30;
  return c;
}

}  // namespace

TEST_CASE("memory_estimate: counts the parameters each model kind builds, exactly") {
  std::vector<Config> configs = {small(ModelKind::Gpt, Task::Lm), small(ModelKind::Encoder, Task::Mlm),
                                 small(ModelKind::Seq2Seq, Task::Seq2Seq)};
  Config classify = small(ModelKind::Encoder, Task::Classify);
  classify.model.n_classes = 3;
  configs.push_back(classify);
  for (Config c : std::vector<Config>(configs)) {  // each again with the other options that change the count
    c.model.bias = true;
    c.model.norm = Norm::Post;
    c.model.d_ff = 40;
    configs.push_back(c);
    c.model.positions = c.model.kind == ModelKind::Seq2Seq ? Positions::Sinusoidal : Positions::Rope;
    configs.push_back(c);
  }
  for (Config c : configs) {
    INFO(to_json(c).dump());
    c.model.pad_id = 0;  // a seq2seq model needs its padding token
    AnyModel model = build_model(c.model);
    CHECK(estimate_memory(c, 1, 0.0).params == model.module().num_params());
  }
}

TEST_CASE("memory_estimate: activations grow with batch x block, and a step that cannot fit is refused by name") {
  Config c = small(ModelKind::Gpt, Task::Lm);
  const MemoryEstimate base = estimate_memory(c, 1, 0.0);
  c.train.batch_size *= 2;
  const MemoryEstimate twice = estimate_memory(c, 1, 0.0);
  CHECK(twice.activations == doctest::Approx(2 * base.activations));
  CHECK(twice.weights == base.weights);
  CHECK(base.optimizer == base.weights);  // AdamW: two moments, as many floats as weights and gradients
  c.optim.name = OptimizerKind::Sgd;
  CHECK(estimate_memory(c, 1, 0.0).optimizer == doctest::Approx(base.weights / 2));
  CHECK(estimate_memory(c, 1, 5e6).total() == doctest::Approx(5e6 + estimate_memory(c, 1, 0.0).step()));

  // The block_size=50000 on the default model: about 30 GB, refused where 24 GB are available.
  Config huge;
  huge.model.block_size = 50000, huge.model.vocab_size = 84;
  huge.train.batch_size = 12;
  const MemoryEstimate m = estimate_memory(huge, 2, 20e6);
  CHECK(m.activations > 25e9);
  CHECK_THROWS_WITH_AS(check_memory(m, 24e9, 1), doctest::Contains("memory: a training step needs about"), Error);
  CHECK_THROWS_WITH_AS(check_memory(m, 24e9, 1), doctest::Contains("but 24 GB is available"), Error);
  CHECK_NOTHROW(check_memory(m, -1.0, 1));  // unknown: not refused
  CHECK_NOTHROW(check_memory(base, 24e9, 1));
  CHECK_THROWS_WITH_AS(check_memory(base, base.step() * 1.5, 2), doctest::Contains("for 2 ranks"), Error);
}

TEST_CASE("memory_estimate: format_bytes") {
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_bytes(820e6) == "820 MB");
  CHECK(format_bytes(1.34e9) == "1.3 GB");
  CHECK(format_bytes(29.4e9) == "29 GB");
}
