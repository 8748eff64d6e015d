// From a config to a model, and from a checkpoint back to the config, tokenizer and weights.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "train/any_model.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace qkv {

// The special tokens a task needs (docs/DESIGN.md): lm none; mlm PAD, MASK, CLS; classify PAD, CLS; seq2seq
// PAD, BOS, EOS.
std::vector<std::string> task_specials(Task task);

// Fills what the data decides: vocab_size (0 means the tokenizer's; a positive value must match it),
// pad_id, and n_classes (0 means the number of labels, when there are labels).
ModelConfig resolve_model_config(const Config& config, const Tokenizer& tokenizer, int64_t n_labels = 0);

// The config a checkpoint stores, as it was resolved; `labels` (when given) receives the classifier's label names.
Config checkpoint_config(const Checkpoint& raw, const std::string& path, std::vector<std::string>* labels = nullptr);
// The tokenizer a checkpoint stores; `path` names it in error messages.
Tokenizer checkpoint_tokenizer(const Checkpoint& raw, const std::string& path);

// Everything a command needs from a checkpoint. The model is in eval mode.
struct LoadedCheckpoint {
  Config config;
  std::optional<Tokenizer> tokenizer;
  AnyModel model;
  Checkpoint raw;
  std::vector<std::string> labels;  // classification label names (from the config's stored extras)
};
LoadedCheckpoint load_model(const std::string& path);
// As load_model, for a command that needs one kind: another kind is a qkv::Error naming both.
LoadedCheckpoint load_model(const std::string& path, ModelKind expected, const char* command);

// The checkpoint of a model at a given state; the config is stored resolved, with the label names.
Checkpoint make_checkpoint(const Config& config, const Tokenizer& tokenizer, const AnyModel& model,
                           const std::vector<std::string>& labels);

}  // namespace qkv
