// `qkv info`: what a checkpoint holds: kind, parameters, step, best validation loss, tokenizer, config.
#include <cmath>
#include <sstream>
#include <string>

#include "train/cli/commands.h"
#include "train/cli/output.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void cmd_info(const std::string& ckpt, bool json) {
  LoadedCheckpoint c = load_model(ckpt);
  const TrainState& s = c.raw.state;
  nlohmann::json j = {{"kind", name(c.config.model.kind)},
                      {"params", c.model.module().num_params()},
                      {"step", s.step},
                      {"best_val_loss", nan_null(s.best_val_loss)},
                      {"config", to_json(c.config)},
                      {"tokenizer", {{"type", name(c.tokenizer->kind())}, {"vocab_size", c.tokenizer->size()}}}};
  std::ostringstream text;
  text << ckpt << ": " << name(c.config.model.kind) << ", " << c.model.module().num_params() << " parameters, step "
       << s.step << ", best val loss "
       << (std::isnan(s.best_val_loss) ? std::string("none") : std::to_string(s.best_val_loss)) << ", tokenizer "
       << name(c.tokenizer->kind()) << " (" << c.tokenizer->size() << " tokens)\n"
       << to_json(c.config).dump(2);
  print_json_or(json, j, text.str());
}

}  // namespace

void add_info(CLI::App& app, Context& ctx) {
  auto ckpt = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("info", "what a checkpoint holds");
  cmd->add_option("ckpt", *ckpt, "checkpoint")->required();
  cmd->add_flag("--json", *json, "print one JSON object");
  ctx.on(cmd, [ckpt, json] {
    cmd_info(*ckpt, *json);
    return 0;
  });
}

}  // namespace qkv::cli
