#include "train/run_output.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/archive.h"
#include "core/error.h"
#include "train/run_folder.h"

namespace qkv {
namespace {

// The first parameter holding a NaN or an infinity ("" when none): such weights must never reach a checkpoint.
std::string non_finite_parameter(const std::vector<std::pair<std::string, Tensor>>& params) {
  for (const auto& [name, p] : params) {
    const float* v = p.data();
    for (int64_t i = 0; i < p.numel(); ++i)
      if (!std::isfinite(v[i])) return name;
  }
  return "";
}

}  // namespace

void prepare_run_folder(const Run& run, const TrainOptions& options) {
  const std::string& dir = run.config.train.out_dir;
  std::filesystem::create_directories(dir);
  if (options.overwrite) clear_run_folder(dir, options.resume);
  if (run.resumed) keep_metrics_through(dir + "/metrics.jsonl", run.state.step);
  nlohmann::json j = to_json(run.config);
  write_file_atomic(dir + "/config.json", j.dump(2) + "\n", /*faults=*/false);
}

RunOutput::RunOutput(Run& run, const std::string& resumed_from) : run_(run), out_dir_(run.config.train.out_dir) {
  if (run.comm().root()) metrics_.emplace(out_dir_ + "/metrics.jsonl", run.resumed);
  if (run.resumed) last_good_ = {resumed_from, run.state.step};
}

std::string RunOutput::write_checkpoint(const std::string& file) const {
  std::string bad = non_finite_parameter(run_.params);
  if (!bad.empty()) return "parameter " + bad + " is not finite, so " + file + " is not written";
  Checkpoint c = make_checkpoint(run_.config, run_.task->tokenizer(), run_.task->model(), run_.task->labels());
  ArchiveWriter w;
  run_.optimizer->write(w);
  c.optimizer = std::move(w).take();
  c.state = run_.state;
  try {
    save_checkpoint(out_dir_ + "/" + file, c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string RunOutput::save(const std::string& file) {
  Comm& comm = run_.comm();
  std::string failed = comm.root() ? write_checkpoint(file) : "";
  if (comm.any(!failed.empty())) return failed.empty() ? "rank 0 could not write " + file : failed;
  if (file == "ckpt.qkv") last_good_ = {out_dir_ + "/" + file, run_.state.step};
  return "";
}

std::string RunOutput::write_metrics(const nlohmann::json& line) {
  Comm& comm = run_.comm();
  std::string failed;
  if (comm.root()) try {
      metrics_->write(line);
    } catch (const Error& e) {
      failed = e.what();
    }
  if (comm.any(!failed.empty())) return failed.empty() ? "rank 0 could not write metrics" : failed;
  return "";
}

int RunOutput::stop(Progress& progress, int64_t step, const std::string& why) {
  progress.close();
  if (!run_.comm().root()) return 3;  // every rank stops; one says why
  std::string kept = last_good_.path.empty() ? "no checkpoint has been written yet"
                                             : "the last good checkpoint is " + last_good_.path + " (step " +
                                                   std::to_string(last_good_.step) + ")";
  std::fprintf(stderr, "qkv: error: step %lld: %s; stopping: %s\n", static_cast<long long>(step), why.c_str(),
               kept.c_str());
  return 3;
}

}  // namespace qkv
