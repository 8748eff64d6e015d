// A training task: the data of one data.task, the tokenizer, the model, and how a batch becomes a loss.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "train/config.h"
#include "train/model_io.h"

namespace qkv {

struct MicroBatch {
  Tensor loss;                                     // rank 0, the mean over the batch's counted tokens (or examples)
  int64_t tokens;                                  // tokens the batch holds, for tokens/s
  Tensor logits;                                   // what the model predicted
  std::vector<std::pair<std::string, Ids>> batch;  // the batch's named inputs, targets and masks (for `qkv step`)
};

struct EvalResult {
  double loss = NAN;
  double accuracy = NAN;  // classification
  double bleu = NAN;      // seq2seq (val only)
};

// NOTE [batch keys]: every batch is drawn from an RNG keyed by (seed, purpose, index): training micro-batch i
// from index i, evaluation batches from the step. No batch stream carries state, so a resumed run draws
// exactly the batches the uninterrupted one would, and evaluation never disturbs training.
Rng batch_rng(uint64_t seed, uint64_t purpose, uint64_t index);
constexpr uint64_t kTrainBatches = 1, kEvalTrainBatches = 2, kEvalValBatches = 3;

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  // Training micro-batch number `index` (counted over the whole run) of B examples.
  virtual MicroBatch train_batch(int64_t B, uint64_t index) = 0;
  // The mean loss over `batches` batches of the train or val split drawn with `rng`; on val also the
  // task's metric (accuracy, BLEU).
  virtual EvalResult evaluate(bool val, int64_t B, int64_t batches, Rng& rng) = 0;
  // A line or two showing what the model does now (a GPT sample, a translation); empty if none.
  virtual std::string show(uint64_t seed) = 0;

  const Config& config() const { return config_; }  // with the model config resolved from the data
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  AnyModel& model() { return model_; }
  const std::vector<std::string>& labels() const { return labels_; }

 protected:
  Config config_;
  std::optional<Tokenizer> tokenizer_;
  AnyModel model_;
  std::vector<std::string> labels_;
};

// Reads the data the config names and builds the tokenizer (trained on the training data unless one is
// given, as on resume) and an uninitialised model. Messages go to stdout (sizes, dropped examples).
std::unique_ptr<TrainTask> make_task(const Config& config, std::optional<Tokenizer> tokenizer = std::nullopt,
                                     std::vector<std::string> labels = {});

// Trains the tokenizer data.tokenizer names on these texts, with the task's special tokens. Texts are
// joined by a newline for BPE (a pre-token boundary, so no merge spans two texts) and by nothing for char
// (so the vocabulary is exactly the texts' characters).
Tokenizer train_tokenizer(const DataConfig& data, const std::vector<std::string_view>& texts);

// Splits TSV text into train and val lines: every k-th line goes to val so that ordered files (the
// dictionary's alphabetical pairs) give a val set drawn from all of them. fraction 0.1 -> every 10th line.
std::pair<std::string, std::string> split_lines(const std::string& text, double fraction);

// The train and val TSV text of a config: data.val when given, else split_lines of data.train.
std::pair<std::string, std::string> read_tsv_splits(const DataConfig& data);

}  // namespace qkv
