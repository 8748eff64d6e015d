// `qkv init`: a seeded, untrained checkpoint from a config.
#include <cstdio>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/cli/commands.h"
#include "train/config.h"
#include "train/model_io.h"
#include "train/run_folder.h"
#include "train/task.h"

namespace qkv::cli {
namespace {

void cmd_init(const std::string& config_path, const std::vector<std::string>& overrides, const std::string& out,
              bool overwrite) {
  check_checkpoint_target(out, overwrite, "init");
  Config config = load_config(config_path, overrides);
  std::unique_ptr<TrainTask> task = make_task(config);
  init_weights(task->model(), config.train.seed);
  if (config.optim.decay_steps == 0) config.optim.decay_steps = config.train.max_steps;
  save_checkpoint(out, make_checkpoint(config, task->tokenizer(), task->model(), task->labels()));
  std::printf("wrote %s: %s, %lld parameters\n", out.c_str(), name(config.model.kind),
              static_cast<long long>(task->model().module().num_params()));
}

}  // namespace

void add_init(CLI::App& app, Context& ctx) {
  struct Args {
    std::string config, out;
    std::vector<std::string> sets;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("init", "write a seeded, untrained checkpoint");
  cmd->add_option("config", a->config, "the JSON config")->required();
  cmd->add_option("--set", a->sets, "override a key (repeatable)");
  cmd->add_option("--out", a->out, "checkpoint to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "write --out even over a trained run's checkpoint");
  ctx.on(cmd, [a] {
    cmd_init(a->config, a->sets, a->out, a->overwrite);
    return 0;
  });
}

}  // namespace qkv::cli
