// Checkpoints (.qkv): everything a run needs to continue exactly, in one checked, versioned, atomic file.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace qkv {

// A data file as the run found it when it started: --resume compares it with the file on disk, because a
// changed corpus silently changes what the resumed run trains on (the batch stream is positions in it).
struct DataFingerprint {
  std::string key;       // the config key naming the file: data.train or data.val
  std::string path;      // as the config gives it
  std::string absolute;  // where it was read, so that a resume from another folder finds it ("" before version 3)
  uint64_t size = 0, fnv1a64 = 0;
  bool same_bytes(const DataFingerprint& o) const { return size == o.size && fnv1a64 == o.fnv1a64; }
  bool operator==(const DataFingerprint&) const = default;
};

// Where a run stands between two steps. Dropout masks and evaluation batches are keyed by (seed, step),
// so besides the step only the training batch stream has state to keep.
struct TrainState {
  int64_t step = 0;                   // updates done
  uint64_t data_offset = 0;           // position of the training batch stream (Rng offset)
  double best_val_loss = NAN;         // NaN until the first evaluation
  int64_t skipped = 0;                // updates skipped for a non-finite loss
  double elapsed_s = 0.0;             // training time so far
  std::vector<DataFingerprint> data;  // empty for untrained checkpoints and format version 1 (not recorded)
};

// NOTE [checkpoint format]: 8 bytes of magic "QKVCKPT1", a uint32 format version, a uint64 payload length
// and the payload's FNV-1a 64 checksum, then the payload: a checked archive (core/archive.h) of
//   config (resolved JSON text), tokenizer (its own archive, as bytes), parameters (count, then name, rank,
//   dims, values each), optimizer state (its own archive, as bytes; empty for an untrained checkpoint),
//   train state (step, data position, best val loss, skipped, elapsed; from version 2 the data fingerprints:
//   count, then key, path, (from version 3) absolute path, size, FNV-1a 64 each).
// The version changes whenever this layout does. Versions 1 (no data fingerprints) and 2 (no absolute paths)
// are still read; other versions are refused with a message.
struct Checkpoint {
  std::string config_json;
  std::string tokenizer;
  std::vector<std::pair<std::string, Tensor>> params;
  std::string optimizer;
  TrainState state;
};

constexpr uint32_t kCheckpointVersion = 3;
constexpr uint32_t kOldestCheckpointVersion = 1;

// Written to PATH.tmp, flushed, then renamed over PATH.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Checks magic, version, length and checksum before reading anything else; every failure is a qkv::Error.
Checkpoint load_checkpoint(const std::string& path);
// The same checks on a checkpoint's bytes already in memory; `source` names them in error messages.
Checkpoint parse_checkpoint(std::string_view bytes, const std::string& source);

// Copies `params` into the model's parameters by name. Strict: every name must match both ways with the
// same shape, else one error lists what is missing, unexpected or of another shape. Not strict: loads the
// matching ones and returns the names it skipped (for init_from).
std::vector<std::string> load_parameters(Module& model, const std::vector<std::pair<std::string, Tensor>>& params,
                                         bool strict = true);

}  // namespace qkv
