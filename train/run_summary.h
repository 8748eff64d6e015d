// The lines a run starts with: what it trains, on what, for how long, in how much memory, and where it writes.
#pragma once

#include "train/config.h"
#include "train/run_setup.h"
#include "train/trainer.h"

namespace qkv {

// A short summary in place of the whole config (which goes to out_dir/config.json, and to stdout with
// options.verbose): the model, the tokens per step and the steps, the schedule, the estimated memory, where
// the run writes, and the keys the given config changes from the defaults, as written. A cosine schedule
// whose decay_steps lies past max_steps gets a note: the run would end before its learning rate comes down.
// `given` is the config as the user gave it (unused on resume). Rank 0 prints.
void print_start(Run& run, const Config& given, const TrainOptions& options);

// The keys where `c` differs from the defaults, as key=value with values as JSON writes them
// ("model.block_size=128, optim.lr=0.002"); "" when none.
std::string changed_keys(const Config& c);

}  // namespace qkv
