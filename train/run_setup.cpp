#include "train/run_setup.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

#include "core/archive.h"
#include "core/error.h"
#include "core/memory_info.h"
#include "core/ops.h"
#include "core/threads.h"
#include "train/data_files.h"
#include "train/model_io.h"
#include "train/run_folder.h"

namespace qkv {
namespace {

// Fine-tuning from a checkpoint keeps its tokenizer, so that its embeddings mean the same tokens (as BERT
// users expect); a tokenizer without the specials this task needs cannot serve, and a new one is trained.
std::optional<Tokenizer> init_from_tokenizer(const Checkpoint& from, Config& config) {
  Tokenizer tokenizer = checkpoint_tokenizer(from, config.train.init_from);
  for (const std::string& name : task_specials(config.data.task))
    if (tokenizer.special(name) < 0) {
      std::printf(
          "init_from %s: its tokenizer has no %s token, so this run trains its own and the embeddings do "
          "not carry over\n",
          config.train.init_from.c_str(), name.c_str());
      return std::nullopt;
    }
  std::printf("init_from %s: using its %s tokenizer (%d tokens) in place of data.tokenizer\n",
              config.train.init_from.c_str(), name(tokenizer.kind()), tokenizer.size());
  config.data.tokenizer = {tokenizer.kind(), ""};
  if (tokenizer.kind() == TokenizerKind::Bpe) config.data.vocab_size = tokenizer.size();
  return tokenizer;
}

// The model's shape from init_from's checkpoint where the config leaves it (NOTE [init_from architecture]).
Config init_from_architecture(const Checkpoint& from, const Config& config) {
  const std::string& path = config.train.init_from;
  const Config theirs = checkpoint_config(from, path);
  Config c = with_architecture_of(config, theirs);
  std::string taken;
  for (const char* key : kArchitectureKeys)
    if (!config.given.count(key)) taken += std::string(taken.empty() ? "" : ", ") + (key + 6);
  if (!taken.empty())
    std::printf("init_from %s: its model: %s, %lld layers, %lld heads, d_model %lld, block_size %lld (%s from it)\n",
                path.c_str(), name(c.model.kind), static_cast<long long>(c.model.n_layer),
                static_cast<long long>(c.model.n_head), static_cast<long long>(c.model.d_model),
                static_cast<long long>(c.model.block_size), taken.c_str());
  QKV_CHECK(c.model.positions != Positions::Learned || c.model.block_size <= theirs.model.block_size,
            "config: model.block_size ", c.model.block_size, " is larger than the ", theirs.model.block_size,
            " learned positions of init_from ", path, " (a smaller block_size keeps its first positions)");
  return c;
}

// Learned position tables longer than the model's block keep their first rows, as nanoGPT's crop_block_size.
void crop_positions(std::vector<std::pair<std::string, Tensor>>& params, int64_t block_size, const std::string& from) {
  for (auto& [pname, t] : params) {
    const bool table = pname.size() >= 10 && pname.compare(pname.size() - 10, 10, "wpe.weight") == 0;
    if (!table || t.shape().size() != 2 || t.shape()[0] <= block_size) continue;
    std::printf("init_from %s: %s cropped from %lld to %lld positions\n", from.c_str(), pname.c_str(),
                static_cast<long long>(t.shape()[0]), static_cast<long long>(block_size));
    t = slice(t, 0, 0, block_size);
  }
}

// Applies --set to a stored config, refusing keys that would change what the run computes.
Config resumed_config(const Config& stored, const std::vector<std::string>& overrides) {
  nlohmann::json j = to_json(stored);
  for (const std::string& o : overrides) {
    std::string key = o.substr(0, o.find('='));
    QKV_CHECK(resumable_override(key), "--set ", key,
              " cannot change on --resume: it would change the run's "
              "arithmetic (allowed: train.max_steps, the intervals, train.out_dir, train.threads, train.precision)");
    apply_override(j, o);
  }
  return parse_config(j);
}

// NOTE [ranks and resume]: the data of a step is its global batch (NOTE [batch keys]), so a run keeps its data
// order on any number of ranks as long as its global batch stays the same. A run on several ranks therefore
// records its global batch in train.global_batch; a resumed run keeps the global batch it had, and says so
// when the new number of ranks cannot split it.
void resolve_global_batch(TrainConfig& t, int ranks, bool resuming) {
  if (t.global_batch > 0) {
    if (t.global_batch % (t.batch_size * ranks) == 0) return;
    QKV_CHECK(resuming, "config: train.global_batch ", t.global_batch, " is not a multiple of train.batch_size ",
              t.batch_size, " x ", ranks, " rank(s)");
  } else if (ranks == 1) {
    return;
  } else if (resuming && (t.batch_size * t.grad_accum) % (t.batch_size * ranks) == 0) {
    t.global_batch = t.batch_size * t.grad_accum;  // the single-process run's global batch
    return;
  }
  int64_t kept = t.global_batch > 0 ? t.global_batch : t.batch_size * t.grad_accum;
  t.global_batch = t.batch_size * t.grad_accum * ranks;
  if (resuming)
    std::printf(
        "note: the run's global batch of %lld cannot be split into batch_size %lld x %d ranks; it continues "
        "with a global batch of %lld, so its data order differs from here on\n",
        static_cast<long long>(kept), static_cast<long long>(t.batch_size), ranks,
        static_cast<long long>(t.global_batch));
}

// The config the run trains with: the checkpoint's on resume (with the allowed --set), the global batch for
// these ranks, decay_steps fixed for the run. Also sets the threads and the ranks' timeout.
Config run_config(const Config& given, const TrainOptions& options, Comm& comm,
                  const std::optional<LoadedCheckpoint>& resumed) {
  Config config = resumed ? resumed_config(resumed->config, options.overrides) : given;
  // NOTE [run folders]: a resumed run continues where its checkpoint is, not in the folder its config names
  // (which may be the original of a copied folder).
  const bool out_dir_set = std::any_of(options.overrides.begin(), options.overrides.end(),
                                       [](const std::string& o) { return o.rfind("train.out_dir=", 0) == 0; });
  if (resumed && !out_dir_set) config.train.out_dir = resume_folder(options.resume);
  resolve_global_batch(config.train, comm.size(), resumed.has_value());
  comm.set_timeout(config.train.comm_timeout);
  // The ranks on one machine share its cores.
  int threads = static_cast<int>(config.train.threads);
  if (threads == 0 && comm.local_size() > 1)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / comm.local_size());
  set_threads(threads);
  set_precision(config.train.precision);
  if (resumed && config.train.precision != resumed->config.train.precision)
    std::printf(
        "note: the run was trained in %s and continues in %s: it goes on from the same weights, but not "
        "bit for bit as it would have in %s\n",
        name(resumed->config.train.precision), name(config.train.precision), name(resumed->config.train.precision));
  if (config.optim.decay_steps == 0) config.optim.decay_steps = config.train.max_steps;
  return config;
}

// The weights and state: the checkpoint's on resume; else the seed's initialisation, under init_from's
// parameters where it has them.
void init_parameters(Run& run, const std::optional<LoadedCheckpoint>& resumed, const std::optional<Checkpoint>& from) {
  AnyModel& model = run.task->model();
  if (resumed) {
    load_parameters(model.module(), resumed->raw.params);
    run.state = resumed->raw.state;
    return;
  }
  init_weights(model, run.config.train.seed);
  if (!from) return;
  std::vector<std::pair<std::string, Tensor>> params = from->params;
  crop_positions(params, run.config.model.block_size, run.config.train.init_from);
  std::vector<std::string> skipped = load_parameters(model.module(), params, false);
  std::printf("init_from %s: %zu parameters kept their initialisation:", run.config.train.init_from.c_str(),
              skipped.size());
  for (const std::string& s : skipped) std::printf(" %s", s.c_str());
  std::printf("\n");
}

// The same start on every rank, whatever each one read, and the optimizer (with its state on resume).
void set_up_optimizer(Run& run, Comm& comm, const std::optional<LoadedCheckpoint>& resumed,
                      const TrainOptions& options) {
  Module& module = run.task->model().module();
  run.params = module.named_parameters();
  run.sync = std::make_unique<GradientSync>(comm, module.parameters());
  run.sync->broadcast_parameters();
  run.optimizer = std::make_unique<Optimizer>(run.params, run.config.optim);
  if (resumed && !resumed->raw.optimizer.empty()) {
    ArchiveReader r(resumed->raw.optimizer, options.resume + " (optimizer)");
    run.optimizer->read(r);
  }
}

}  // namespace

bool resumable_override(const std::string& key) {
  return key == "train.max_steps" || key == "train.eval_interval" || key == "train.log_interval" ||
         key == "train.ckpt_interval" || key == "train.out_dir" || key == "train.threads" || key == "train.precision";
}

Run set_up_run(const Config& given, const TrainOptions& options, Comm& comm) {
  std::optional<LoadedCheckpoint> resumed;
  if (!options.resume.empty()) resumed.emplace(load_model(options.resume));
  Run run;
  run.resumed = resumed.has_value();
  run.config = run_config(given, options, comm, resumed);
  // The data files first: a missing or changed file is the more basic mistake, and on resume a changed corpus
  // may no longer tokenize, which would hide the cause. The task reads the files where they were found; the
  // config keeps the paths as given.
  Config reading = run.config;
  std::vector<DataFingerprint> data =
      resumed ? check_recorded_data(resumed->raw.state.data, reading.data, options.resume, options.allow_data_change)
              : fingerprint_data(run.config.data);
  // Rank 0 writes, so rank 0 decides; the others follow (an error on rank 0 ends every rank).
  FolderUse use = comm.root() ? check_run_folder(resumed ? run.config : given, data, options.resume,
                                                 resumed ? resumed->raw.state.step : -1, options.overwrite)
                              : FolderUse::kWrite;
  if (comm.any(use == FolderUse::kAlreadyDone)) {
    run.already_done = true;
    return run;
  }
  std::optional<Checkpoint> from;  // train.init_from: its weights, and its tokenizer when the task can use it
  std::optional<Tokenizer> from_tokenizer;
  if (!resumed && !run.config.train.init_from.empty()) {
    from.emplace(with_key("train.init_from", [&] { return load_checkpoint(run.config.train.init_from); }));
    run.config = init_from_architecture(*from, run.config);
    from_tokenizer = init_from_tokenizer(*from, run.config);
    reading.data = run.config.data;  // init_from's tokenizer replaces data.tokenizer
    reading.model = run.config.model;
  }
  auto fits = [&](const Config& c) {  // before the model is built: refuse a step that cannot fit
    run.memory = estimate_memory(c, qkv::threads(), static_cast<double>(resident_memory()));
    run.available = static_cast<double>(available_memory());
    check_memory(run.memory, run.available, comm.local_size());
  };
  run.task = resumed ? make_task(reading, resumed->tokenizer, resumed->labels, fits)
                     : make_task(reading, from_tokenizer, {}, fits);
  run.config.model = reading.model;  // resolved from the data
  init_parameters(run, resumed, from);
  run.state.data = data;
  set_up_optimizer(run, comm, resumed, options);
  run.task->model().module().train();
  return run;
}

}  // namespace qkv
