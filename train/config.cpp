// The config's keys are one table of fields, so parsing, printing and error messages cannot disagree.
#include "train/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

#include "core/archive.h"
#include "core/error.h"
#include "core/spelling.h"
#include "train/model_io.h"

namespace qkv {
namespace {

using nlohmann::json;

struct Field {
  std::string key;                       // "model.n_layer"
  std::function<void(const json&)> set;  // throws naming the key on a wrong type
  std::function<json()> get;
};

std::string type_name(const json& v) { return v.type_name(); }

// The shortest decimal that reads back as the same float: 0.9f prints as 0.9, not 0.8999999761581421.
double as_written(float v) {
  char buf[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return std::strtod(buf, nullptr);
}

template <class T>
Field number(const std::string& key, T& ref) {
  return {key,
          [&ref, key](const json& v) {
            if constexpr (std::is_floating_point_v<T>) {
              QKV_CHECK(v.is_number(), "config: ", key, " must be a number, got ", type_name(v), " ", v.dump());
              ref = v.get<T>();
            } else {
              QKV_CHECK(v.is_number_integer(), "config: ", key, " must be an integer, got ", type_name(v), " ",
                        v.dump());
              QKV_CHECK(std::is_signed_v<T> || v.get<int64_t>() >= 0, "config: ", key, " must not be negative");
              ref = v.get<T>();
            }
          },
          [&ref] {
            if constexpr (std::is_same_v<T, float>)
              return std::isfinite(ref) ? json(as_written(ref)) : json(ref);
            else
              return json(ref);
          }};
}

Field boolean(const std::string& key, bool& ref) {
  return {key,
          [&ref, key](const json& v) {
            QKV_CHECK(v.is_boolean(), "config: ", key, " must be true or false, got ", v.dump());
            ref = v.get<bool>();
          },
          [&ref] { return json(ref); }};
}

Field text(const std::string& key, std::string& ref) {
  return {key,
          [&ref, key](const json& v) {
            QKV_CHECK(v.is_string(), "config: ", key, " must be a string, got ", type_name(v), " ", v.dump());
            ref = v.get<std::string>();
          },
          [&ref] { return json(ref); }};
}

// A key whose value is one name of an enum's table (core/enum_names.h).
template <class E, size_t N>
Field choice(const std::string& key, E& ref, const EnumName<E> (&names)[N]) {
  return {key,
          [&ref, key, &names](const json& v) {
            std::optional<E> e = v.is_string() ? parse_enum(names, v.get<std::string>()) : std::nullopt;
            QKV_CHECK(e.has_value(), "config: ", key, " must be one of ", enum_names(names), ", got ", v.dump());
            ref = *e;
          },
          [&ref, &names] { return json(enum_name(names, ref)); }};
}

// data.tokenizer: a kind's name, or any other string as the path of a tokenizer file.
Field tokenizer_choice(const std::string& key, TokenizerChoice& ref) {
  return {key,
          [&ref, key](const json& v) {
            QKV_CHECK(v.is_string(), "config: ", key, " must be a string, got ", type_name(v), " ", v.dump());
            std::optional<TokenizerKind> kind = parse_enum(kTokenizerKinds, v.get<std::string>());
            ref = kind ? TokenizerChoice{*kind, ""} : TokenizerChoice{TokenizerKind::Char, v.get<std::string>()};
          },
          [&ref] { return json(ref.path.empty() ? name(ref.kind) : ref.path); }};
}

std::vector<Field> fields(Config& c) {
  ModelConfig& m = c.model;
  DataConfig& d = c.data;
  OptimConfig& o = c.optim;
  TrainConfig& t = c.train;
  return {
      choice("model.kind", m.kind, kModelKinds),
      number("model.n_layer", m.n_layer),
      number("model.n_head", m.n_head),
      number("model.d_model", m.d_model),
      number("model.d_ff", m.d_ff),
      number("model.block_size", m.block_size),
      number("model.vocab_size", m.vocab_size),
      number("model.dropout", m.dropout),
      boolean("model.bias", m.bias),
      choice("model.norm", m.norm, kNorms),
      choice("model.positions", m.positions, kPositions),
      choice("model.activation", m.activation, kActivations),
      choice("model.attention", m.attention, kAttentionKinds),
      number("model.window", m.window),
      number("model.n_classes", m.n_classes),
      choice("model.pooling", m.pooling, kPoolings),
      choice("data.task", d.task, kTasks),
      text("data.train", d.train),
      text("data.val", d.val),
      tokenizer_choice("data.tokenizer", d.tokenizer),
      number("data.vocab_size", d.vocab_size),
      number("data.val_fraction", d.val_fraction),
      number("data.max_len", d.max_len),
      choice("optim.name", o.name, kOptimizerKinds),
      number("optim.lr", o.lr),
      number("optim.min_lr", o.min_lr),
      number("optim.beta1", o.beta1),
      number("optim.beta2", o.beta2),
      number("optim.eps", o.eps),
      number("optim.momentum", o.momentum),
      number("optim.weight_decay", o.weight_decay),
      number("optim.grad_clip", o.grad_clip),
      choice("optim.schedule", o.schedule, kSchedules),
      number("optim.warmup_steps", o.warmup_steps),
      number("optim.decay_steps", o.decay_steps),
      number("optim.label_smoothing", o.label_smoothing),
      number("train.batch_size", t.batch_size),
      number("train.grad_accum", t.grad_accum),
      number("train.global_batch", t.global_batch),
      number("train.max_steps", t.max_steps),
      number("train.eval_interval", t.eval_interval),
      number("train.eval_steps", t.eval_steps),
      number("train.log_interval", t.log_interval),
      number("train.ckpt_interval", t.ckpt_interval),
      text("train.out_dir", t.out_dir),
      number("train.seed", t.seed),
      number("train.threads", t.threads),
      number("train.comm_timeout", t.comm_timeout),
      text("train.init_from", t.init_from),
      boolean("train.skip_nonfinite", t.skip_nonfinite),
      choice("train.precision", t.precision, kPrecisions),
  };
}

// "config: unknown key model.n_layers (did you mean model.n_layer?)"
[[noreturn]] void unknown_key(const std::string& key, std::vector<Field>& all) {
  std::vector<std::string> keys;
  for (const Field& f : all) keys.push_back(f.key);
  QKV_FAIL("config: unknown key ", key, " (did you mean ", closest(key, keys), "?)");
}

Field* find(std::vector<Field>& all, const std::string& key) {
  for (Field& f : all)
    if (f.key == key) return &f;
  return nullptr;
}

}  // namespace

Config parse_config(const json& j) {
  Config c;
  std::vector<Field> all = fields(c);
  QKV_CHECK(j.is_object(), "config: expected a JSON object with sections model, data, optim, train");
  for (auto& [section, body] : j.items()) {
    if (section != "model" && section != "data" && section != "optim" && section != "train") unknown_key(section, all);
    QKV_CHECK(body.is_object(), "config: section ", section, " must be an object, got ", body.type_name());
    for (auto& [key, value] : body.items()) {
      Field* f = find(all, section + "." + key);
      if (!f) unknown_key(section + "." + key, all);
      f->set(value);
      c.given.insert(section + "." + key);
    }
  }
  validate(c);
  return c;
}

const char* const kArchitectureKeys[12] = {"model.kind",      "model.n_layer",    "model.n_head",    "model.d_model",
                                           "model.d_ff",      "model.block_size", "model.bias",      "model.norm",
                                           "model.positions", "model.activation", "model.attention", "model.window"};

Config with_architecture_of(const Config& config, const Config& from) {
  json j = to_json(config);
  const json theirs = to_json(from);
  for (const char* key : kArchitectureKeys)
    if (!config.given.count(key)) j["model"][std::string(key).substr(6)] = theirs["model"][std::string(key).substr(6)];
  Config out = parse_config(j);
  out.given = config.given;
  return out;
}

json to_json(const Config& c) {
  Config copy = c;
  json j = json::object();
  for (const Field& f : fields(copy)) {
    size_t dot = f.key.find('.');
    j[f.key.substr(0, dot)][f.key.substr(dot + 1)] = f.get();
  }
  return j;
}

void apply_override(json& j, const std::string& assignment) {
  size_t eq = assignment.find('=');
  QKV_CHECK(eq != std::string::npos && eq > 0, "--set: expected key.path=value, got '", assignment, "'");
  std::string key = assignment.substr(0, eq), raw = assignment.substr(eq + 1);
  Config probe;
  std::vector<Field> all = fields(probe);
  if (!find(all, key)) unknown_key(key, all);
  json value = json::parse(raw, nullptr, false);
  if (value.is_discarded()) value = raw;  // a bare word is a string
  size_t dot = key.find('.');
  j[key.substr(0, dot)][key.substr(dot + 1)] = value;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::string text = read_file(path);
  // The files qkv writes start with their magic; one of them given as a config is a slip worth naming.
  QKV_CHECK(text.rfind("QKVCKPT", 0) != 0, path,
            " is a qkv checkpoint, not a JSON config (to continue its run: ", "qkv train --resume ", path, ")");
  QKV_CHECK(text.rfind("QKVTOK", 0) != 0, path, " is a qkv tokenizer file, not a JSON config");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's message already names the line and column; drop its "[json.exception...] " tag.
    std::string what = e.what();
    QKV_FAIL(path, ": invalid JSON: ", what.substr(what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2));
  }
  for (const std::string& o : overrides) apply_override(j, o);
  return parse_config(j);
}

void validate(const Config& c) {
  const TrainConfig& t = c.train;
  QKV_CHECK(t.batch_size > 0, "config: train.batch_size must be positive, got ", t.batch_size);
  QKV_CHECK(t.grad_accum > 0, "config: train.grad_accum must be positive, got ", t.grad_accum);
  QKV_CHECK(t.global_batch >= 0, "config: train.global_batch must be 0 or positive, got ", t.global_batch);
  QKV_CHECK(t.max_steps > 0, "config: train.max_steps must be positive, got ", t.max_steps);
  QKV_CHECK(t.eval_interval > 0, "config: train.eval_interval must be positive, got ", t.eval_interval);
  QKV_CHECK(t.eval_steps > 0, "config: train.eval_steps must be positive, got ", t.eval_steps);
  QKV_CHECK(t.log_interval > 0, "config: train.log_interval must be positive, got ", t.log_interval);
  QKV_CHECK(t.ckpt_interval > 0, "config: train.ckpt_interval must be positive, got ", t.ckpt_interval);
  QKV_CHECK(t.comm_timeout > 0, "config: train.comm_timeout must be positive seconds, got ", t.comm_timeout);
  QKV_CHECK(t.threads >= 0, "config: train.threads must be 0 (all cores) or positive, got ", t.threads);
  QKV_CHECK(!t.out_dir.empty(), "config: train.out_dir must not be empty");
  const DataConfig& d = c.data;
  if (d.tokenizer.kind == TokenizerKind::Bpe && d.tokenizer.path.empty()) {
    // One rule with `qkv tokenizer train`: a byte-level vocabulary holds the 256 bytes, then the merges, then
    // the task's special tokens, so it needs room for the bytes and the specials at least.
    std::vector<std::string> specials = task_specials(d.task);
    std::string names;
    for (const std::string& n : specials) names += (names.empty() ? "" : ", ") + n;
    const int64_t least = 256 + static_cast<int64_t>(specials.size());
    QKV_CHECK(d.vocab_size >= least && d.vocab_size <= int64_t{1} << 20, "config: data.vocab_size must be in [", least,
              ", 1048576] for a BPE tokenizer (the 256 byte tokens",
              specials.empty() ? std::string(", then merges")
                               : std::string(" and ") + name(d.task) + "'s special tokens " + names,
              "), got ", d.vocab_size);
  }
  QKV_CHECK(d.val_fraction >= 0.0f && d.val_fraction < 1.0f, "config: data.val_fraction must be in [0, 1), got ",
            d.val_fraction);
  QKV_CHECK(d.max_len >= 0, "config: data.max_len must be 0 or positive, got ", d.max_len);
  QKV_CHECK(!d.train.empty(), "config: data.train must name a file");
  const ModelConfig& m = c.model;
  bool matches = (m.kind == ModelKind::Gpt && d.task == Task::Lm) ||
                 (m.kind == ModelKind::Encoder && (d.task == Task::Mlm || d.task == Task::Classify)) ||
                 (m.kind == ModelKind::Seq2Seq && d.task == Task::Seq2Seq);
  QKV_CHECK(matches, "config: data.task ", name(d.task), " does not fit model.kind ", name(m.kind),
            " (gpt: lm; encoder: mlm or classify; seq2seq: seq2seq)");
  c.optim.validate();
}

}  // namespace qkv
