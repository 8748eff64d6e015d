// The training loop: steps of gradient accumulation, clipping and an optimizer update, with evaluation,
// metrics, checkpoints, exact resume and clean interruption.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/config.h"

namespace qkv {

struct TrainOptions {
  std::string resume;                  // a checkpoint to continue from (its stored config is used)
  std::vector<std::string> overrides;  // --set: on resume only keys that leave the arithmetic unchanged
  int64_t stop_at = 0;                 // end after this step exactly as an interruption would (0: off)
};

// Runs `config` (or the resumed checkpoint's config) and returns the process exit code of DESIGN.md:
// 0 done, 3 a non-finite loss stopped the run, 130 / 143 interrupted by SIGINT / SIGTERM (after saving).
int train(const Config& config, const TrainOptions& options);

// The keys --set may change on resume: everything else would change the arithmetic of the run.
bool resumable_override(const std::string& key);

}  // namespace qkv
