// The training loop: steps of gradient accumulation, clipping and an optimizer update, with evaluation,
// metrics, checkpoints, exact resume and clean interruption.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/comm.h"
#include "train/config.h"
#include "train/data_parallel.h"
#include "train/optim.h"
#include "train/task.h"

namespace qkv {

struct TrainOptions {
  std::string resume;                  // a checkpoint to continue from (its stored config is used)
  std::vector<std::string> overrides;  // --set: on resume only keys that leave the arithmetic unchanged
  int64_t stop_at = 0;                 // end after this step exactly as an interruption would (0: off)
  bool profile = false;                // print the time per op at the end (includes evaluation's share)
  bool allow_data_change = false;      // resume even if a data file differs from the one the checkpoint recorded
  Comm* comm = nullptr;                // the ranks of a data-parallel job (nullptr: this process alone)
  bool overwrite = false;              // replace the run train.out_dir holds (NOTE [run folders])
  bool verbose = false;                // the whole resolved config at the start, RssAnon at the end
};

// Runs `config` (or the resumed checkpoint's config) and returns the process exit code of docs/DESIGN.md:
// 0 done (or nothing to do: train.out_dir holds this very run, finished); 3 the run could not go on (a
// non-finite loss or parameters, a checkpoint or metrics write that failed), with one line on stderr naming
// the step and the last good checkpoint; 130 / 143 interrupted by SIGINT / SIGTERM (after saving the last
// completed step). A qkv::Error before the first step: a resumed run whose data files differ from the
// recorded ones (unless options.allow_data_change), an out_dir holding another run (NOTE [run folders]), a
// step that cannot fit in memory, a split shorter than one window.
int train(const Config& config, const TrainOptions& options);

// One update (step counted from 1): this rank's micro-batches of the step's global batch, the gradients summed
// over the ranks, clipping, and the optimizer step when the loss and gradient norm are finite. The trainer
// and `qkv step` both use it, so they compute the same thing.
struct StepResult {
  double loss = 0.0;  // the mean over the counted tokens of the whole global batch
  float lr = 0.0f, grad_norm = 0.0f;
  int64_t tokens = 0;  // over all ranks
  bool finite = true;
};
// `after_backward` runs once the gradients are summed over the ranks, before clipping (`qkv step` records
// them). `batches` receives this rank's micro-batches.
StepResult train_step(TrainTask& task, Optimizer& optimizer, const Config& config, int64_t step, GradientSync& sync,
                      std::vector<MicroBatch>* batches = nullptr, const std::function<void()>& after_backward = {});

// Micro-batches per update and rank: global_batch / (batch_size x ranks) when global_batch is given, else
// grad_accum.
int64_t grad_accum_of(const TrainConfig& t, int ranks = 1);

// The keys --set may change on resume: everything else would change the arithmetic of the run.
bool resumable_override(const std::string& key);

}  // namespace qkv
