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

class Seq2SeqTask : public TrainTask {
 public:
  Seq2SeqTask(const Config& config, std::optional<Tokenizer> tokenizer) {
    config_ = config;
    const DataConfig& d = config.data;
    auto [train_tsv, val_tsv] = read_tsv_splits(d);
    if (!tokenizer) {
      std::vector<std::string_view> texts;  // one shared vocabulary for both sides
      for (const TsvRow& row : parse_tsv(train_tsv, d.train, "source", "target")) {
        texts.push_back(row.left);
        texts.push_back(row.right);
      }
      tokenizer = train_tokenizer(d, texts);
    }
    tokenizer_ = std::move(tokenizer);
    int64_t max_len = d.max_len > 0 ? d.max_len : config.model.block_size;
    train_.emplace(train_tsv, d.train, *tokenizer_, *tokenizer_, max_len);
    val_.emplace(val_tsv, d.val.empty() ? d.train + " (val lines)" : d.val, *tokenizer_, *tokenizer_, max_len);
    QKV_CHECK(train_->size() > 0 && val_->size() > 0, d.train, ": needs training and validation pairs (",
              train_->size(), " and ", val_->size(), " within max_len ", max_len, ")");
    config_.model = resolve_model_config(config_, *tokenizer_);
    model_ = build_model(config_.model);
    std::printf("data: %s: %lld train and %lld val pairs, vocabulary %d (%s), %lld dropped as longer than %lld\n",
                d.train.c_str(), static_cast<long long>(train_->size()), static_cast<long long>(val_->size()),
                tokenizer_->size(), name(tokenizer_->kind()),
                static_cast<long long>(train_->dropped() + val_->dropped()), static_cast<long long>(max_len));
  }

  MicroBatch train_batch(const BatchSlice& s) override {
    // Global batch i is batch i % n of epoch i / n; an epoch's order depends only on its number.
    int64_t G = s.global;
    if (epoch_batches_.empty() || G != epoch_G_ || s.key / epoch_batches_.size() != epoch_) {
      epoch_G_ = G;
      int64_t n = (train_->size() + G - 1) / G;
      epoch_ = s.key / static_cast<uint64_t>(n);
      Rng rng = batch_rng(config_.train.seed, kTrainBatches, epoch_);
      epoch_batches_ = train_->epoch(G, rng);
    }
    const std::vector<int64_t>& global = epoch_batches_[s.key % epoch_batches_.size()];
    int64_t begin = std::min<int64_t>(s.begin, static_cast<int64_t>(global.size()));
    int64_t end = std::min<int64_t>(s.begin + s.size, static_cast<int64_t>(global.size()));
    if (begin == end) return {};  // the epoch's last global batch is short
    Seq2SeqBatch b = train_->batch(std::vector<int64_t>(global.begin() + begin, global.begin() + end));
    int64_t counted = std::count_if(b.targets.data.begin(), b.targets.data.end(),
                                    [&](int32_t t) { return t != config_.model.pad_id; });
    ModelOutput out = model_.seq2seq->forward(b.src, b.tgt_in, &b.targets, config_.optim.label_smoothing);
    return {out.loss,
            counted,
            b.tgt_in.numel(),
            out.logits,
            {{"src", b.src}, {"tgt_in", b.tgt_in}, {"targets", b.targets}}};
  }

  EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) override {
    NoGrad no_grad;
    const ParallelDataset& data = val ? *val_ : *train_;
    EvalSums sums;
    for (int64_t i = 0; i < batches; ++i) {
      std::vector<int64_t> idx(B);
      for (auto& x : idx) x = uniform_index(rng, data.size());
      if (!shard.mine(i)) continue;
      Seq2SeqBatch b = data.batch(idx);
      sums.loss += model_.seq2seq->forward(b.src, b.tgt_in, &b.targets, config_.optim.label_smoothing).loss.item();
      sums.batches += 1;
    }
    if (val) {
      sums.has_bleu = true;
      sums.bleu = bleu(std::min<int64_t>(data.size(), 100), shard);
    }
    return sums;
  }

  std::string show(uint64_t) override {
    std::vector<int32_t> out = translate(*model_.seq2seq, val_->src(0), decode_options());
    return tokenizer_->decode(val_->src(0)) + " -> " + tokenizer_->decode(out);
  }

 private:
  DecodeOptions decode_options() const {
    DecodeOptions o;
    o.bos_id = tokenizer_->special("BOS");
    o.eos_id = tokenizer_->special("EOS");
    return o;
  }

  // Greedy BLEU-4 counts over this rank's share of the first n val pairs (a fixed set, so evaluations are
  // comparable).
  BleuStats bleu(int64_t n, Shard shard) {
    std::vector<std::vector<int32_t>> hyps, refs;
    for (int64_t i = 0; i < n; ++i) {
      if (!shard.mine(i)) continue;
      hyps.push_back(translate(*model_.seq2seq, val_->src(i), decode_options()));
      refs.push_back(val_->tgt(i));
    }
    return bleu_stats(hyps, refs);
  }

  std::optional<ParallelDataset> train_, val_;
  std::vector<std::vector<int64_t>> epoch_batches_;
  uint64_t epoch_ = 0;
  int64_t epoch_G_ = 0;
};

}  // namespace

std::unique_ptr<TrainTask> make_seq2seq_task(const Config& config, std::optional<Tokenizer> tokenizer) {
  return std::make_unique<Seq2SeqTask>(config, std::move(tokenizer));
}

}  // namespace qkv
