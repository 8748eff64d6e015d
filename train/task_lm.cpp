// Language modelling (GPT, next token) and masked language modelling (Encoder) over one token stream.
#include <algorithm>
#include <cstdio>

#include "core/ops.h"
#include "data/lm_dataset.h"
#include "data/mlm.h"
#include "data/text_file.h"
#include "nn/generate.h"
#include "train/task.h"

namespace qkv {
namespace {

class LmTask : public TrainTask {
 public:
  LmTask(const Config& config, std::optional<Tokenizer> tokenizer) {
    config_ = config;
    const DataConfig& d = config.data;
    std::string text = read_text(d.train);
    if (!tokenizer) tokenizer = train_tokenizer(d, {text});
    tokenizer_ = std::move(tokenizer);
    std::optional<std::vector<int32_t>> val;
    if (!d.val.empty()) val = tokenizer_->encode(read_text(d.val));
    split_.emplace(
        split_lm(tokenizer_->encode(text), d.train, d.val_fraction, std::move(val), d.val.empty() ? d.train : d.val));
    config_.model = resolve_model_config(config_, *tokenizer_);
    model_ = build_model(config_.model);
    if (d.task == Task::Mlm) mlm_vocab_.emplace(MlmVocab::from(*tokenizer_));
    std::printf("data: %s: %lld train tokens, %lld val tokens, vocabulary %d (%s)\n", d.train.c_str(),
                static_cast<long long>(split_->train.size()), static_cast<long long>(split_->val.size()),
                tokenizer_->size(), name(tokenizer_->kind()));
  }

  MicroBatch train_batch(const BatchSlice& s) override {
    Rng rng = batch_rng(config_.train.seed, kTrainBatches, s.key);
    Drawn d = draw(split_->train, s.global, rng);
    return forward(slice_rows(d.inputs, s.begin, s.size), slice_rows(d.targets, s.begin, s.size));
  }

  EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) override {
    NoGrad no_grad;
    EvalSums sums;
    for (int64_t i = 0; i < batches; ++i) {
      Drawn d = draw(val ? split_->val : split_->train, B, rng);
      if (!shard.mine(i)) continue;
      sums.loss += forward(d.inputs, d.targets).loss.item();
      sums.batches += 1;
    }
    return sums;
  }

  std::string show(uint64_t seed) override {
    if (!model_.gpt) return "";
    SampleOptions o;
    o.max_new_tokens = 120;
    o.seed = seed;
    std::vector<int32_t> start{0};  // a newline when the vocabulary has one, else the first token
    try {
      start = tokenizer_->encode("\n");
    } catch (const Error&) {
    }
    std::vector<int32_t> out = generate(*model_.gpt, start, o);
    return tokenizer_->decode(out);
  }

 private:
  struct Drawn {
    Ids inputs, targets;
  };

  // B windows, masked for MLM (which uses the T input tokens of each window).
  Drawn draw(const LmDataset& data, int64_t B, Rng& rng) {
    LmBatch b = data.batch(B, config_.model.block_size, rng);
    if (model_.gpt) return {std::move(b.inputs), std::move(b.targets)};
    MlmBatch m = mask_tokens(b.inputs, *mlm_vocab_, rng);
    return {std::move(m.inputs), std::move(m.targets)};
  }

  MicroBatch forward(const Ids& inputs, const Ids& targets) {
    int64_t counted = std::count_if(targets.data.begin(), targets.data.end(), [](int32_t t) { return t >= 0; });
    if (inputs.numel() == 0) return {Tensor(), 0, 0, Tensor(), {}};
    ModelOutput out =
        model_.gpt ? model_.gpt->forward(inputs, &targets) : model_.encoder->mlm(inputs, nullptr, &targets);
    return {out.loss, counted, inputs.numel(), out.logits, {{"inputs", inputs}, {"targets", targets}}};
  }

  std::optional<LmSplit> split_;
  std::optional<MlmVocab> mlm_vocab_;
};

}  // namespace

std::unique_ptr<TrainTask> make_lm_task(const Config& config, std::optional<Tokenizer> tokenizer) {
  return std::make_unique<LmTask>(config, std::move(tokenizer));
}

}  // namespace qkv
