// Learning-rate schedules: constant, linear warmup + cosine decay (nanoGPT), and Noam (Vaswani et al.).
#pragma once

#include <cstdint>

#include "train/optim.h"

namespace qkv {

// The learning rate for the update at `step` (counted from 1), from config.schedule:
//   constant: lr
//   cosine:   lr * s / warmup_steps                                  for s <= warmup_steps
//             min_lr + 0.5 * (1 + cos(pi * r)) * (lr - min_lr),
//               r = (s - warmup_steps) / (decay - warmup_steps)      for warmup_steps < s <= decay
//             min_lr                                                 for s > decay
//             where decay = decay_steps, or max_steps when decay_steps is 0 (nanoGPT's get_lr with steps from 1)
//   noam:     lr * d_model^-0.5 * min(s^-0.5, s * warmup_steps^-1.5) (lr is the paper's factor)
// Throws qkv::Error for step < 1, and for noam when d_model < 1 or warmup_steps < 1.
float learning_rate(const OptimConfig& config, int64_t step, int64_t max_steps, int64_t d_model);

}  // namespace qkv
