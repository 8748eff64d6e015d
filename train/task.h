// A training task: the data of one data.task, the tokenizer, the model, and how a batch (or a file) becomes a loss.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
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

// A model's score on a whole file (`qkv eval`); what the task does not measure stays NaN or 0.
struct FileScore {
  double loss = NAN;        // the mean over windows (LM, MLM), examples (classify) or pairs (seq2seq)
  double perplexity = NAN;  // LM, MLM
  double accuracy = NAN;    // classify; MLM over its masked tokens
  double bleu = NAN;        // seq2seq, greedy
  int64_t masked = 0;       // MLM: the tokens masked and predicted
  int64_t tokens = 0;       // LM, MLM: the tokens scored
  int64_t examples = 0;     // classify examples, seq2seq pairs
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
  // The model scored on all of a file: text (LM, MLM: consecutive block_size windows, MLM masked from the
  // seed's stream 77; token files ending in .bin are memory-mapped) or TSV (classify: label<TAB>text; seq2seq:
  // source<TAB>target, with greedy BLEU).
  virtual FileScore evaluate_file(const std::string& path) = 0;
  // A line or two showing what the model does now (a GPT sample, a translation); empty if none.
  virtual std::string show(uint64_t seed) = 0;

  const Config& config() const { return config_; }  // with the model config resolved from the data
  const Tokenizer& tokenizer() const { return tokenizer_; }
  AnyModel& model() { return model_; }
  const std::vector<std::string>& labels() const { return labels_; }

 protected:
  TrainTask(Config config, Tokenizer tokenizer, std::vector<std::string> labels, AnyModel model)
      : config_(std::move(config)),
        tokenizer_(std::move(tokenizer)),
        labels_(std::move(labels)),
        model_(std::move(model)) {}

  // The task's data; a task made by make_eval_task read none, and asking for it is a qkv::Error.
  template <class T>
  static T& data(std::optional<T>& d) {
    QKV_CHECK(d.has_value(), "task: built from a checkpoint for evaluation only, it holds no training data");
    return *d;
  }

  Config config_;
  Tokenizer tokenizer_;
  std::vector<std::string> labels_;
  AnyModel model_;
};

// What a task starts from besides its config.
struct TaskStart {
  std::optional<Tokenizer> tokenizer;  // none: trained on the training data
  std::vector<std::string> labels;     // classification label names in id order; empty: those of the data
  // A checkpoint's model (with its tokenizer and resolved config): the task reads no data and serves
  // evaluate_file and show only.
  std::optional<AnyModel> model;
  // Called with the config once its model is resolved from the data, before the model is built: where a run
  // refuses a model that cannot fit in memory.
  std::function<void(const Config&)> before_model;

  bool from_checkpoint() const {
    QKV_CHECK(!model || tokenizer, "task: a checkpoint's model comes with its tokenizer");
    return model.has_value();
  }
};

// The task of config.data.task, one factory per kind. Without a model in `start` a factory reads the data
// config.data names, builds the tokenizer (trained on the training data unless one is given, as on resume),
// resolves config.model from them (vocab_size, pad_id, n_classes) and only then builds the task around an
// uninitialised model. Messages go to stdout (sizes, dropped examples). make_task (for training) picks the
// factory by the task.
std::unique_ptr<TrainTask> make_lm_task(Config& config, TaskStart start);  // lm and mlm
std::unique_ptr<TrainTask> make_classify_task(Config& config, TaskStart start);
std::unique_ptr<TrainTask> make_seq2seq_task(Config& config, TaskStart start);
std::unique_ptr<TrainTask> make_task(Config& config, std::optional<Tokenizer> tokenizer = std::nullopt,
                                     std::vector<std::string> labels = {},
                                     std::function<void(const Config&)> before_model = {});

// The task of a checkpoint around its model, for evaluate_file and show: reads no data, so a checkpoint is
// evaluated without the training corpus its config names.
std::unique_ptr<TrainTask> make_eval_task(const LoadedCheckpoint& checkpoint);

// The tokenizer data.tokenizer names, with the task's special tokens. A kind is trained on these texts, joined
// by a newline for BPE (a pre-token boundary, so no merge spans two texts) and by nothing for char (so the
// vocabulary is exactly the texts' characters); a file is loaded, and the specials it lacks are appended as
// new ids after its own (NOTE [file tokenizer specials]).
Tokenizer task_tokenizer(const DataConfig& data, const std::vector<std::string_view>& texts);

// Splits TSV text into train and val lines: every k-th line goes to val so that ordered files (the
// dictionary's alphabetical pairs) give a val set drawn from all of them. fraction 0.1 -> every 10th line.
std::pair<std::string, std::string> split_lines(const std::string& text, double fraction);

// The text of a data file a config key names; errors name the key ("data.train: x.txt: no such file").
std::string read_data_file(const char* key, const std::string& path);

// The train and val TSV text of a config: data.val when given, else split_lines of data.train.
std::pair<std::string, std::string> read_tsv_splits(const DataConfig& data);

}  // namespace qkv
