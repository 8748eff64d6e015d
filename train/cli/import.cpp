// `qkv import`: a checkpoint from a Hugging Face GPT-2 folder, an llm.c checkpoint, or safetensors weights
// with the config they fit.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/archive.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "train/cli/commands.h"
#include "train/config.h"
#include "train/formats/hf_gpt2.h"
#include "train/formats/llmc_checkpoint.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"
#include "train/run_folder.h"
#include "train/task.h"

namespace qkv::cli {
namespace {

struct ImportArgs {
  std::string source, config, tokenizer, out;
  bool overwrite = false;
};

std::string first_bytes(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  QKV_CHECK(in.good(), "import: cannot open ", path);
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

// A GPT-2 model made elsewhere, with its tokenizer, as a qkv checkpoint of an LM config.
void write_gpt2_checkpoint(const ImportArgs& a, ModelConfig model, NamedTensors params, const Tokenizer& tokenizer,
                           const std::string& what) {
  QKV_CHECK(tokenizer.size() == model.vocab_size, "import: the tokenizer has ", tokenizer.size(),
            " tokens, but the model's vocabulary is ", model.vocab_size, " (give the tokenizer it was trained with)");
  Config config;
  config.data.task = Task::Lm;
  config.data.tokenizer = {tokenizer.kind(), ""};
  config.data.vocab_size = tokenizer.size();
  config.model = model;
  config.model = resolve_model_config(config, tokenizer);
  config.optim.decay_steps = config.train.max_steps;
  AnyModel m = build_model(config.model);
  load_parameters(m.module(), params);
  NamedTensors().swap(params);  // the model holds the weights now; the checkpoint's bytes come next
  save_checkpoint(a.out, make_checkpoint(config, tokenizer, m, {}));
  std::printf(
      "wrote %s from %s: gpt, %lld layers, %lld heads, d_model %lld, block_size %lld, vocab %lld, %.1fM "
      "parameters, %s\n",
      a.out.c_str(), what.c_str(), static_cast<long long>(model.n_layer), static_cast<long long>(model.n_head),
      static_cast<long long>(model.d_model), static_cast<long long>(model.block_size),
      static_cast<long long>(model.vocab_size), static_cast<double>(m.module().num_params()) / 1e6,
      enum_name(kActivations, model.activation));
}

void import_hf(const ImportArgs& a) {
  HfModel hf = read_hf_folder(a.source);
  std::optional<Tokenizer> tokenizer = a.tokenizer.empty() ? hf.tokenizer : Tokenizer::load(a.tokenizer);
  QKV_CHECK(tokenizer.has_value(), "import: ", a.source,
            " has no vocab.json + merges.txt or tokenizer.json; give --tokenizer T.tok (qkv tokenizer import)");
  write_gpt2_checkpoint(a, hf.model, std::move(hf.params), *tokenizer,
                        a.source + " (Hugging Face GPT-2, " + hf.dtypes + ")");
}

void import_llmc(const ImportArgs& a) {
  LlmcModel l = parse_llmc(read_file(a.source), a.source);
  QKV_CHECK(!a.tokenizer.empty(), "import: ", a.source,
            " is an llm.c checkpoint, which holds no tokenizer; give --tokenizer gpt2.tok (from `qkv tokenizer "
            "import encoder.json vocab.bpe --out gpt2.tok`)");
  write_gpt2_checkpoint(a, l.model, std::move(l.params), Tokenizer::load(a.tokenizer), a.source + " (llm.c)");
}

// Weights under qkv's (nanoGPT's) names, for the architecture a config describes.
void import_safetensors(const ImportArgs& a) {
  QKV_CHECK(!a.config.empty(), "import: ", a.source,
            " is read as safetensors under qkv's names, which needs --config (the JSON config the weights fit); "
            "a Hugging Face folder or an llm.c .bin needs none");
  SafeTensorsFile f = read_safetensors(a.source);
  Config config = load_config(a.config);
  std::unique_ptr<TrainTask> task = make_task(config);  // the tokenizer comes from the config's data
  std::vector<std::pair<std::string, Tensor>> params;
  for (auto& [raw_name, t] : f.tensors) {
    std::string pname = raw_name.rfind("_orig_mod.", 0) == 0 ? raw_name.substr(10) : raw_name;  // torch.compile
    bool mask_buffer = pname.size() > 10 && pname.compare(pname.size() - 10, 10, ".attn.bias") == 0;
    if (mask_buffer || (task->model().kind() == ModelKind::Gpt && pname == "lm_head.weight"))
      continue;  // a buffer; the tied head
    QKV_CHECK(t.dtype != "I32", a.source, ": tensor ", raw_name, " has dtype I32, expected floats");
    params.emplace_back(pname, Tensor::from_vector(t.f32, t.shape));
  }
  load_parameters(task->model().module(), params);
  if (config.optim.decay_steps == 0) config.optim.decay_steps = config.train.max_steps;
  save_checkpoint(a.out, make_checkpoint(config, task->tokenizer(), task->model(), task->labels()));
  std::printf("wrote %s from %s: %zu tensors\n", a.out.c_str(), a.source.c_str(), params.size());
}

void cmd_import(const ImportArgs& a) {
  check_checkpoint_target(a.out, a.overwrite, "import");
  const bool folder = std::filesystem::is_directory(a.source);
  const bool llmc = !folder && is_llmc_checkpoint(first_bytes(a.source, 4));
  QKV_CHECK(!llmc || a.config.empty(), "import: --config is for safetensors under qkv's names; ", a.source,
            " is an llm.c checkpoint and carries its own shape");
  if (folder) {
    QKV_CHECK(a.config.empty(), "import: --config is for safetensors under qkv's names; ", a.source,
              " is a folder, read as Hugging Face's (its config.json gives the model)");
    import_hf(a);
  } else if (llmc) {
    import_llmc(a);
  } else {
    import_safetensors(a);
  }
}

}  // namespace

void add_import(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "import", "make a checkpoint from a Hugging Face GPT-2 folder, an llm.c .bin, or safetensors + config");
  cmd->add_option("source", a->source,
                  "a Hugging Face GPT-2 folder (config.json, model.safetensors), an llm.c checkpoint (.bin), or a "
                  "safetensors file under qkv's names (with --config)")
      ->required();
  cmd->add_option("--config", a->config, "safetensors only: the JSON config the weights fit");
  cmd->add_option("--tokenizer", a->tokenizer, "a .tok file (needed for llm.c; replaces a folder's own)");
  cmd->add_option("--out", a->out, "checkpoint to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "write --out even over a trained run's checkpoint");
  ctx.on(cmd, [a] {
    cmd_import(*a);
    return 0;
  });
}

}  // namespace qkv::cli
