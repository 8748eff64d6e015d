// What a training run writes: checkpoints and metrics.jsonl lines in its out_dir (rank 0 only), and, when it
// must stop, the one line on stderr naming the last good checkpoint.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "train/metrics.h"
#include "train/run_setup.h"

namespace qkv {

// Readies train.out_dir on rank 0 before the first step: creates it; with --overwrite removes the files of
// the run it replaces (clear_run_folder); on resume keeps metrics.jsonl only up to the resumed step, so that
// no step is logged twice; and writes config.json, the resolved config as checkpoints store it.
void prepare_run_folder(const Run& run, const TrainOptions& options);

// A write that fails (a full disk, non-finite weights) is returned as why, for the caller to stop the run
// with exit 3; every rank learns of it, so that all stop together.
class RunOutput {
 public:
  // Opens out_dir/metrics.jsonl on rank 0, appending on resume.
  RunOutput(Run& run, const std::string& resumed_from);

  // Writes out_dir/file with the run as it is now ("" when written); a failed write leaves the previous
  // file as it was (write_file_atomic). ckpt.qkv becomes the last good checkpoint.
  std::string save(const std::string& file);
  // Appends one metrics line ("" when written).
  std::string write_metrics(const nlohmann::json& line);
  // Exit 3 (docs/DESIGN.md): the run cannot go on. One line on stderr says where and what is kept.
  int stop(Progress& progress, int64_t step, const std::string& why);

 private:
  std::string write_checkpoint(const std::string& file) const;  // rank 0's part of save()

  // The checkpoint a stopped run can continue from.
  struct LastGood {
    std::string path;  // empty: none written yet
    int64_t step = 0;
  };

  Run& run_;
  std::string out_dir_;
  std::optional<MetricsLog> metrics_;
  LastGood last_good_;
};

}  // namespace qkv
