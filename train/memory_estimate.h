// The peak memory of a training step, estimated from the config before anything is allocated.
#pragma once

#include <cstdint>
#include <string>

#include "train/config.h"

namespace qkv {

// NOTE [memory estimate]: bytes, by what holds them. A step's peak is at the start of the backward pass:
// every activation the forward pass saved is alive, with the weights, their gradients and the optimizer's
// moments. Activations are counted per token of a micro-batch (batch_size x block_size) from what each
// layer saves (tests/train/test_memory_estimate.cpp and tests/cli/test_newcomer.sh check the total against
// the measured peak RSS).
struct MemoryEstimate {
  int64_t params = 0;        // parameter count
  double weights = 0.0;      // parameters and their gradients
  double optimizer = 0.0;    // the optimizer's moments
  double activations = 0.0;  // saved for the backward pass, with the caching allocator's overhead
  double workspace = 0.0;    // attention's per-thread scratch
  double cache = 0.0;        // freed blocks the allocator keeps while evaluation and sampling ask other sizes
  double resident = 0.0;     // what the process holds before the model is built (code, data, tokenizer)

  double step() const { return weights + optimizer + activations + workspace + cache; }  // still to be allocated
  double total() const { return resident + step(); }
};

// `config.model` must be resolved (vocab_size known); `resident` is the process's RSS now.
MemoryEstimate estimate_memory(const Config& config, int threads, double resident);

// Throws qkv::Error (exit 2) naming the estimate and what is available when a step cannot fit: step() x
// `processes` (the ranks sharing this machine) above `available` bytes. `available` < 0 (unknown) passes.
void check_memory(const MemoryEstimate& m, double available, int processes);

// "1.3 GB", "820 MB": decimal units, two or three significant digits.
std::string format_bytes(double bytes);

}  // namespace qkv
