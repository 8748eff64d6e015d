// `qkv train`: a run from a JSON config, or the continuation of one from its checkpoint.
#include <string>
#include <vector>

#include "core/error.h"
#include "train/cli/commands.h"
#include "train/config.h"
#include "train/trainer.h"

namespace qkv::cli {

void add_train(CLI::App& app, Context& ctx) {
  struct Args {
    std::string config;
    TrainOptions options;
  };
  auto a = std::make_shared<Args>();
  TrainOptions& o = a->options;
  CLI::App* cmd = app.add_subcommand("train", "train a model from a JSON config");
  cmd->add_option("config", a->config, "the JSON config (optional with --resume: the checkpoint's config is used)");
  cmd->add_option("--set", o.overrides, "override a key: --set train.max_steps=500 (repeatable)");
  cmd->add_option("--resume", o.resume, "continue from this checkpoint");
  cmd->add_option("--stop-at", o.stop_at, "stop after this step, saving a checkpoint as an interruption would")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--profile", o.profile, "print the time per op at the end");
  cmd->add_flag("--allow-data-change", o.allow_data_change,
                "with --resume: continue even if the data files differ from the ones the checkpoint recorded");
  cmd->add_flag("--overwrite", o.overwrite,
                "replace the run train.out_dir already holds (without it a new run there is refused)");
  cmd->add_flag(
      "--verbose", o.verbose,
      "print the whole resolved config at the start (it is also in config.json) and the anonymous memory at the end");
  ctx.on(cmd, [a, &ctx] {
    QKV_CHECK(!a->config.empty() || !a->options.resume.empty(), "train: give a config, or --resume a checkpoint");
    a->options.comm = &ctx.comm;
    Config c = a->options.resume.empty() ? load_config(a->config, a->options.overrides) : Config{};
    return train(c, a->options);
  });
}

}  // namespace qkv::cli
