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

// The index of the largest of n logits.
int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

struct ClassifySplits {
  ClassifyDataset train, val;
};

class ClassifyTask : public TrainTask {
 public:
  // Without splits the task reads no data (make_eval_task).
  ClassifyTask(const Config& config, Tokenizer tokenizer, std::vector<std::string> labels, AnyModel model,
               std::optional<ClassifySplits> splits)
      : TrainTask(config, std::move(tokenizer), std::move(labels), std::move(model)),
        encoder_(model_.encoder()),
        splits_(std::move(splits)) {}

  MicroBatch train_batch(const BatchSlice& s) override {
    Rng rng = batch_rng(config_.train.seed, kTrainBatches, s.key);
    ClassifyBatch global = data(splits_).train.sample(s.global, rng);
    ClassifyBatch b{slice_rows(global.inputs, s.begin, s.size), slice_rows(global.labels, s.begin, s.size)};
    if (s.size == 0) return {};
    Mask pad = padding_mask(b.inputs, config_.model.pad_id);
    ModelOutput out = encoder_.classify(b.inputs, &pad, &b.labels);
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
    const ClassifyDataset& set = val ? data(splits_).val : data(splits_).train;
    bool whole = val && set.size() <= B * batches;
    if (whole) batches = (set.size() + B - 1) / B;
    for (int64_t i = 0; i < batches; ++i) {
      ClassifyBatch b = whole ? set.batch(rows(i * B, std::min(B, set.size() - i * B))) : set.sample(B, rng);
      if (!shard.mine(i)) continue;
      Mask pad = padding_mask(b.inputs, config_.model.pad_id);
      ModelOutput out = encoder_.classify(b.inputs, &pad, &b.labels);
      // A short last batch counts by its examples, so loss / batches is the mean over examples (weight 1 for a
      // full batch, exactly).
      double weight = static_cast<double>(b.labels.numel()) / static_cast<double>(B);
      sums.loss += out.loss.item() * weight;
      sums.batches += weight;
      if (!val) continue;
      int64_t K = out.logits.size(1);
      for (int64_t r = 0; r < out.logits.size(0); ++r) {
        sums.right += argmax(out.logits.data() + r * K, K) == b.labels.data[r];
        sums.seen += 1;
      }
    }
    return sums;
  }

  // One example at a time, cut to block_size, with no padding.
  FileScore evaluate_file(const std::string& path) override {
    NoGrad no_grad;
    ClassifyDataset set(read_text(path), path, tokenizer_, config_.model.block_size, Overlong::kTruncate, labels_);
    double total = 0.0;
    int64_t right = 0;
    for (int64_t i = 0; i < set.size(); ++i) {
      ClassifyBatch b = set.batch({i});
      ModelOutput o = encoder_.classify(b.inputs, nullptr, &b.labels);
      total += o.loss.item();
      right += argmax(o.logits.data(), o.logits.numel()) == b.labels.data[0];
    }
    double n = static_cast<double>(set.size());
    FileScore r;
    r.loss = total / n;
    r.accuracy = right / n;
    r.examples = set.size();
    return r;
  }

  std::string show(uint64_t) override { return ""; }

 private:
  Encoder& encoder_;
  std::optional<ClassifySplits> splits_;
};

}  // namespace

std::unique_ptr<TrainTask> make_classify_task(Config& config, TaskStart start) {
  if (start.from_checkpoint())
    return std::make_unique<ClassifyTask>(config, std::move(*start.tokenizer), std::move(start.labels),
                                          std::move(*start.model), std::nullopt);
  const DataConfig& d = config.data;
  auto [train_tsv, val_tsv] = read_tsv_splits(d);
  if (!start.tokenizer) {
    std::vector<std::string_view> texts;  // the tokenizer learns from the text column only
    for (const TsvRow& row : parse_tsv(train_tsv, d.train, "label", "text")) texts.push_back(row.right);
    start.tokenizer = task_tokenizer(d, texts);
  }
  const Tokenizer& tokenizer = *start.tokenizer;
  int64_t max_len = d.max_len > 0 ? d.max_len : config.model.block_size;
  // Long examples are cut to max_len, as BERT does: reviews run longer than a small model's block.
  ClassifyDataset train(train_tsv, d.train, tokenizer, max_len, Overlong::kTruncate, std::move(start.labels));
  std::vector<std::string> labels = train.labels();
  ClassifyDataset val(val_tsv, d.val.empty() ? d.train + " (val lines)" : d.val, tokenizer, max_len,
                      Overlong::kTruncate, labels);
  QKV_CHECK(val.size() > 0, d.train, ": no validation examples (raise data.val_fraction or give data.val)");
  config.model = resolve_model_config(config, tokenizer, static_cast<int64_t>(labels.size()));
  if (start.before_model) start.before_model(config);
  AnyModel model = build_model(config.model);
  std::printf("data: %s: %lld train and %lld val examples, %zu classes, %lld cut to %lld tokens\n", d.train.c_str(),
              static_cast<long long>(train.size()), static_cast<long long>(val.size()), labels.size(),
              static_cast<long long>(train.truncated() + val.truncated()), static_cast<long long>(max_len));
  return std::make_unique<ClassifyTask>(config, std::move(*start.tokenizer), std::move(labels), std::move(model),
                                        ClassifySplits{std::move(train), std::move(val)});
}

}  // namespace qkv
