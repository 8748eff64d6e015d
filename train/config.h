// Config: the four sections of an experiment (model, data, optim, train), parsed from JSON with every key
// checked, overridable by --set a.b=value, and printed back resolved.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "core/precision.h"
#include "data/tokenizer.h"
#include "nn/config.h"
#include "train/optim.h"

namespace qkv {

enum class Task { Lm, Mlm, Classify, Seq2Seq };
inline constexpr EnumName<Task> kTasks[] = {
    {Task::Lm, "lm"}, {Task::Mlm, "mlm"}, {Task::Classify, "classify"}, {Task::Seq2Seq, "seq2seq"}};

// data.tokenizer, parsed once: "char" or "bpe" (trained on the training data), or else the path of a .tok
// file (`qkv tokenizer train` or `import`), loaded when the task is built.
struct TokenizerChoice {
  TokenizerKind kind = TokenizerKind::Char;  // the kind to train; unused with a path
  std::string path;                          // empty: train one
};

struct DataConfig {
  Task task = Task::Lm;
  std::string train = "data/austen.txt";
  std::string val;  // empty: the last val_fraction of train (LM) or of its lines (TSV)
  TokenizerChoice tokenizer;
  int64_t vocab_size = 0;  // BPE target size
  float val_fraction = 0.1f;
  int64_t max_len = 0;  // 0 means block_size
};

struct TrainConfig {
  int64_t batch_size = 12, grad_accum = 1, global_batch = 0, max_steps = 2000;
  int64_t eval_interval = 250, eval_steps = 20, log_interval = 10, ckpt_interval = 250;
  std::string out_dir = "out/gpt-baby";
  uint64_t seed = 1337;
  int64_t threads = 0;        // 0: all cores, shared by the ranks of an MPI job on one machine
  double comm_timeout = 600;  // seconds a rank waits for the others before it ends the job
  std::string init_from;
  bool skip_nonfinite = false;
  Precision precision = Precision::fp32;  // of the matrix products (core/precision.h)
};

struct Config {
  ModelConfig model;
  DataConfig data;
  OptimConfig optim;
  TrainConfig train;
  std::set<std::string> given;  // the keys the JSON set ("model.n_layer"); not itself a key
};

// Parses a config object. Every key has a default; an unknown key (with the closest valid one), a wrong type
// or an out-of-range value is a qkv::Error naming the key.
Config parse_config(const nlohmann::json& j);
nlohmann::json to_json(const Config& c);  // every key, resolved

// Applies "a.b=value" to j: the value is read as JSON when it parses (numbers, true, "text"), else as a string.
void apply_override(nlohmann::json& j, const std::string& assignment);

// Reads a JSON file (syntax errors name the line and column), applies the overrides, parses.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// NOTE [init_from architecture]: a run with train.init_from takes the model's shape from that checkpoint, as
// nanoGPT's init_from='gpt2' does: each key of kArchitectureKeys the config does not set is the checkpoint's.
// Keys the config sets stay, and parameters whose shapes then differ keep their initialisation (a new head,
// say). model.dropout, n_classes and pooling are the run's own. A smaller block_size than the checkpoint's
// learned positions keeps their first rows (nanoGPT's crop_block_size).
extern const char* const kArchitectureKeys[12];
Config with_architecture_of(const Config& config, const Config& from);

// Range checks that do not need the data (model sizes are checked once the vocabulary is known).
void validate(const Config& c);

inline const char* name(Task task) { return enum_name(kTasks, task); }

}  // namespace qkv
