// Language modelling (GPT, next token) and masked language modelling (Encoder) over one token stream.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/ops.h"
#include "data/lm_dataset.h"
#include "data/mlm.h"
#include "data/text_file.h"
#include "data/token_file.h"
#include "nn/generate.h"
#include "train/task.h"
#include "train/token_data.h"

namespace qkv {
namespace {

class LmTask : public TrainTask {
 public:
  // Without a split the task reads no data (make_eval_task).
  LmTask(const Config& config, Tokenizer tokenizer, AnyModel model, std::optional<LmSplit> split)
      : TrainTask(config, std::move(tokenizer), {}, std::move(model)), split_(std::move(split)) {
    if (mlm()) mlm_vocab_.emplace(MlmVocab::from(tokenizer_));
  }

  MicroBatch train_batch(const BatchSlice& s) override {
    Rng rng = batch_rng(config_.train.seed, kTrainBatches, s.key);
    Drawn d = draw(data(split_).train, s.global, rng);
    return forward(slice_rows(d.inputs, s.begin, s.size), slice_rows(d.targets, s.begin, s.size));
  }

  EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) override {
    NoGrad no_grad;
    EvalSums sums;
    for (int64_t i = 0; i < batches; ++i) {
      Drawn d = draw(val ? data(split_).val : data(split_).train, B, rng);
      if (!shard.mine(i)) continue;
      sums.loss += forward(d.inputs, d.targets).loss.item();
      sums.batches += 1;
    }
    return sums;
  }

  // Consecutive windows over the whole file, one at a time; MLM masks them from a fixed stream of the seed.
  // Token files (a path ending in .bin) are memory-mapped and read a window at a time.
  FileScore evaluate_file(const std::string& path) override {
    NoGrad no_grad;
    LmDataset stream = is_token_path(path)
                           ? LmDataset(open_token_data("eval", path, tokenizer_, config_.data.task, ""), 0, -1, path)
                           : LmDataset(tokenizer_.encode(read_text(path)), path);
    int64_t T = config_.model.block_size, windows = (stream.size() - 1) / T;
    QKV_CHECK(windows > 0, "eval: ", path, " holds ", stream.size(), " tokens, fewer than one block of ", T + 1);
    Rng rng(config_.train.seed, kMlmEvalStream);
    double total = 0.0;
    int64_t right = 0, masked = 0;
    for (int64_t w = 0; w < windows; ++w) {
      const std::vector<int32_t> window = stream.tokens(w * T, T + 1);
      Ids x(std::vector<int32_t>(window.begin(), window.end() - 1), {1, T});
      Ids y(std::vector<int32_t>(window.begin() + 1, window.end()), {1, T});
      if (!mlm()) {
        total += run(x, y).loss.item();
        continue;
      }
      MlmBatch b = mask_tokens(x, *mlm_vocab_, rng);
      ModelOutput o = run(b.inputs, b.targets);
      total += o.loss.item();
      int64_t V = o.logits.size(-1);
      for (int64_t t = 0; t < T; ++t) {  // accuracy over the predicted (masked) positions
        if (b.targets.data[t] == kIgnoreIndex) continue;
        const float* row = o.logits.data() + t * V;
        right += std::max_element(row, row + V) - row == b.targets.data[t];
        ++masked;
      }
    }
    FileScore r;
    r.loss = total / static_cast<double>(windows);
    r.perplexity = std::exp(r.loss);
    r.tokens = windows * T;
    r.masked = masked;
    if (masked > 0) r.accuracy = static_cast<double>(right) / static_cast<double>(masked);
    return r;
  }

  std::string show(uint64_t seed) override {
    if (mlm()) return "";
    SampleOptions o;
    o.max_new_tokens = 120;
    o.seed = seed;
    std::vector<int32_t> start{0};  // a newline when the vocabulary has one, else the first token
    try {
      start = tokenizer_.encode("\n");
    } catch (const Error&) {
    }
    std::vector<int32_t> out = generate(model_.gpt(), start, o);
    return tokenizer_.decode(out);
  }

 private:
  struct Drawn {
    Ids inputs, targets;
  };

  bool mlm() const { return config_.data.task == Task::Mlm; }  // an Encoder; else a GPT

  // B windows, masked for MLM (which uses the T input tokens of each window).
  Drawn draw(const LmDataset& set, int64_t B, Rng& rng) {
    LmBatch b = set.batch(B, config_.model.block_size, rng);
    if (!mlm()) return {std::move(b.inputs), std::move(b.targets)};
    MlmBatch m = mask_tokens(b.inputs, *mlm_vocab_, rng);
    return {std::move(m.inputs), std::move(m.targets)};
  }

  // The forward pass of either model: a GPT predicts every next token, an Encoder the masked ones.
  ModelOutput run(const Ids& inputs, const Ids& targets) {
    return mlm() ? model_.encoder().mlm(inputs, nullptr, &targets) : model_.gpt().forward(inputs, &targets);
  }

  MicroBatch forward(const Ids& inputs, const Ids& targets) {
    int64_t counted = std::count_if(targets.data.begin(), targets.data.end(), [](int32_t t) { return t >= 0; });
    if (inputs.numel() == 0) return {Tensor(), 0, 0, Tensor(), {}};
    ModelOutput out = run(inputs, targets);
    return {out.loss, counted, inputs.numel(), out.logits, {{"inputs", inputs}, {"targets", targets}}};
  }

  std::optional<LmSplit> split_;
  std::optional<MlmVocab> mlm_vocab_;
};

// The LM streams of a config: text files tokenized in memory, token files (NOTE [token files]) memory-mapped.
struct LmData {
  Tokenizer tokenizer;
  LmSplit split;
  std::string note;  // how token files are read, for the start-up lines
};

LmData read_lm_data(const DataConfig& d, std::optional<Tokenizer> given) {
  const bool train_tokens = is_token_path(d.train), val_tokens = !d.val.empty() && is_token_path(d.val);
  std::string text;
  if (!train_tokens) text = read_data_file("data.train", d.train);
  // Token files hold ids, not text to train a tokenizer on: they need the tokenizer they were made with.
  QKV_CHECK(given || !train_tokens || !d.tokenizer.path.empty(), "data.train: ", d.train,
            " holds token ids: give the tokenizer file they were prepared with as data.tokenizer");
  const bool from_file = !given && !d.tokenizer.path.empty();
  Tokenizer tokenizer = given ? std::move(*given) : task_tokenizer(d, {text});
  std::string note;
  auto mapped = [&](const char* key, const std::string& path) {
    auto corpus = open_token_data(key, path, tokenizer, d.task, from_file ? d.tokenizer.path : "");
    note += std::string(note.empty() ? "" : "; ") + key + " " + describe(*corpus);
    return std::shared_ptr<const TokenSource>(std::move(corpus));
  };
  auto encoded = [&](const std::string& t) {
    return std::shared_ptr<const TokenSource>(std::make_shared<InMemoryTokens>(tokenizer.encode(t)));
  };
  std::shared_ptr<const TokenSource> train = train_tokens ? mapped("data.train", d.train) : encoded(text), val;
  if (!d.val.empty()) val = val_tokens ? mapped("data.val", d.val) : encoded(read_data_file("data.val", d.val));
  LmSplit split = split_lm(std::move(train), d.train, d.val_fraction, std::move(val), d.val.empty() ? d.train : d.val);
  return {std::move(tokenizer), std::move(split), note};
}

}  // namespace

std::unique_ptr<TrainTask> make_lm_task(Config& config, TaskStart start) {
  if (start.from_checkpoint())
    return std::make_unique<LmTask>(config, std::move(*start.tokenizer), std::move(*start.model), std::nullopt);
  const DataConfig& d = config.data;
  LmData data = read_lm_data(d, std::move(start.tokenizer));
  LmSplit& split = data.split;
  // Every split must hold a window now: found at the first evaluation, it would end a run after many steps.
  const int64_t T = config.model.block_size;
  for (const LmDataset* s : {&split.train, &split.val})
    QKV_CHECK(s->size() >= T + 1, s->name(), ": ", s->size(),
              " tokens, shorter than one window of block_size + 1 = ", T + 1,
              " (lower model.block_size, or give more text)");
  config.model = resolve_model_config(config, data.tokenizer);
  if (start.before_model) start.before_model(config);
  long long n_train = split.train.size(), n_val = split.val.size();
  auto task = std::make_unique<LmTask>(config, std::move(data.tokenizer), build_model(config.model), std::move(split));
  std::printf("data: %s: %lld train tokens, %lld val tokens, vocabulary %d (%s)\n", d.train.c_str(), n_train, n_val,
              task->tokenizer().size(), name(task->tokenizer().kind()));
  if (!data.note.empty()) std::printf("data: %s\n", data.note.c_str());
  return task;
}

}  // namespace qkv
