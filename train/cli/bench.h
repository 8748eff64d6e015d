// qkv bench: the time of one training step (forward, loss, backward, clip, AdamW, zero grads) on random
// batches of a config's model, with no corpus, data loading or evaluation; and the machine's limits beside it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qkv::cli {

struct BenchOptions {
  int64_t steps = 20, warmup = 3, threads = 0;
  double peak_gflops = 0.0;  // the machine's sgemm peak for MFU; 0 measures sgemm at 2048^3 first
  bool json = false;
  bool profile = false;   // also print the time per op, forward and backward
  bool machine = false;   // only the machine: sgemm peak, memcpy bandwidth, BLAS core, threads, CPU
  int64_t generate = 0;   // also time greedy GPT sampling of this many tokens, with and without the KV cache
  bool memory = false;    // only one step: its estimated peak memory beside the measured peak RSS
  std::string precision;  // empty: the config's train.precision (--machine: fp32)
};

// Needs model.vocab_size > 0 (there is no tokenizer). Prints ms/step (median), tokens/s, peak RSS, FLOPs per
// token and MFU twice (against sgemm at 2048^3 and against sgemm on the step's own GEMM shapes), as text or
// (json) one object. A step that cannot fit in the memory available is refused first, as `qkv train` does.
void cmd_bench(const std::string& config, const std::vector<std::string>& overrides, const BenchOptions& options);

// The limits every figure of cmd_bench is set against: sgemm at 2048^3, memcpy bandwidth, BLAS core, threads
// and CPU model, as text or (json) one object.
void cmd_bench_machine(const BenchOptions& options);

}  // namespace qkv::cli
