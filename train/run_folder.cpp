#include "train/run_folder.h"

#include <filesystem>

#include "core/error.h"
#include "train/model_io.h"

namespace qkv {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRunFiles[] = {"ckpt.qkv", "best.qkv", "metrics.jsonl", "config.json"};

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

// The folder of a path as a path to pass on: "." for a bare file name.
std::string folder_of(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// The keys that do not change what a run computes: a rerun that differs only in them is the same run. (The
// thread count is not one of them: GEMMs are split by it, and so are their bits.)
void take_unchanging_keys(Config& given, const Config& stored) {
  given.train.comm_timeout = stored.train.comm_timeout;
  given.train.out_dir = stored.train.out_dir;
}

// The given config as the run would resolve and store it, where the run fills a value in (0 means "from the
// data" or "from max_steps").
Config resolved_like(Config given, const Config& stored) {
  if (given.model.vocab_size == 0) given.model.vocab_size = stored.model.vocab_size;
  if (given.model.n_classes == 0) given.model.n_classes = stored.model.n_classes;
  if (given.optim.decay_steps == 0) given.optim.decay_steps = given.train.max_steps;
  if (given.train.global_batch == 0) given.train.global_batch = stored.train.global_batch;
  if (!given.train.init_from.empty()) {  // init_from may replace the tokenizer with its own, and gives the shape
    given = with_architecture_of(given, stored);
    given.data.tokenizer = stored.data.tokenizer;
    given.data.vocab_size = stored.data.vocab_size;
  }
  take_unchanging_keys(given, stored);
  return given;
}

// Whether the folder's ckpt.qkv is this very run, trained to its last step on the same bytes of data.
bool same_finished_run(const Config& given, const std::vector<DataFingerprint>& now, const FolderRun& folder) {
  if (!folder.latest) return false;
  const Checkpoint& c = *folder.latest;
  Config stored;
  try {
    stored = checkpoint_config(c, folder.dir + "/ckpt.qkv");
  } catch (const Error&) {
    return false;
  }
  if (c.state.step != stored.train.max_steps || c.state.data.empty()) return false;
  if (to_json(resolved_like(given, stored)) != to_json(stored)) return false;
  if (now.size() != c.state.data.size()) return false;
  for (size_t i = 0; i < now.size(); ++i)
    if (now[i].key != c.state.data[i].key || !now[i].same_bytes(c.state.data[i])) return false;
  return true;
}

}  // namespace

std::string FolderRun::describe() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (ckpt) add(latest ? "ckpt.qkv at step " + std::to_string(latest->state.step) : "ckpt.qkv (unreadable)");
  if (best) add("best.qkv");
  if (metrics) add("metrics.jsonl");
  return s;
}

FolderRun look_into(const std::string& dir) {
  FolderRun f;
  f.dir = dir;
  f.ckpt = exists(dir + "/ckpt.qkv");
  f.best = exists(dir + "/best.qkv");
  f.metrics = exists(dir + "/metrics.jsonl");
  return f;
}

void FolderRun::read_latest() {
  if (ckpt && !latest) try {
      latest = load_checkpoint(dir + "/ckpt.qkv");
    } catch (const Error&) {
    }
}

std::string resume_folder(const std::string& checkpoint) { return folder_of(checkpoint); }

FolderUse check_run_folder(const Config& config, const std::vector<DataFingerprint>& data,
                           const std::string& resumed_from, int64_t resumed_step, bool overwrite) {
  const std::string& dir = config.train.out_dir;
  FolderRun folder = look_into(dir);
  if (!folder.holds_run() || overwrite) return FolderUse::kWrite;
  if (!resumed_from.empty() && folder.ckpt && same_file(resumed_from, dir + "/ckpt.qkv")) return FolderUse::kWrite;
  folder.read_latest();
  if (resumed_from.empty()) {
    if (same_finished_run(config, data, folder)) return FolderUse::kAlreadyDone;
    QKV_FAIL("train.out_dir ", dir, " already holds a run (", folder.describe(),
             ") and a new run would replace it: continue it with --resume ", dir,
             "/ckpt.qkv, start beside it with --set train.out_dir=", dir, "-2, or replace it with --overwrite");
  }
  if (same_file(folder_of(resumed_from), dir)) {
    if (folder.ckpt_step() <= resumed_step) return FolderUse::kWrite;
    QKV_FAIL("--resume ", resumed_from, " (step ", resumed_step, "): ", dir, "/ckpt.qkv is newer (step ",
             folder.ckpt_step(), "), and resuming into ", dir, " would replace it and log steps ", resumed_step + 1,
             " to ", folder.ckpt_step(), " again: resume into another folder with --set train.out_dir=", dir, "-from-",
             resumed_step, ", or replace the newer files with --overwrite");
  }
  QKV_FAIL("--resume ", resumed_from, " would write into train.out_dir ", dir, ", which holds another run (",
           folder.describe(),
           "): give a folder of its own with --set train.out_dir=..., or replace that run with "
           "--overwrite");
}

void clear_run_folder(const std::string& dir, const std::string& resumed_from) {
  const bool inside = !resumed_from.empty() && same_file(folder_of(resumed_from), dir);
  for (const char* file : kRunFiles) {
    std::string path = dir + "/" + file;
    if (!resumed_from.empty() && same_file(path, resumed_from)) continue;
    if (inside && std::string(file) == "metrics.jsonl") continue;  // kept up to the resumed step
    std::error_code ec;
    fs::remove(path, ec);
    QKV_CHECK(!ec, path, ": cannot be removed for --overwrite: ", ec.message());
  }
}

void check_checkpoint_target(const std::string& path, bool overwrite, const char* command) {
  if (overwrite || !exists(path)) return;
  std::optional<Checkpoint> there;
  try {
    there = load_checkpoint(path);
  } catch (const Error&) {
    return;  // not a checkpoint: the user named the file to write
  }
  QKV_CHECK(there->state.step == 0, command, ": --out ", path, " is the checkpoint of a trained run (step ",
            there->state.step, "); writing there would lose it: choose another --out, or pass --overwrite");
}

}  // namespace qkv
