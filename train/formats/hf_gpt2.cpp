#include "train/formats/hf_gpt2.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "core/archive.h"
#include "core/error.h"
#include "core/ops.h"
#include "train/formats/bpe_vocab_files.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

int64_t positive_int(const json& config, const char* key, int64_t fallback, const std::string& source) {
  if (!config.contains(key)) return fallback;
  const json& v = config[key];
  QKV_CHECK(v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= (int64_t{1} << 24), source, ": ", key,
            " is ", v.dump(), ", expected a positive integer");
  return v.get<int64_t>();
}

bool flag(const json& config, const char* key, bool fallback, const std::string& source) {
  if (!config.contains(key)) return fallback;
  QKV_CHECK(config[key].is_boolean(), source, ": ", key, " is ", config[key].dump(), ", expected true or false");
  return config[key].get<bool>();
}

bool ends_with(const std::string& s, const char* tail) {
  const size_t n = std::char_traits<char>::length(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

// The eot token's id (GPT-2's <|endoftext|>), or -1.
int32_t end_of_text(const Tokenizer& t) { return t.special("<|endoftext|>"); }

SafeTensorsFile read_weights(const std::string& dir, std::string& files_read) {
  const fs::path d(dir);
  if (fs::exists(d / "model.safetensors")) {
    files_read = (d / "model.safetensors").string();
    return read_safetensors(files_read);
  }
  const fs::path index_path = d / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    const std::string source = index_path.string();
    json index = json::parse(read_file(source), nullptr, false);
    QKV_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), source,
              ": expected a JSON object with a weight_map of tensor name -> file");
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) {
      QKV_CHECK(file.is_string() && fs::path(file.get<std::string>()).filename() == file.get<std::string>(), source,
                ": tensor ", name, " maps to ", file.dump(), ", expected a file name in this folder");
      shards.insert(file.get<std::string>());
    }
    SafeTensorsFile all;
    for (const std::string& shard : shards) {
      SafeTensorsFile part = read_safetensors((d / shard).string());
      for (auto& [name, t] : part.tensors) {
        const json& map = index["weight_map"];
        QKV_CHECK(map.contains(name) && map[name] == shard, (d / shard).string(), ": tensor ", name,
                  " is not listed for this file in ", source);
        all.tensors.emplace_back(name, std::move(t));
      }
      files_read += (files_read.empty() ? "" : ", ") + shard;
    }
    QKV_CHECK(all.tensors.size() == index["weight_map"].size(), source, ": lists ", index["weight_map"].size(),
              " tensors, but its files hold ", all.tensors.size());
    return all;
  }
  QKV_CHECK(!fs::exists(d / "pytorch_model.bin"), dir,
            " holds pytorch_model.bin, a Python pickle, which qkv does not read (loading one can run code); "
            "convert it to model.safetensors, e.g. in Python: GPT2LMHeadModel.from_pretrained(DIR)"
            ".save_pretrained(DIR, safe_serialization=True)");
  QKV_FAIL(dir, " has no model.safetensors or model.safetensors.index.json (a Hugging Face model folder)");
}

std::optional<Tokenizer> read_folder_tokenizer(const fs::path& d) {
  if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt"))
    return import_tokenizer({(d / "vocab.json").string(), (d / "merges.txt").string()}, {});
  if (fs::exists(d / "tokenizer.json")) return import_tokenizer({(d / "tokenizer.json").string()}, {});
  return std::nullopt;
}

}  // namespace

ModelConfig model_from_hf_config(const json& c, const std::string& source) {
  QKV_CHECK(c.is_object(), source, ": expected a JSON object");
  if (c.contains("model_type"))
    QKV_CHECK(c["model_type"] == "gpt2", source, ": model_type ", c["model_type"].dump(),
              ", expected \"gpt2\" (qkv imports GPT-2's architecture)");
  ModelConfig m;
  m.kind = ModelKind::Gpt;
  m.d_model = positive_int(c, "n_embd", 768, source);
  m.n_layer = positive_int(c, "n_layer", 12, source);
  m.n_head = positive_int(c, "n_head", 12, source);
  m.block_size = positive_int(c, "n_positions", 1024, source);
  m.vocab_size = positive_int(c, "vocab_size", 50257, source);
  m.d_ff = c.contains("n_inner") && !c["n_inner"].is_null() ? positive_int(c, "n_inner", 0, source) : 0;
  m.bias = true;
  m.dropout = 0.0f;  // a fine-tuning config sets its own
  const std::string act = c.value("activation_function", std::string("gelu_new"));
  if (act == "gelu_new" || act == "gelu_pytorch_tanh")
    m.activation = Activation::GeluTanh;
  else if (act == "gelu")
    m.activation = Activation::Gelu;
  else if (act == "relu")
    m.activation = Activation::Relu;
  else
    QKV_FAIL(source, ": activation_function \"", act, "\", expected gelu_new, gelu_pytorch_tanh, gelu or relu");
  if (c.contains("layer_norm_epsilon")) {
    QKV_CHECK(c["layer_norm_epsilon"].is_number() && std::abs(c["layer_norm_epsilon"].get<double>() - 1e-5) <= 1e-12,
              source, ": layer_norm_epsilon ", c["layer_norm_epsilon"].dump(), ", expected 1e-05 (qkv's LayerNorm)");
  }
  QKV_CHECK(flag(c, "tie_word_embeddings", true, source), source,
            ": tie_word_embeddings is false, but qkv's GPT ties its LM head to wte");
  QKV_CHECK(flag(c, "scale_attn_weights", true, source), source,
            ": scale_attn_weights is false, but qkv scales attention by 1/sqrt(head size)");
  QKV_CHECK(!flag(c, "scale_attn_by_inverse_layer_idx", false, source), source,
            ": scale_attn_by_inverse_layer_idx is true, which qkv's GPT does not compute");
  QKV_CHECK(!flag(c, "add_cross_attention", false, source), source,
            ": add_cross_attention is true; qkv imports GPT-2 as a decoder-only model");
  QKV_CHECK(m.d_model % m.n_head == 0, source, ": n_embd ", m.d_model, " is not a multiple of n_head ", m.n_head);
  return m;
}

json hf_config_of(const ModelConfig& m, const Tokenizer& tokenizer) {
  const char* act = m.activation == Activation::GeluTanh ? "gelu_new"
                    : m.activation == Activation::Gelu   ? "gelu"
                                                         : "relu";
  json c = {{"architectures", {"GPT2LMHeadModel"}},
            {"model_type", "gpt2"},
            {"vocab_size", m.vocab_size},
            {"n_positions", m.block_size},
            {"n_embd", m.d_model},
            {"n_layer", m.n_layer},
            {"n_head", m.n_head},
            {"n_inner", m.ff()},
            {"activation_function", act},
            {"layer_norm_epsilon", 1e-5},
            {"resid_pdrop", m.dropout},
            {"embd_pdrop", m.dropout},
            {"attn_pdrop", m.dropout},
            {"initializer_range", 0.02},
            {"scale_attn_weights", true},
            {"tie_word_embeddings", true},
            {"torch_dtype", "float32"}};
  if (end_of_text(tokenizer) >= 0) c["bos_token_id"] = c["eos_token_id"] = end_of_text(tokenizer);
  return c;
}

NamedTensors params_from_hf(SafeTensorsFile file, const std::string& source) {
  NamedTensors out;
  for (auto& [raw, t] : file.tensors) {
    QKV_CHECK(t.dtype != "I32", source, ": tensor ", raw, " has dtype I32, expected floats");
    if (raw == "lm_head.weight" || ends_with(raw, ".attn.bias") || ends_with(raw, ".attn.masked_bias"))
      continue;  // the tied head; the causal-mask buffers
    std::string name = raw.rfind("transformer.", 0) == 0 ? raw : "transformer." + raw;  // GPT2Model's layout
    Tensor x = Tensor::from_vector(t.f32, t.shape);
    if (is_layer_linear_weight(name)) {
      QKV_CHECK(t.shape.size() == 2, source, ": tensor ", raw, " has shape ", str(t.shape), ", expected 2 dimensions");
      x = transpose(x, 0, 1);  // Conv1D's [in, out] -> [out, in]
    }
    out.emplace_back(std::move(name), std::move(x));
    std::vector<float>().swap(t.f32);  // each tensor is held once at a time: GPT-2 XL's file is 6 GB
  }
  return out;
}

SafeTensorsFile hf_safetensors_of(const ModelConfig& m, const NamedTensors& params) {
  check_gpt2_expressible(m, "Hugging Face's GPT-2");
  SafeTensorsFile f;
  for (auto& [name, t] : gpt2_tensor_set(m, params)) {
    Tensor x = is_layer_linear_weight(name) ? transpose(t, 0, 1) : t;
    f.tensors.emplace_back(name, SafeTensor::of_f32(x.shape(), x.to_vector()));
  }
  f.metadata["format"] = "pt";  // transformers refuses safetensors without it
  return f;
}

HfModel read_hf_folder(const std::string& dir) {
  QKV_CHECK(fs::is_directory(dir), dir, " is not a folder (a Hugging Face model folder holds config.json and ",
            "model.safetensors)");
  const fs::path d(dir);
  const std::string config_path = (d / "config.json").string();
  QKV_CHECK(fs::exists(config_path), dir, " has no config.json (a Hugging Face model folder holds config.json and ",
            "model.safetensors)");
  json config = json::parse(read_file(config_path), nullptr, false);
  QKV_CHECK(!config.is_discarded(), config_path, ": not valid JSON");
  HfModel out;
  out.model = model_from_hf_config(config, config_path);
  SafeTensorsFile weights = read_weights(dir, out.weights);
  std::set<std::string> dtypes;
  for (const auto& [name, t] : weights.tensors) dtypes.insert(t.dtype);
  for (const std::string& dt : dtypes) out.dtypes += (out.dtypes.empty() ? "" : "+") + dt;
  out.params = params_from_hf(std::move(weights), out.weights);
  out.tokenizer = read_folder_tokenizer(d);
  return out;
}

void write_hf_folder(const std::string& dir, const ModelConfig& m, const NamedTensors& params,
                     const Tokenizer& tokenizer) {
  SafeTensorsFile weights = hf_safetensors_of(m, params);  // refuses what GPT-2 cannot express, before writing
  std::error_code ec;
  fs::create_directories(dir, ec);
  QKV_CHECK(fs::is_directory(dir), "cannot make the folder ", dir, ": ", ec.message());
  const fs::path d(dir);
  write_file_atomic((d / "config.json").string(), hf_config_of(m, tokenizer).dump(2) + "\n");
  write_safetensors((d / "model.safetensors").string(), weights);
  if (tokenizer.kind() == TokenizerKind::Bpe && tokenizer.pretokenizer() == Pretokenizer::Gpt2) {
    VocabFiles files = to_vocab_files(tokenizer);
    write_file_atomic((d / "vocab.json").string(), files.vocab_json);
    write_file_atomic((d / "merges.txt").string(), files.merges_txt);
  }
}

}  // namespace qkv
