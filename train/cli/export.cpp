// `qkv export`: a checkpoint's weights as safetensors, under nanoGPT's names.
#include <cstdio>
#include <string>

#include "train/cli/commands.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void cmd_export(const std::string& ckpt, const std::string& out) {
  LoadedCheckpoint c = load_model(ckpt);
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

}  // namespace

void add_export(CLI::App& app, Context& ctx) {
  auto ckpt = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("export", "write a checkpoint's weights as safetensors");
  cmd->add_option("ckpt", *ckpt, "checkpoint")->required();
  cmd->add_option("--out,--to", *out, "safetensors file to write")->required();
  ctx.on(cmd, [ckpt, out] {
    cmd_export(*ckpt, *out);
    return 0;
  });
}

}  // namespace qkv::cli
