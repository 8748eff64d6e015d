// Evaluation during training: losses on train and val batches, the task's metric, a sample, and best.qkv.
#pragma once

#include <cstdint>
#include <string>

#include "train/metrics.h"
#include "train/run_output.h"
#include "train/run_setup.h"

namespace qkv {

// Evaluates the model after `step` on batches drawn for that step (NOTE [batch keys]), writes the metrics
// line and prints it with the task's sample, and saves best.qkv when the val loss is the lowest so far
// (state.best_val_loss). Leaves the model in training mode. Returns why the run must stop ("" to go on).
std::string evaluate_and_keep_best(Run& run, RunOutput& output, Progress& progress, int64_t step);

}  // namespace qkv
