// `qkv export`: a checkpoint's weights as safetensors under nanoGPT's names, as a Hugging Face GPT-2 folder,
// or as an llm.c checkpoint.
#include <cstdio>
#include <string>

#include "core/archive.h"
#include "core/error.h"
#include "train/cli/commands.h"
#include "train/formats/hf_gpt2.h"
#include "train/formats/llmc_checkpoint.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void export_safetensors(const LoadedCheckpoint& c, const std::string& out) {
  SafeTensorsFile f;
  for (auto& [pname, p] : c.model.module().named_parameters()) {
    f.tensors.emplace_back(pname, SafeTensor::of_f32(p.shape(), p.to_vector()));
    // nanoGPT's state_dict holds the tied head under both names.
    if (c.model.kind() == ModelKind::Gpt && pname == "transformer.wte.weight")
      f.tensors.emplace_back("lm_head.weight", SafeTensor::of_f32(p.shape(), p.to_vector()));
  }
  f.metadata["qkv.config"] = to_json(c.config).dump();
  f.metadata["qkv.tokenizer"] = c.tokenizer->to_json().dump();
  write_safetensors(out, f);
  std::printf("wrote %s: %zu tensors\n", out.c_str(), f.tensors.size());
}

void cmd_export(const std::string& ckpt, const std::string& format, const std::string& out) {
  LoadedCheckpoint c = load_model(ckpt);
  if (format == "safetensors") {
    export_safetensors(c, out);
  } else if (format == "hf") {
    write_hf_folder(out, c.config.model, c.model.module().named_parameters(), *c.tokenizer);
    std::printf("wrote %s: config.json, model.safetensors%s (transformers: GPT2LMHeadModel.from_pretrained)\n",
                out.c_str(),
                c.tokenizer->kind() == TokenizerKind::Bpe && c.tokenizer->pretokenizer() == Pretokenizer::Gpt2
                    ? ", vocab.json, merges.txt"
                    : "");
  } else {
    write_file_atomic(out, to_llmc_bytes(c.config.model, c.model.module().named_parameters()));
    std::printf("wrote %s: llm.c's GPT-2 checkpoint (fp32, version 3)\n", out.c_str());
  }
}

}  // namespace

void add_export(CLI::App& app, Context& ctx) {
  auto ckpt = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("safetensors");
  CLI::App* cmd = app.add_subcommand("export", "write a checkpoint's weights: safetensors, Hugging Face or llm.c");
  cmd->add_option("ckpt", *ckpt, "checkpoint")->required();
  cmd->add_option("--format", *format,
                  "safetensors (nanoGPT's names), hf (a GPT2LMHeadModel folder), llmc (llm.c's .bin)")
      ->check(CLI::IsMember({"safetensors", "hf", "llmc"}))
      ->capture_default_str();
  cmd->add_option("--out,--to", *out, "file to write (hf: a folder)")->required();
  ctx.on(cmd, [ckpt, format, out] {
    cmd_export(*ckpt, *format, *out);
    return 0;
  });
}

}  // namespace qkv::cli
