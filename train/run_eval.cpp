#include "train/run_eval.h"

#include <cmath>

#include "data/utf8.h"
#include "train/rng_streams.h"

namespace qkv {
namespace {

// The metrics line of an evaluation and the line printed for it.
struct EvalReport {
  nlohmann::json line;
  std::string text;
};

EvalReport report(int64_t step, const EvalResult& on_train, const EvalResult& on_val) {
  EvalReport r;
  r.line = {{"step", step}, {"eval_train_loss", on_train.loss}, {"val_loss", on_val.loss}};
  r.text = "step " + std::to_string(step) + ": train loss " + std::to_string(on_train.loss) + ", val loss " +
           std::to_string(on_val.loss);
  if (!std::isnan(on_val.accuracy)) {
    r.line["val_accuracy"] = on_val.accuracy;
    r.text += ", val accuracy " + std::to_string(on_val.accuracy);
  }
  if (!std::isnan(on_val.bleu)) {
    r.line["val_bleu"] = on_val.bleu;
    r.text += ", val BLEU " + std::to_string(on_val.bleu);
  }
  return r;
}

// The task's sample, labelled and indented so that it stands apart from the step lines, and valid UTF-8 (a
// byte-level model may end a sample inside a character, or make bytes that form none) so that the log stays
// text for grep and editors.
std::string labelled(const std::string& shown, int64_t step) {
  std::string text = valid_utf8(shown), out = "sample at step " + std::to_string(step) + ":";
  size_t start = text.rfind('\n', 0) == 0 ? 1 : 0;  // the newline a GPT sample starts from
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start || start < text.size()) out += "\n  | " + text.substr(start, end - start);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string evaluate_and_keep_best(Run& run, RunOutput& output, Progress& progress, int64_t step) {
  const TrainConfig& t = run.config.train;
  Comm& comm = run.comm();
  TrainTask& task = *run.task;
  task.model().module().eval();
  Rng train_rng = batch_rng(t.seed, kEvalTrainBatches, static_cast<uint64_t>(step));
  Rng val_rng = batch_rng(t.seed, kEvalValBatches, static_cast<uint64_t>(step));
  Shard shard{comm.rank(), comm.size()};
  EvalResult on_train = reduce_eval(comm, task.evaluate(false, t.batch_size, t.eval_steps, train_rng, shard));
  EvalResult on_val = reduce_eval(comm, task.evaluate(true, t.batch_size, t.eval_steps, val_rng, shard));
  EvalReport r = report(step, on_train, on_val);
  if (std::string failed = output.write_metrics(r.line); !failed.empty()) return failed;
  progress.print(r.text);
  std::string shown = comm.root() ? task.show(t.seed + static_cast<uint64_t>(step)) : "";
  if (!shown.empty()) progress.print(labelled(shown, step));
  task.model().module().train();
  if (std::isnan(run.state.best_val_loss) || on_val.loss < run.state.best_val_loss) {
    run.state.best_val_loss = on_val.loss;
    return output.save("best.qkv");
  }
  return "";
}

}  // namespace qkv
