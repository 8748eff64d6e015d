// Sequence classification (Encoder with a classification head) from label<TAB>text lines.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "core/ops.h"
#include "data/classify_dataset.h"
#include "data/text_file.h"
#include "data/tsv.h"
#include "nn/encoder.h"
#include "train/task.h"

namespace qkv {
namespace {

std::vector<int64_t> rows(int64_t first, int64_t count) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::iota(out.begin(), out.end(), first);
  return out;
}

class ClassifyTask : public TrainTask {
 public:
  ClassifyTask(const Config& config, std::optional<Tokenizer> tokenizer, std::vector<std::string> labels) {
    config_ = config;
    const DataConfig& d = config.data;
    auto [train_tsv, val_tsv] = read_tsv_splits(d);
    if (!tokenizer) {
      std::vector<std::string_view> texts;  // the tokenizer learns from the text column only
      for (const TsvRow& row : parse_tsv(train_tsv, d.train, "label", "text")) texts.push_back(row.right);
      tokenizer = train_tokenizer(d, texts);
    }
    tokenizer_ = std::move(tokenizer);
    int64_t max_len = d.max_len > 0 ? d.max_len : config.model.block_size;
    // Long examples are cut to max_len, as BERT does: reviews run longer than a small model's block.
    train_.emplace(train_tsv, d.train, *tokenizer_, max_len, Overlong::kTruncate, labels);
    labels_ = train_->labels();
    val_.emplace(val_tsv, d.val.empty() ? d.train + " (val lines)" : d.val, *tokenizer_, max_len, Overlong::kTruncate,
                 labels_);
    QKV_CHECK(val_->size() > 0, d.train, ": no validation examples (raise data.val_fraction or give data.val)");
    config_.model = resolve_model_config(config_, *tokenizer_, static_cast<int64_t>(labels_.size()));
    model_ = build_model(config_.model);
    std::printf("data: %s: %lld train and %lld val examples, %zu classes, %lld cut to %lld tokens\n", d.train.c_str(),
                static_cast<long long>(train_->size()), static_cast<long long>(val_->size()), labels_.size(),
                static_cast<long long>(train_->truncated() + val_->truncated()), static_cast<long long>(max_len));
  }

  MicroBatch train_batch(const BatchSlice& s) override {
    Rng rng = batch_rng(config_.train.seed, kTrainBatches, s.key);
    ClassifyBatch global = train_->sample(s.global, rng);
    ClassifyBatch b{slice_rows(global.inputs, s.begin, s.size), slice_rows(global.labels, s.begin, s.size)};
    if (s.size == 0) return {};
    Mask pad = padding_mask(b.inputs, config_.model.pad_id);
    ModelOutput out = model_.encoder->classify(b.inputs, &pad, &b.labels);
    Ids mask(std::vector<int32_t>(pad.data.begin(), pad.data.end()), pad.shape);
    return {out.loss,
            s.size,
            b.inputs.numel(),
            out.logits,
            {{"inputs", b.inputs}, {"targets", b.labels}, {"padding", mask}}};
  }

  // A val split that fits in `batches` batches is read whole, in order: every evaluation then scores the same
  // examples, so best.qkv is chosen on the dev set itself rather than on a fresh random draw from it.
  EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) override {
    NoGrad no_grad;
    EvalSums sums;
    const ClassifyDataset& set = val ? *val_ : *train_;
    bool whole = val && set.size() <= B * batches;
    if (whole) batches = (set.size() + B - 1) / B;
    for (int64_t i = 0; i < batches; ++i) {
      ClassifyBatch b = whole ? set.batch(rows(i * B, std::min(B, set.size() - i * B))) : set.sample(B, rng);
      if (!shard.mine(i)) continue;
      Mask pad = padding_mask(b.inputs, config_.model.pad_id);
      ModelOutput out = model_.encoder->classify(b.inputs, &pad, &b.labels);
      // A short last batch counts by its examples, so loss / batches is the mean over examples (weight 1 for a
      // full batch, exactly).
      double weight = static_cast<double>(b.labels.numel()) / static_cast<double>(B);
      sums.loss += out.loss.item() * weight;
      sums.batches += weight;
      if (!val) continue;
      int64_t K = out.logits.size(1);
      for (int64_t r = 0; r < out.logits.size(0); ++r) {
        const float* row = out.logits.data() + r * K;
        sums.right += std::max_element(row, row + K) - row == b.labels.data[r];
        sums.seen += 1;
      }
    }
    return sums;
  }

  std::string show(uint64_t) override { return ""; }

 private:
  std::optional<ClassifyDataset> train_, val_;
};

}  // namespace

std::unique_ptr<TrainTask> make_classify_task(const Config& config, std::optional<Tokenizer> tokenizer,
                                              std::vector<std::string> labels) {
  return std::make_unique<ClassifyTask>(config, std::move(tokenizer), std::move(labels));
}

}  // namespace qkv
