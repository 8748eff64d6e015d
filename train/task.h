// A training task: the data of one data.task, the tokenizer, the model, and how a batch becomes a loss.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "train/bleu.h"
#include "train/config.h"
#include "train/model_io.h"
#include "train/rng_streams.h"

namespace qkv {

struct MicroBatch {
  Tensor loss;                                     // rank 0, the mean over the batch's counted tokens (or examples)
  int64_t counted = 0;                             // the tokens (or examples) that mean is over; 0: empty slice
  int64_t tokens = 0;                              // tokens the batch holds, for tokens/s
  Tensor logits;                                   // what the model predicted
  std::vector<std::pair<std::string, Ids>> batch;  // the batch's named inputs, targets and masks (for `qkv step`)
};

struct EvalResult {
  double loss = NAN;
  double accuracy = NAN;  // classification
  double bleu = NAN;      // seq2seq (val only)
};

// An evaluation's share of one rank, as sums that add up over the ranks (the trainer reduces them).
struct EvalSums {
  // The sum of batch mean losses, each weighted by its rows / B (1 for a full batch), and the sum of the weights.
  double loss = 0.0, batches = 0.0;
  double right = 0.0, seen = 0.0;  // classification
  bool has_bleu = false;           // seq2seq val
  BleuStats bleu;
  EvalResult result() const;
};

// NOTE [batch keys]: every batch is drawn from an RNG keyed by (seed, purpose, index): the global batch of
// training step s from index s - 1, evaluation batches from the step. No batch stream carries state, so a
// resumed run draws exactly the batches the uninterrupted one would, and evaluation never disturbs training.
// Each micro-batch of each rank takes its own rows of the step's global batch, so the data of a step does
// not depend on how many ranks share it.
// The purposes are in train/rng_streams.h.
Rng batch_rng(uint64_t seed, uint64_t purpose, uint64_t index);

struct BatchSlice {
  int64_t global = 0;  // examples in the step's global batch (every rank and micro-batch)
  uint64_t key = 0;    // the global batch's index: step - 1
  int64_t begin = 0;   // the first row this micro-batch takes
  int64_t size = 0;    // rows it takes (fewer, or none, where a seq2seq epoch's last batch is short)
};

// Evaluation batch i belongs to rank i % ranks; every rank draws every batch, so the RNG stays in step.
struct Shard {
  int rank = 0, ranks = 1;
  bool mine(int64_t i) const { return i % ranks == rank; }
};

// Rows [begin, begin + count) of a [rows, ...] batch.
Ids slice_rows(const Ids& ids, int64_t begin, int64_t count);

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  // The loss of one slice of a step's global batch.
  virtual MicroBatch train_batch(const BatchSlice& slice) = 0;
  // This rank's share of `batches` batches of the train or val split drawn with `rng`: their losses and, on
  // val, the task's metric (accuracy, BLEU).
  virtual EvalSums evaluate(bool val, int64_t B, int64_t batches, Rng& rng, Shard shard) = 0;
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
