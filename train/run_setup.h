// Setting up a training run: its config (resumed or given), init_from, the task with its model, the state
// and the optimizer, ready for the first step.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/config.h"
#include "train/data_parallel.h"
#include "train/memory_estimate.h"
#include "train/optim.h"
#include "train/task.h"
#include "train/trainer.h"

namespace qkv {

struct Run {
  Config config;  // resolved: the model from the data, the global batch for these ranks, decay_steps
  std::unique_ptr<TrainTask> task;
  TrainState state;  // the checkpoint's on resume, with this run's data fingerprints
  std::vector<std::pair<std::string, Tensor>> params;
  std::unique_ptr<GradientSync> sync;
  std::unique_ptr<Optimizer> optimizer;
  bool resumed = false;
  bool already_done = false;  // train.out_dir holds this very run, finished: nothing was built
  MemoryEstimate memory;      // of a step, made before the model was built
  double available = -1.0;    // bytes available then (-1: unknown)

  Comm& comm() { return sync->comm(); }
};

// Loads the checkpoint of options.resume (or train.init_from), decides where the run writes and checks that
// folder (NOTE [run folders]), checks the data files on resume, builds the task and, once the memory a step
// needs is known to fit, the model; sets the weights and the optimizer, the threads and the ranks' timeout.
// Messages go to stdout as it goes.
Run set_up_run(const Config& config, const TrainOptions& options, Comm& comm);

}  // namespace qkv
