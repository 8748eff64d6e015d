// Where a run writes, and the rule that a run never replaces another run's files without being told to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "train/checkpoint.h"
#include "train/config.h"

namespace qkv {

// What a folder holds of a run.
struct FolderRun {
  std::string dir;
  bool ckpt = false, best = false, metrics = false;
  std::optional<Checkpoint> latest;  // ckpt.qkv once read_latest() loaded it

  void read_latest();  // loads ckpt.qkv, if there is one and it loads
  bool holds_run() const { return ckpt || best || metrics; }
  int64_t ckpt_step() const { return latest ? latest->state.step : -1; }
  std::string describe() const;  // "ckpt.qkv at step 800, best.qkv, metrics.jsonl"
};
FolderRun look_into(const std::string& dir);  // which files are there; no checkpoint read yet

// The folder a resumed run writes to unless --set train.out_dir names another: the one holding the checkpoint.
std::string resume_folder(const std::string& checkpoint);

// What a run about to start does with its folder.
enum class FolderUse {
  kWrite,        // the folder holds no other run's files (or --overwrite): the run writes there
  kAlreadyDone,  // a new run whose config and data match the finished run the folder holds: nothing to do
};

// NOTE [run folders]: a run never replaces the files of another run unless --overwrite says so.
// - A new run needs a train.out_dir holding no run (no ckpt.qkv, best.qkv or metrics.jsonl). When it holds
//   the finished run of the same config and data, training again would write the same bits (runs are
//   repeatable), so there is nothing to do; otherwise the run is refused, naming --resume, another out_dir
//   and --overwrite.
// - A resumed run writes to resume_folder() or the train.out_dir --set names. It may write there when the folder holds
// no run, when its
//   ckpt.qkv is the checkpoint resumed, or when the checkpoint lies in that folder and is not older than its
//   ckpt.qkv (best.qkv of the latest step). Anything else would replace newer or unrelated files.
// `data` are the run's data files as they are now; `resumed_from` and `resumed_step` are empty and -1 for a
// new run. Throws qkv::Error when refused.
FolderUse check_run_folder(const Config& config, const std::vector<DataFingerprint>& data,
                           const std::string& resumed_from, int64_t resumed_step, bool overwrite);

// With --overwrite: removes the files of the run being replaced from `dir`, once the new run is set up (a
// config error leaves them). A resumed run keeps the checkpoint it resumed from, and, when that lies in
// `dir`, the metrics up to its step.
void clear_run_folder(const std::string& dir, const std::string& resumed_from);

// Refuses (qkv::Error) to write a checkpoint over `path` when it holds a trained run's checkpoint, unless
// overwrite: `qkv init --out` and `qkv import --out` over a run's ckpt.qkv would throw its training away.
void check_checkpoint_target(const std::string& path, bool overwrite, const char* command);

}  // namespace qkv
