#include "train/model_io.h"

#include "core/archive.h"
#include "core/error.h"

namespace qkv {

std::vector<std::string> task_specials(Task task) {
  switch (task) {
    case Task::Lm:
      return {};
    case Task::Mlm:
      return {"PAD", "MASK", "CLS", "UNK"};  // UNK: text fine-tuned on later may hold unseen characters
    case Task::Classify:
      return {"PAD", "CLS"};
    case Task::Seq2Seq:
      return {"PAD", "BOS", "EOS"};
  }
  return {};
}

ModelConfig resolve_model_config(const Config& config, const Tokenizer& tokenizer, int64_t n_labels) {
  ModelConfig m = config.model;
  QKV_CHECK(m.vocab_size == 0 || m.vocab_size == tokenizer.size(), "config: model.vocab_size ", m.vocab_size,
            " does not match the tokenizer's ", tokenizer.size(), " tokens (0 means the tokenizer's size)");
  m.vocab_size = tokenizer.size();
  m.pad_id = tokenizer.special("PAD");
  if (config.data.task == Task::Classify) {
    if (m.n_classes == 0) m.n_classes = n_labels;
    QKV_CHECK(n_labels == 0 || m.n_classes == n_labels, "config: model.n_classes ", m.n_classes, " but the data has ",
              n_labels, " labels");
  }
  m.validate();
  return m;
}

Checkpoint make_checkpoint(const Config& config, const Tokenizer& tokenizer, const AnyModel& model,
                           const std::vector<std::string>& labels) {
  Checkpoint c;
  nlohmann::json j = to_json(config);
  j["labels"] = labels;  // not a config key: removed again on load
  c.config_json = j.dump(2);
  ArchiveWriter w;
  tokenizer.write(w);
  c.tokenizer = w.bytes();
  c.params = model.module().named_parameters();
  return c;
}

Config checkpoint_config(const Checkpoint& raw, const std::string& path, std::vector<std::string>* labels) {
  nlohmann::json j = nlohmann::json::parse(raw.config_json, nullptr, false);
  QKV_CHECK(j.is_object(), path, ": the stored config is not valid JSON");
  if (j.contains("labels")) {
    QKV_CHECK(j["labels"].is_array(), path, ": the stored labels are not a list");
    for (const auto& l : j["labels"]) {
      QKV_CHECK(l.is_string(), path, ": a stored label is not a string");
      if (labels) labels->push_back(l.get<std::string>());
    }
    j.erase("labels");
  }
  return parse_config(j);
}

Tokenizer checkpoint_tokenizer(const Checkpoint& raw, const std::string& path) {
  ArchiveReader r(raw.tokenizer, path + " (tokenizer)");
  return Tokenizer::read(r);
}

LoadedCheckpoint load_model(const std::string& path) {
  Checkpoint raw = load_checkpoint(path);
  std::vector<std::string> labels;
  Config config = checkpoint_config(raw, path, &labels);
  Tokenizer tokenizer = checkpoint_tokenizer(raw, path);
  config.model = resolve_model_config(config, tokenizer, static_cast<int64_t>(labels.size()));
  AnyModel model = build_model(config.model);
  load_parameters(model.module(), raw.params);
  model.module().eval();
  return {std::move(config), std::move(tokenizer), std::move(model), std::move(raw), std::move(labels)};
}

LoadedCheckpoint load_model(const std::string& path, ModelKind expected, const char* command) {
  LoadedCheckpoint c = load_model(path);
  QKV_CHECK(c.config.model.kind == expected, command, ": ", path, " holds a ", name(c.config.model.kind),
            " model, expected ", name(expected));
  return c;
}

}  // namespace qkv
