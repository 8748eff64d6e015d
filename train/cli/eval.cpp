// `qkv eval`: a checkpoint scored on a file: loss and perplexity (LM, MLM), accuracy (classify), BLEU (seq2seq).
#include <sstream>
#include <string>

#include "train/cli/commands.h"
#include "train/cli/output.h"
#include "train/cli/precision_option.h"
#include "train/model_io.h"
#include "train/task.h"

namespace qkv::cli {
namespace {

// A score as each task reports it: a line for people and one JSON object.
void print_score(Task task, const FileScore& s, bool json) {
  nlohmann::json out = {{"loss", s.loss}};
  std::ostringstream text;
  text << "loss " << s.loss;
  if (task == Task::Lm || task == Task::Mlm) {
    out["perplexity"] = s.perplexity;
    out["tokens"] = s.tokens;
    text << "  perplexity " << s.perplexity << "  (" << s.tokens << " tokens)";
    if (s.masked > 0) {
      out["accuracy"] = s.accuracy;
      out["masked"] = s.masked;
      text << "  masked-token accuracy " << s.accuracy << " (" << s.masked << " masked)";
    }
  } else if (task == Task::Classify) {
    out["accuracy"] = s.accuracy;
    out["examples"] = s.examples;
    text << "  accuracy " << s.accuracy << "  (" << s.examples << " examples)";
  } else {
    out["bleu"] = s.bleu;
    out["examples"] = s.examples;
    text << "  BLEU " << s.bleu << "  (" << s.examples << " pairs, greedy)";
  }
  print_json_or(json, out, text.str());
}

}  // namespace

void add_eval(CLI::App& app, Context& ctx) {
  struct Args {
    std::string ckpt, data, precision;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", "loss and perplexity (LM), accuracy (classify), BLEU (seq2seq)");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--data", a->data, "text (LM) or TSV file")->required();
  cmd->add_flag("--json", a->json, "print one JSON object");
  add_precision_option(cmd, a->precision);
  ctx.on(cmd, [a] {
    LoadedCheckpoint c = load_model(a->ckpt);  // the task is built from the checkpoint alone: no training data
    use_precision(a->precision, c.config.train.precision);
    print_score(c.config.data.task, make_eval_task(c)->evaluate_file(a->data), a->json);
    return 0;
  });
}

}  // namespace qkv::cli
