#include "train/formats/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/formats/bpe_vocab_files.h"

namespace qkv {

namespace {

std::string type_of(const nlohmann::json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "untyped";
}

// The value of a key when it is there and not null.
const nlohmann::json* field(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return nullptr;
  return &j[key];
}

bool is_false(const nlohmann::json& j, const char* key) {
  const nlohmann::json* v = field(j, key);
  return v == nullptr || (v->is_boolean() && !v->get<bool>());
}

void check_byte_level(const nlohmann::json& p, bool with_regex, const std::string& path) {
  QKV_CHECK(is_false(p, "add_prefix_space"), path,
            ": the ByteLevel pre-tokenizer adds a prefix space, which GPT-2's does not");
  const nlohmann::json* regex = field(p, "use_regex");
  const bool uses = regex == nullptr || (regex->is_boolean() && regex->get<bool>());
  QKV_CHECK(uses == with_regex, path, ": a ByteLevel pre-tokenizer ", uses ? "with" : "without",
            " its regex here is not GPT-2's split");
}

void check_pattern(const nlohmann::json& split, const std::string& path) {
  const nlohmann::json* pattern = field(split, "pattern");
  const nlohmann::json* regex = pattern ? field(*pattern, "Regex") : nullptr;
  QKV_CHECK(regex && regex->is_string(), path, ": a Split pre-tokenizer without a regex pattern is not GPT-2's split");
  const std::string p = regex->get<std::string>();
  QKV_CHECK(p == kGpt2Pattern || p == kGpt2PatternTiktoken, path,
            ": its pre-tokenizer pattern is not GPT-2's (Llama 3, Qwen and others split differently): ",
            p.substr(0, 60), p.size() > 60 ? "..." : "");
  const nlohmann::json* behavior = field(split, "behavior");
  QKV_CHECK(
      behavior && behavior->is_string() && behavior->get<std::string>() == "Isolated" && is_false(split, "invert"),
      path, ": a Split pre-tokenizer that does not isolate its matches is not GPT-2's split");
}

void check_pre_tokenizer(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* pre = field(j, "pre_tokenizer");
  QKV_CHECK(pre, path, ": no pre-tokenizer: not GPT-2's byte-level split");
  const std::string type = type_of(*pre);
  if (type == "ByteLevel") {
    check_byte_level(*pre, true, path);
    return;
  }
  const nlohmann::json* steps = field(*pre, "pretokenizers");
  QKV_CHECK(type == "Sequence" && steps && steps->is_array() && steps->size() == 2 && type_of((*steps)[0]) == "Split" &&
                type_of((*steps)[1]) == "ByteLevel",
            path, ": pre-tokenizer ", type, " is not GPT-2's (ByteLevel, or Split on GPT-2's pattern then ByteLevel)");
  check_pattern((*steps)[0], path);
  check_byte_level((*steps)[1], false, path);
}

void check_model(const nlohmann::json& model, const std::string& path) {
  const std::string type = type_of(model);
  QKV_CHECK(type == "BPE", path, ": a ", type, " model; only byte-level BPE (GPT-2's kind) is imported");
  QKV_CHECK(is_false(model, "byte_fallback"), path, ": a BPE model with byte_fallback is not byte-level BPE");
  QKV_CHECK(is_false(model, "ignore_merges"), path,
            ": a BPE model with ignore_merges (whole words looked up first) encodes unlike GPT-2");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const nlohmann::json* v = field(model, key);
    QKV_CHECK(!v || (v->is_string() && v->get<std::string>().empty()), path, ": a BPE model with a ", key,
              " is not byte-level BPE");
  }
  const nlohmann::json* dropout = field(model, "dropout");
  QKV_CHECK(!dropout || (dropout->is_number() && dropout->get<double>() == 0.0), path,
            ": a BPE model with dropout encodes at random");
}

std::vector<std::pair<std::string, std::string>> merges_of(const nlohmann::json& model, const std::string& path) {
  const nlohmann::json* merges = field(model, "merges");
  QKV_CHECK(merges && merges->is_array(), path, ": model.merges is not a list");
  std::vector<std::pair<std::string, std::string>> out;
  std::string lines;
  for (size_t i = 0; i < merges->size(); ++i) {
    const nlohmann::json& m = (*merges)[i];
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());  // the newer form: ["left", "right"]
    } else {
      QKV_CHECK(m.is_string(), path, ": model.merges[", i, "] is neither \"left right\" nor [left, right]");
      auto one = read_merge_lines(m.get<std::string>(), path + " model.merges[" + std::to_string(i) + "]");
      QKV_CHECK(one.size() == 1, path, ": model.merges[", i, "] is not one merge");
      out.push_back(std::move(one[0]));
    }
  }
  return out;
}

}  // namespace

BpeVocab read_tokenizer_json(const nlohmann::json& j, const std::string& path) {
  QKV_CHECK(j.is_object() && field(j, "model"), path, ": no model: not a Hugging Face tokenizer.json");
  const nlohmann::json& model = j["model"];
  check_model(model, path);
  const nlohmann::json* normalizer = field(j, "normalizer");
  QKV_CHECK(!normalizer, path, ": normalizer ", normalizer ? type_of(*normalizer) : "",
            " changes the text first, which GPT-2's tokenizer does not");
  check_pre_tokenizer(j, path);

  std::vector<std::pair<std::string, int64_t>> added;
  if (const nlohmann::json* tokens = field(j, "added_tokens")) {
    QKV_CHECK(tokens->is_array(), path, ": added_tokens is not a list");
    for (const nlohmann::json& t : *tokens) {
      const nlohmann::json* id = field(t, "id");
      const nlohmann::json* content = field(t, "content");
      QKV_CHECK(id && id->is_number_integer() && content && content->is_string(), path,
                ": an added token without an integer id and a content");
      const nlohmann::json* special = field(t, "special");
      QKV_CHECK(special && special->is_boolean() && special->get<bool>(), path, ": added token '",
                content->get<std::string>(),
                "' is not special: Hugging Face matches it in all text, and qkv matches specials only where asked");
      added.emplace_back(content->get<std::string>(), id->get<int64_t>());
    }
  }
  const nlohmann::json* vocab = field(model, "vocab");
  QKV_CHECK(vocab && vocab->is_object(), path, ": model.vocab is not a JSON object of token -> id");
  BpeVocab v = vocab_from_keys(*vocab, merges_of(model, path), added, path);
  v.pretokenizer = Pretokenizer::Gpt2;
  return v;
}

}  // namespace qkv
