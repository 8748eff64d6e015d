// The training loop: steps, logging, evaluation and checkpoints at their intervals, and a clean stop.
#include "train/trainer.h"

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/profile.h"
#include "core/threads.h"
#include "train/metrics.h"
#include "train/run_eval.h"
#include "train/run_output.h"
#include "train/run_setup.h"

namespace qkv {
namespace {

// NOTE [signals]: the handler may only set a flag; the loop checks it between steps, saves and exits.
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }

struct SignalScope {
  SignalScope() {
    g_signal = 0;
    previous_int_ = std::signal(SIGINT, on_signal);
    previous_term_ = std::signal(SIGTERM, on_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// The resolved config, the model, and how the ranks share the batch.
void print_start(Run& run) {
  const Config& config = run.config;
  const TrainConfig& t = config.train;
  Comm& comm = run.comm();
  std::printf("%s\n", to_json(config).dump(2).c_str());
  std::printf("model: %s, %lld parameters; %s from step %lld to %lld\n", name(config.model.kind),
              static_cast<long long>(run.task->model().module().num_params()), run.resumed ? "resuming" : "training",
              static_cast<long long>(run.state.step), static_cast<long long>(t.max_steps));
  const int64_t accum = grad_accum_of(t, comm.size()), B = t.batch_size;
  if (comm.size() > 1)
    std::printf(
        "data parallel: %d ranks x %d threads, global batch %lld (batch_size %lld x grad_accum %lld x %d "
        "ranks); %lld gradient bytes per allreduce\n",
        comm.size(), qkv::threads(), static_cast<long long>(B * accum * comm.size()), static_cast<long long>(B),
        static_cast<long long>(accum), comm.size(), static_cast<long long>(run.sync->bytes()));
}

// The steps since the last log line, for tokens/s and the ETA.
struct LogWindow {
  double start_s = 0.0;
  int64_t tokens = 0;
  int64_t after_step = 0;  // the step before the window's first
};

// Writes the metrics line of `step` and updates the progress line; returns why the run must stop ("" to go on).
std::string log_step(Run& run, RunOutput& output, Progress& progress, LogWindow& window, const StepResult& r) {
  const int64_t step = run.state.step, max_steps = run.config.train.max_steps;
  double dt = now_s() - window.start_s, tps = dt > 0 ? window.tokens / dt : 0.0;
  double per_step = dt / static_cast<double>(step - window.after_step);
  nlohmann::json logged = {{"step", step},
                           {"train_loss", r.loss},
                           {"lr", r.lr},
                           {"grad_norm", r.grad_norm},
                           {"tokens_per_s", tps},
                           {"elapsed_s", run.state.elapsed_s},
                           {"skipped", run.state.skipped}};
  if (run.comm().size() > 1) logged["allreduce_s"] = run.sync->allreduce_seconds();
  if (std::string failed = output.write_metrics(logged); !failed.empty()) return failed;
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                static_cast<long long>(step), static_cast<long long>(max_steps), r.loss, r.lr, tps,
                format_duration(per_step * static_cast<double>(max_steps - step)).c_str());
  progress.update(line);
  window = {now_s(), 0, step};
  return "";
}

std::string not_finite(const StepResult& r) {
  std::string what = std::isfinite(r.loss) ? "the gradient norm is " + std::to_string(r.grad_norm)
                                           : "the loss is " + std::to_string(r.loss);
  return what + ", not finite, so the update is not applied";
}

// The closing lines: the time per op (--profile), the allreduce's share, and where the checkpoints are.
void print_end(Run& run, Progress& progress, bool profile, int64_t first_step, double profile_start) {
  const int64_t steps = run.state.step - first_step;
  if (profile && steps > 0)
    progress.print("time per step (--profile):\n" +
                   profile_report(steps, (now_s() - profile_start) / static_cast<double>(steps)));
  if (run.comm().size() > 1 && steps > 0)
    progress.print(
        "gradient allreduce: " + std::to_string(1000.0 * run.sync->allreduce_seconds() / static_cast<double>(steps)) +
        " ms per step on average");
  progress.print("done: " + std::to_string(run.state.step) + " steps; best val loss " +
                 std::to_string(run.state.best_val_loss) + "; checkpoints in " + run.config.train.out_dir);
}

// Steps from state.step + 1 to train.max_steps; returns the exit code of train().
int run_steps(Run& run, RunOutput& output, const TrainOptions& options) {
  const TrainConfig& t = run.config.train;
  Comm& comm = run.comm();
  TrainState& state = run.state;
  Progress progress;
  double run_start = now_s() - state.elapsed_s, profile_start = now_s();
  const int64_t first_step = state.step, accum = grad_accum_of(t, comm.size());
  set_profiling(options.profile);
  LogWindow window{now_s(), 0, state.step};
  for (int64_t step = state.step + 1; step <= t.max_steps; ++step) {
    StepResult r = train_step(*run.task, *run.optimizer, run.config, step, *run.sync);
    window.tokens += r.tokens;
    state.data_offset = static_cast<uint64_t>(step * accum);
    if (!r.finite) {
      if (!t.skip_nonfinite) return output.stop(progress, step, not_finite(r));
      ++state.skipped;  // the step still advances: the next batch and masks differ
    }
    state.step = step;
    state.elapsed_s = now_s() - run_start;
    std::string failed;
    if (step % t.log_interval == 0 || step == t.max_steps) failed = log_step(run, output, progress, window, r);
    if (failed.empty() && (step % t.eval_interval == 0 || step == t.max_steps))
      failed = evaluate_and_keep_best(run, output, progress, step);
    // A signal may reach the ranks between different steps: they stop at the first step any of them saw it.
    bool stop = failed.empty() && comm.any(step == options.stop_at || g_signal != 0);
    if (failed.empty() && (step % t.ckpt_interval == 0 || step == t.max_steps || stop))
      failed = output.save("ckpt.qkv");
    if (!failed.empty()) return output.stop(progress, step, failed);
    if (stop) {
      progress.print("stopped after step " + std::to_string(step) + "; saved " + t.out_dir + "/ckpt.qkv");
      if (g_signal == SIGINT) return 130;
      if (g_signal == SIGTERM) return 143;
      return 0;
    }
  }
  print_end(run, progress, options.profile, first_step, profile_start);
  return 0;
}

}  // namespace

int train(const Config& config, const TrainOptions& options) {
  SignalScope signals;
  PrecisionScope precision(Precision::fp32);  // the run sets its own; the caller's comes back afterwards
  Comm alone;
  Run run = set_up_run(config, options, options.comm ? *options.comm : alone);
  std::filesystem::create_directories(run.config.train.out_dir);
  print_start(run);
  // Only rank 0 writes metrics and checkpoints; the others compute the same steps.
  RunOutput output(run, options.resume);
  return run_steps(run, output, options);
}

}  // namespace qkv
