// Sequence to sequence (the encoder-decoder transformer) from source<TAB>target lines, with teacher forcing.
#include <algorithm>
#include <cstdio>

#include "core/ops.h"
#include "data/batching.h"
#include "data/parallel_dataset.h"
#include "data/text_file.h"
#include "data/tsv.h"
#include "nn/generate.h"
#include "train/bleu.h"
#include "train/task.h"

namespace qkv {
namespace {

struct Seq2SeqSplits {
  ParallelDataset train, val;
};

class Seq2SeqTask : public TrainTask {
 public:
  // Without splits the task reads no data (make_eval_task).
  Seq2SeqTask(const Config& config, Tokenizer tokenizer, AnyModel model, std::optional<Seq2SeqSplits> splits)
      : TrainTask(config, std::move(tokenizer), {}, std::move(model)),
        seq2seq_(model_.seq2seq()),
        splits_(std::move(splits)) {}

  MicroBatch train_batch(const BatchSlice& s) override {
    const ParallelDataset& train = data(splits_).train;
    // Global batch i is batch i % n of epoch i / n; an epoch's order depends only on its number.
    int64_t G = s.global;
    if (epoch_batches_.empty() || G != epoch_G_ || s.key / epoch_batches_.size() != epoch_) {
      epoch_G_ = G;
      int64_t n = (train.size() + G - 1) / G;
      epoch_ = s.key / static_cast<uint64_t>(n);
      Rng rng = batch_rng(config_.train.seed, kTrainBatches, epoch_);
      epoch_batches_ = train.epoch(G, rng);
    }
    const std::vector<int64_t>& global = epoch_batches_[s.key % epoch_batches_.size()];
    int64_t begin = std::min<int64_t>(s.begin, static_cast<int64_t>(global.size()));
    int64_t end = std::min<int64_t>(s.begin + s.size, static_cast<int64_t>(global.size()));
    if (begin == end) return {};  // the epoch's last global batch is short
    Seq2SeqBatch b = train.batch(std::vector<int64_t>(global.begin() + begin, global.begin() + end));
    int64_t counted = std::count_if(b.targets.data.begin(), b.targets.data.end(),
                                    [&](int32_t t) { return t != config_.model.pad_id; });
    ModelOutput out = seq2seq_.forward(b.src, b.tgt_in, &b.targets, config_.optim.label_smoothing);
    return {out.loss,
            counted,
            b.tgt_in.numel(),
            out.logits,
            {{"src", b.src}, {"tgt_in", b.tgt_in}, {"targets", b.targets}}};
  }

  EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) override {
    NoGrad no_grad;
    const ParallelDataset& set = val ? data(splits_).val : data(splits_).train;
    EvalSums sums;
    for (int64_t i = 0; i < batches; ++i) {
      std::vector<int64_t> idx(B);
      for (auto& x : idx) x = uniform_index(rng, set.size());
      if (!shard.mine(i)) continue;
      Seq2SeqBatch b = set.batch(idx);
      sums.loss += seq2seq_.forward(b.src, b.tgt_in, &b.targets, config_.optim.label_smoothing).loss.item();
      sums.batches += 1;
    }
    if (val) {
      sums.has_bleu = true;
      sums.bleu = bleu(set, std::min<int64_t>(set.size(), 100), shard);
    }
    return sums;
  }

  // Every pair within block_size, one at a time, without label smoothing; BLEU of greedy translations.
  FileScore evaluate_file(const std::string& path) override {
    NoGrad no_grad;
    ParallelDataset set(read_text(path), path, tokenizer_, tokenizer_, config_.model.block_size);
    double total = 0.0;
    for (int64_t i = 0; i < set.size(); ++i) {
      Seq2SeqBatch b = set.batch({i});
      total += seq2seq_.forward(b.src, b.tgt_in, &b.targets, 0.0f).loss.item();
    }
    FileScore r;
    r.loss = total / static_cast<double>(set.size());
    r.bleu = bleu_score(bleu(set, set.size(), Shard{}));
    r.examples = set.size();
    return r;
  }

  std::string show(uint64_t) override {
    const ParallelDataset& val = data(splits_).val;
    std::vector<int32_t> out = translate(seq2seq_, val.src(0), decode_options());
    return tokenizer_.decode(val.src(0)) + " -> " + tokenizer_.decode(out);
  }

 private:
  DecodeOptions decode_options() const {
    DecodeOptions o;
    o.bos_id = tokenizer_.special("BOS");
    o.eos_id = tokenizer_.special("EOS");
    return o;
  }

  // Greedy BLEU-4 counts over this rank's share of the first n pairs of `set` (a fixed set, so evaluations
  // are comparable).
  BleuStats bleu(const ParallelDataset& set, int64_t n, Shard shard) {
    std::vector<std::vector<int32_t>> hyps, refs;
    for (int64_t i = 0; i < n; ++i) {
      if (!shard.mine(i)) continue;
      hyps.push_back(translate(seq2seq_, set.src(i), decode_options()));
      refs.push_back(set.tgt(i));
    }
    return bleu_stats(hyps, refs);
  }

  Seq2Seq& seq2seq_;
  std::optional<Seq2SeqSplits> splits_;
  std::vector<std::vector<int64_t>> epoch_batches_;
  uint64_t epoch_ = 0;
  int64_t epoch_G_ = 0;
};

}  // namespace

std::unique_ptr<TrainTask> make_seq2seq_task(Config& config, TaskStart start) {
  if (start.from_checkpoint())
    return std::make_unique<Seq2SeqTask>(config, std::move(*start.tokenizer), std::move(*start.model), std::nullopt);
  const DataConfig& d = config.data;
  auto [train_tsv, val_tsv] = read_tsv_splits(d);
  if (!start.tokenizer) {
    std::vector<std::string_view> texts;  // one shared vocabulary for both sides
    for (const TsvRow& row : parse_tsv(train_tsv, d.train, "source", "target")) {
      texts.push_back(row.left);
      texts.push_back(row.right);
    }
    start.tokenizer = task_tokenizer(d, texts);
  }
  const Tokenizer& tokenizer = *start.tokenizer;
  int64_t max_len = d.max_len > 0 ? d.max_len : config.model.block_size;
  ParallelDataset train(train_tsv, d.train, tokenizer, tokenizer, max_len);
  ParallelDataset val(val_tsv, d.val.empty() ? d.train + " (val lines)" : d.val, tokenizer, tokenizer, max_len);
  QKV_CHECK(train.size() > 0 && val.size() > 0, d.train, ": needs training and validation pairs (", train.size(),
            " and ", val.size(), " within max_len ", max_len, ")");
  config.model = resolve_model_config(config, tokenizer);
  if (start.before_model) start.before_model(config);
  AnyModel model = build_model(config.model);
  std::printf("data: %s: %lld train and %lld val pairs, vocabulary %d (%s), %lld dropped as longer than %lld\n",
              d.train.c_str(), static_cast<long long>(train.size()), static_cast<long long>(val.size()),
              tokenizer.size(), name(tokenizer.kind()), static_cast<long long>(train.dropped() + val.dropped()),
              static_cast<long long>(max_len));
  return std::make_unique<Seq2SeqTask>(config, std::move(*start.tokenizer), std::move(model),
                                       Seq2SeqSplits{std::move(train), std::move(val)});
}

}  // namespace qkv
