// The training loop: steps, logging, evaluation and checkpoints at their intervals, and a clean stop.
#include "train/trainer.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "core/memory_info.h"
#include "core/profile.h"
#include "core/stop.h"
#include "train/eta.h"
#include "train/metrics.h"
#include "train/run_eval.h"
#include "train/run_output.h"
#include "train/run_setup.h"
#include "train/run_summary.h"

namespace qkv {
namespace {

// NOTE [signals]: the first SIGINT or SIGTERM sets a flag that the loop checks after each step; in a run of
// one process it also asks the ops to stop (NOTE [stop between ops]), so that a long step or evaluation ends
// within moments, and the run saves its last completed step. A second signal ends the process at once; the
// checkpoints are written to a temporary file and renamed, so the last one stays whole. A data-parallel run
// stops between steps only, where every rank agrees on the step. SIGPIPE is ignored: when the Ctrl-C that
// stops the run also kills a `| tee`, the run must still save and say so (on stderr, as stdout is gone).
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_stop_ops = 0;
extern "C" void on_signal(int sig) {
  if (g_signal != 0) _exit(128 + sig);
  g_signal = sig;
  if (g_stop_ops) request_stop();
}

struct SignalScope {
  explicit SignalScope(bool stop_ops) {
    g_signal = 0;
    g_stop_ops = stop_ops ? 1 : 0;
    clear_stop();
    previous_int_ = std::signal(SIGINT, on_signal);
    previous_term_ = std::signal(SIGTERM, on_signal);
    previous_pipe_ = std::signal(SIGPIPE, SIG_IGN);
  }
  ~SignalScope() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
    std::signal(SIGPIPE, previous_pipe_);
    g_stop_ops = 0;
    clear_stop();
  }
  void (*previous_int_)(int);
  void (*previous_term_)(int);
  void (*previous_pipe_)(int);
};

int signal_exit_code() { return g_signal == SIGINT ? 130 : g_signal == SIGTERM ? 143 : 0; }

// The steps since the last log line, for tokens/s and the ETA.
struct LogWindow {
  double start_s = 0.0;
  int64_t tokens = 0;
  int64_t after_step = 0;  // the step before the window's first
  double eval_s = 0.0;     // evaluation time inside the window, left out of the time per step
};

// Writes the metrics line of `step` and updates the progress line; returns why the run must stop ("" to go on).
std::string log_step(Run& run, RunOutput& output, Progress& progress, LogWindow& window, EtaEstimator& eta,
                     const StepResult& r) {
  const int64_t step = run.state.step, max_steps = run.config.train.max_steps;
  const double dt = now_s() - window.start_s, steps_s = std::max(dt - window.eval_s, 0.0);
  const double tps = steps_s > 0 ? window.tokens / steps_s : 0.0;
  eta.add_steps(step - window.after_step, steps_s);
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
                format_duration(eta.remaining(step)).c_str());
  progress.update(line);
  window = {now_s(), 0, step, 0.0};
  return "";
}

std::string not_finite(const StepResult& r) {
  std::string what = std::isfinite(r.loss) ? "the gradient norm is " + std::to_string(r.grad_norm)
                                           : "the loss is " + std::to_string(r.loss);
  return what + ", not finite, so the update is not applied";
}

// What this process did, for the closing line.
struct Totals {
  int64_t first_step = 0, tokens = 0;
  double start_s = 0.0, steps_s = 0.0;  // the loop's start; the time spent in training steps
};

// The closing lines: the time per op (--profile), the allreduce's share, the wall time and mean speed, and
// where the checkpoints are.
void print_end(Run& run, Progress& progress, const TrainOptions& options, const Totals& totals, double profile_start) {
  const int64_t steps = run.state.step - totals.first_step;
  if (options.profile && steps > 0)
    progress.print("time per step (--profile):\n" +
                   profile_report(steps, (now_s() - profile_start) / static_cast<double>(steps)));
  if (run.comm().size() > 1 && steps > 0)
    progress.print(
        "gradient allreduce: " + std::to_string(1000.0 * run.sync->allreduce_seconds() / static_cast<double>(steps)) +
        " ms per step on average");
  char speed[160];
  std::snprintf(speed, sizeof speed, "%lld steps in %s, %.0f tokens/s on average", static_cast<long long>(steps),
                format_duration(now_s() - totals.start_s).c_str(),
                totals.steps_s > 0 ? static_cast<double>(totals.tokens) / totals.steps_s : 0.0);
  // The heap alone: memory-mapped token files add file pages the kernel can drop, never anonymous memory.
  if (options.verbose)
    progress.print("anonymous memory at the end: RssAnon " + std::to_string(anonymous_memory() / 1024) + " kB");
  char best[64];
  std::snprintf(best, sizeof best, "%.4f", run.state.best_val_loss);
  progress.finish("done: step " + std::to_string(run.state.step) + " (" + speed + "); best val loss " + best +
                  "; peak memory " + format_bytes(static_cast<double>(peak_resident_memory())) + " (estimated " +
                  format_bytes(run.memory.total()) + "); checkpoints in " + run.config.train.out_dir);
}

// A signal stopped the run `during` ("step 7", "the evaluation after step 6"): saves the last completed step
// (state.step) and says so.
int stopped(Run& run, RunOutput& output, Progress& progress, const std::string& during) {
  const std::string where = run.config.train.out_dir + "/ckpt.qkv";
  if (std::string failed = output.save("ckpt.qkv"); !failed.empty())
    return output.stop(progress, run.state.step, failed);
  progress.finish("stopped during " + during + "; saved " + where + " at step " + std::to_string(run.state.step) +
                  " (--resume " + where + " continues)");
  return signal_exit_code();
}

// Steps from state.step + 1 to train.max_steps; returns the exit code of train().
int run_steps(Run& run, RunOutput& output, const TrainOptions& options) {
  const TrainConfig& t = run.config.train;
  Comm& comm = run.comm();
  TrainState& state = run.state;
  Progress progress;
  double run_start = now_s() - state.elapsed_s, profile_start = now_s();
  const int64_t accum = grad_accum_of(t, comm.size());
  set_profiling(options.profile);
  LogWindow window{now_s(), 0, state.step, 0.0};
  EtaEstimator eta(t.max_steps, t.eval_interval, t.eval_steps);
  Totals totals{state.step, 0, now_s(), 0.0};
  for (int64_t step = state.step + 1; step <= t.max_steps; ++step) {
    StepResult r;
    const double step_start = now_s();
    try {
      r = train_step(*run.task, *run.optimizer, run.config, step, *run.sync);
    } catch (const Stopped&) {
      return stopped(run, output, progress, "step " + std::to_string(step));  // nothing of it was applied
    }
    totals.steps_s += now_s() - step_start;
    totals.tokens += r.tokens;
    window.tokens += r.tokens;
    state.data_offset = static_cast<uint64_t>(step * accum);
    if (!r.finite) {
      if (!t.skip_nonfinite) return output.stop(progress, step, not_finite(r));
      ++state.skipped;  // the step still advances: the next batch and masks differ
    }
    state.step = step;
    state.elapsed_s = now_s() - run_start;
    std::string failed;
    if (step % t.log_interval == 0 || step == t.max_steps) failed = log_step(run, output, progress, window, eta, r);
    if (failed.empty() && (step % t.eval_interval == 0 || step == t.max_steps)) {
      const double eval_start = now_s();
      try {
        failed = evaluate_and_keep_best(run, output, progress, step);
      } catch (const Stopped&) {
        return stopped(run, output, progress, "the evaluation after step " + std::to_string(step));
      }
      window.eval_s += now_s() - eval_start;
      eta.add_eval(now_s() - eval_start);
    }
    // A signal may reach the ranks between different steps: they stop at the first step any of them saw it.
    bool stop = failed.empty() && comm.any(step == options.stop_at || g_signal != 0);
    if (failed.empty() && (step % t.ckpt_interval == 0 || step == t.max_steps || stop))
      failed = output.save("ckpt.qkv");
    if (!failed.empty()) return output.stop(progress, step, failed);
    if (stop) {
      progress.finish("stopped after step " + std::to_string(step) + "; saved " + t.out_dir + "/ckpt.qkv");
      return signal_exit_code();
    }
  }
  print_end(run, progress, options, totals, profile_start);
  return 0;
}

}  // namespace

int train(const Config& config, const TrainOptions& options) {
  Comm alone;
  Comm& comm = options.comm ? *options.comm : alone;
  SignalScope signals(comm.size() == 1);
  PrecisionScope precision(Precision::fp32);  // the run sets its own; the caller's comes back afterwards
  Run run = set_up_run(config, options, comm);
  if (run.already_done) {
    std::printf(
        "%s already holds this run, finished at step %lld with the same config and data: nothing to "
        "train (--overwrite trains it again)\n",
        run.config.train.out_dir.c_str(), static_cast<long long>(run.config.train.max_steps));
    return 0;
  }
  if (comm.root()) prepare_run_folder(run, options);
  print_start(run, config, options);
  // Only rank 0 writes metrics and checkpoints; the others compute the same steps.
  RunOutput output(run, options.resume);
  return run_steps(run, output, options);
}

}  // namespace qkv
