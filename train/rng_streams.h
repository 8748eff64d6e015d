// The random streams keyed by a run's train.seed, named in one place so that no two uses share numbers.
#pragma once

#include <cstdint>

namespace qkv {

// Rng(train.seed, stream). Dropout draws from the same key with streams (micro-batch index << 20) | call
// (nn/layers.h), so micro-batch 0's call 77 meets kMlmEvalStream; they never run in one process.
constexpr uint64_t kInitStream = 0x1417;  // weight initialisation (init_weights)
constexpr uint64_t kMlmEvalStream = 77;   // the masks of `qkv eval` on an MLM checkpoint
constexpr uint64_t kBenchStream = 99;     // the random inputs and targets of `qkv bench`

// The purposes of batch_rng(train.seed, purpose, index) (NOTE [batch keys]), which go into the key's top byte.
constexpr uint64_t kTrainBatches = 1;      // training: index step - 1 (seq2seq: the epoch)
constexpr uint64_t kEvalTrainBatches = 2;  // evaluation on the train split: index the step
constexpr uint64_t kEvalValBatches = 3;    // evaluation on the val split: index the step

// Sampling draws from stream 0 of its own seed: `--seed` of `qkv sample` and `qkv demo`, and train.seed + step
// for the sample the trainer shows at an evaluation.

}  // namespace qkv
