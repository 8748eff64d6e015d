// Language modelling (GPT, next token) and masked language modelling (Encoder) over one token stream.
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
                tokenizer_->size(), tokenizer_->type().c_str());
  }

  MicroBatch train_batch(int64_t B, uint64_t index) override {
    Rng rng = batch_rng(config_.train.seed, kTrainBatches, index);
    return loss_of(split_->train, B, rng);
  }

  EvalResult evaluate(bool val, int64_t B, int64_t batches, Rng& rng) override {
    NoGrad no_grad;
    double total = 0.0;
    for (int64_t i = 0; i < batches; ++i) total += loss_of(val ? split_->val : split_->train, B, rng).loss.item();
    return EvalResult{total / static_cast<double>(batches)};
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
  MicroBatch loss_of(const LmDataset& data, int64_t B, Rng& rng) {
    int64_t T = config_.model.block_size;
    LmBatch b = data.batch(B, T, rng);
    if (model_.gpt) {
      ModelOutput out = model_.gpt->forward(b.inputs, &b.targets);
      return {out.loss, B * T, out.logits, {{"inputs", b.inputs}, {"targets", b.targets}}};
    }
    MlmBatch m = mask_tokens(b.inputs, *mlm_vocab_, rng);  // MLM uses the T input tokens of each window
    ModelOutput out = model_.encoder->mlm(m.inputs, nullptr, &m.targets);
    return {out.loss, B * T, out.logits, {{"inputs", m.inputs}, {"targets", m.targets}}};
  }

  std::optional<LmSplit> split_;
  std::optional<MlmVocab> mlm_vocab_;
};

}  // namespace

std::unique_ptr<TrainTask> make_lm_task(const Config& config, std::optional<Tokenizer> tokenizer) {
  return std::make_unique<LmTask>(config, std::move(tokenizer));
}

}  // namespace qkv
