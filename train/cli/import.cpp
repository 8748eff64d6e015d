// `qkv import`: a checkpoint made from safetensors weights and the config they fit.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/cli/commands.h"
#include "train/config.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"
#include "train/run_folder.h"
#include "train/task.h"

namespace qkv::cli {
namespace {

void cmd_import(const std::string& file, const std::string& config_path, const std::string& out, bool overwrite) {
  check_checkpoint_target(out, overwrite, "import");
  SafeTensorsFile f = read_safetensors(file);
  Config config = load_config(config_path);
  std::unique_ptr<TrainTask> task = make_task(config);  // the tokenizer comes from the config's data
  std::vector<std::pair<std::string, Tensor>> params;
  for (auto& [raw_name, t] : f.tensors) {
    std::string pname = raw_name.rfind("_orig_mod.", 0) == 0 ? raw_name.substr(10) : raw_name;  // torch.compile
    bool mask_buffer = pname.size() > 10 && pname.compare(pname.size() - 10, 10, ".attn.bias") == 0;
    if (mask_buffer || (task->model().kind() == ModelKind::Gpt && pname == "lm_head.weight"))
      continue;  // a buffer; the tied head
    QKV_CHECK(t.dtype == "F32", file, ": tensor ", raw_name, " has dtype ", t.dtype, ", expected F32");
    params.emplace_back(pname, Tensor::from_vector(t.f32, t.shape));
  }
  load_parameters(task->model().module(), params);
  if (config.optim.decay_steps == 0) config.optim.decay_steps = config.train.max_steps;
  save_checkpoint(out, make_checkpoint(config, task->tokenizer(), task->model(), task->labels()));
  std::printf("wrote %s from %s: %zu tensors\n", out.c_str(), file.c_str(), params.size());
}

}  // namespace

void add_import(CLI::App& app, Context& ctx) {
  struct Args {
    std::string file, config, out;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("import", "make a checkpoint from safetensors weights");
  cmd->add_option("file", a->file, "safetensors file")->required();
  cmd->add_option("--config", a->config, "the JSON config the weights fit")->required();
  cmd->add_option("--out", a->out, "checkpoint to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "write --out even over a trained run's checkpoint");
  ctx.on(cmd, [a] {
    cmd_import(a->file, a->config, a->out, a->overwrite);
    return 0;
  });
}

}  // namespace qkv::cli
