#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/archive.h"
#include "core/ops.h"
#include "core/threads.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/model_io.h"
#include "train/optim.h"
#include "train/schedule.h"
#include "train/task.h"

namespace qkv {
namespace {

// Fine-tuning from a checkpoint keeps its tokenizer, so that its embeddings mean the same tokens (as BERT
// users expect); a tokenizer without the specials this task needs cannot serve, and a new one is trained.
std::optional<Tokenizer> init_from_tokenizer(const Checkpoint& from, Config& config) {
  ArchiveReader r(from.tokenizer, config.train.init_from + " (tokenizer)");
  Tokenizer tokenizer = Tokenizer::read(r);
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

// NOTE [signals]: the handler may only set a flag; the loop checks it between steps, saves and exits.
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }

struct SignalScope {
  SignalScope() {
    g_signal = 0;
    previous_int_ = std::signal(SIGINT, on_signal);
    previous_term_ = std::signal(SIGTERM, on_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// Applies --set to a stored config, refusing keys that would change what the run computes.
Config resumed_config(const Config& stored, const std::vector<std::string>& overrides) {
  nlohmann::json j = to_json(stored);
  for (const std::string& o : overrides) {
    std::string key = o.substr(0, o.find('='));
    QKV_CHECK(resumable_override(key), "--set ", key,
              " cannot change on --resume: it would change the run's "
              "arithmetic (allowed: train.max_steps, the intervals, train.out_dir, train.threads)");
    apply_override(j, o);
  }
  return parse_config(j);
}

// The data files a run reads, fingerprinted as they are now.
std::vector<DataFingerprint> fingerprint_data(const DataConfig& d) {
  std::vector<DataFingerprint> out;
  for (const auto& [key, path] : {std::pair<const char*, std::string>{"data.train", d.train}, {"data.val", d.val}}) {
    if (path.empty()) continue;
    FileHash h = hash_file(path);
    out.push_back({key, path, h.size, h.fnv1a64});
  }
  return out;
}

std::string describe(uint64_t size, uint64_t hash) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::to_string(size) + " bytes, FNV-1a 64 " + hex;
}

// NOTE [data change]: the batch stream of a resumed run is positions in the corpus, so a changed file would
// silently train on other text than the run it continues. The files are compared with what the checkpoint
// recorded; a mismatch stops unless the user says it is intended. Returns the fingerprints for this run.
std::vector<DataFingerprint> checked_data(const std::vector<DataFingerprint>& recorded, const Config& config,
                                          const TrainOptions& options) {
  std::vector<DataFingerprint> now = fingerprint_data(config.data);
  if (recorded.empty())
    std::printf("note: %s records no data files (untrained, or written by an older qkv): not checked\n",
                options.resume.c_str());
  for (const DataFingerprint& was : recorded) {
    auto it = std::find_if(now.begin(), now.end(), [&](const DataFingerprint& f) { return f.key == was.key; });
    if (it != now.end() && *it == was) continue;
    std::string what = was.key + " " + was.path + " is not the file " + options.resume + " was trained on: recorded " +
                       describe(was.size, was.fnv1a64) + ", now " +
                       (it == now.end() ? std::string("not given") : describe(it->size, it->fnv1a64));
    QKV_CHECK(options.allow_data_change, what, "; pass --allow-data-change to resume on it anyway");
    std::fprintf(stderr, "qkv: warning: %s; resuming anyway (--allow-data-change)\n", what.c_str());
  }
  return now;
}

// The first parameter holding a NaN or an infinity ("" when none): such weights must never reach a checkpoint.
std::string non_finite_parameter(const std::vector<std::pair<std::string, Tensor>>& params) {
  for (const auto& [name, p] : params) {
    const float* v = p.data();
    for (int64_t i = 0; i < p.numel(); ++i)
      if (!std::isfinite(v[i])) return name;
  }
  return "";
}

// The checkpoint a stopped run can continue from.
struct LastGood {
  std::string path;  // empty: none written yet
  int64_t step = 0;
};

// Exit 3 (docs/DESIGN.md): the run cannot go on. One line on stderr says where and what is kept.
int stop_run(Progress& progress, int64_t step, const std::string& why, const LastGood& last, const Comm& comm) {
  progress.close();
  if (!comm.root()) return 3;  // every rank stops; one says why
  std::string kept = last.path.empty()
                         ? "no checkpoint has been written yet"
                         : "the last good checkpoint is " + last.path + " (step " + std::to_string(last.step) + ")";
  std::fprintf(stderr, "qkv: error: step %lld: %s; stopping: %s\n", static_cast<long long>(step), why.c_str(),
               kept.c_str());
  return 3;
}

}  // namespace

int64_t grad_accum_of(const TrainConfig& t, int ranks) {
  int64_t per_micro = t.batch_size * ranks;
  QKV_CHECK(t.global_batch == 0 || t.global_batch % per_micro == 0, "config: train.global_batch ", t.global_batch,
            " is not a multiple of train.batch_size ", t.batch_size, " x ", ranks, " rank(s)");
  return t.global_batch > 0 ? t.global_batch / per_micro : t.grad_accum;
}

// NOTE [data parallel]: a step's loss is the mean over the counted tokens (or examples) of its whole global
// batch, as one process holding that batch computes it, whatever the split into ranks and micro-batches.
// Each micro-batch runs backward on its mean times its count (its sum); the sums of gradients are added over
// the ranks and divided by the global count. Alone with one micro-batch, the mean's backward is that already.
StepResult train_step(TrainTask& task, Optimizer& optimizer, const Config& config, int64_t step, GradientSync& sync,
                      std::vector<MicroBatch>* batches, const std::function<void()>& after_backward) {
  const TrainConfig& t = config.train;
  Comm& comm = sync.comm();
  const int64_t ranks = comm.size(), accum = grad_accum_of(t, comm.size()), B = t.batch_size;
  const bool summed = accum * ranks > 1;
  StepResult r;
  r.lr = learning_rate(config.optim, step, t.max_steps, config.model.d_model);
  {
    ProfileScope profile("zero_grad");
    optimizer.zero_grad();
  }
  double totals[3] = {0.0, 0.0, 0.0};  // loss x count, count, tokens
  for (int64_t micro = 0; micro < accum; ++micro) {
    BatchSlice slice{B * accum * ranks, static_cast<uint64_t>(step - 1), (comm.rank() * accum + micro) * B, B};
    uint64_t index = static_cast<uint64_t>(((step - 1) * accum + micro) * ranks + comm.rank());
    task.model().dropout_context().begin(t.seed, index);  // dropout masks keyed by the micro-batch
    MicroBatch mb = task.train_batch(slice);
    totals[2] += static_cast<double>(mb.tokens);
    if (mb.counted > 0) {
      auto count = static_cast<double>(mb.counted);
      totals[0] += mb.loss.item() * count;
      totals[1] += count;
      (summed ? mb.loss * static_cast<float>(count) : mb.loss).backward();
    }
    if (batches) batches->push_back(std::move(mb));
  }
  comm.allreduce_sum(totals, 3);
  r.loss = totals[0] / totals[1];
  r.tokens = static_cast<int64_t>(totals[2]);
  if (summed) {
    ProfileScope profile("allreduce");
    sync.sum_gradients(static_cast<float>(1.0 / totals[1]));
  }
  if (after_backward) after_backward();
  {
    ProfileScope profile("clip_grad_norm");
    r.grad_norm = clip_grad_norm(task.model().module->parameters(), config.optim.grad_clip);
  }
  r.finite = std::isfinite(r.loss) && std::isfinite(r.grad_norm);
  ProfileScope profile("optimizer");
  if (r.finite) optimizer.step(r.lr);
  return r;
}

bool resumable_override(const std::string& key) {
  return key == "train.max_steps" || key == "train.eval_interval" || key == "train.log_interval" ||
         key == "train.ckpt_interval" || key == "train.out_dir" || key == "train.threads";
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

int train(const Config& initial, const TrainOptions& options) {
  SignalScope signals;
  Comm alone;
  Comm& comm = options.comm ? *options.comm : alone;
  Config config = initial;
  std::optional<LoadedCheckpoint> resumed;
  if (!options.resume.empty()) {
    resumed.emplace(load_model(options.resume));
    config = resumed_config(resumed->config, options.overrides);
  }
  resolve_global_batch(config.train, comm.size(), resumed.has_value());
  comm.set_timeout(config.train.comm_timeout);
  // The ranks on one machine share its cores.
  int threads = static_cast<int>(config.train.threads);
  if (threads == 0 && comm.local_size() > 1)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / comm.local_size());
  set_threads(threads);
  if (config.optim.decay_steps == 0) config.optim.decay_steps = config.train.max_steps;  // fixed for the run

  std::optional<Checkpoint> from;  // train.init_from: its weights, and its tokenizer when the task can use it
  std::optional<Tokenizer> from_tokenizer;
  if (!resumed && !config.train.init_from.empty()) {
    from.emplace(load_checkpoint(config.train.init_from));
    from_tokenizer = init_from_tokenizer(*from, config);
  }
  // On resume the data check comes first: a changed corpus may no longer tokenize, which would hide the cause.
  std::vector<DataFingerprint> data;
  if (resumed) data = checked_data(resumed->raw.state.data, config, options);
  std::unique_ptr<TrainTask> task =
      resumed ? make_task(config, resumed->tokenizer, resumed->labels) : make_task(config, from_tokenizer);
  if (!resumed) data = fingerprint_data(config.data);
  config.model = task->config().model;
  AnyModel& model = task->model();
  TrainState state;
  if (resumed) {
    load_parameters(*model.module, resumed->raw.params);
    state = resumed->raw.state;
  } else if (from) {
    init_weights(model, config.train.seed);
    std::vector<std::string> skipped = load_parameters(*model.module, from->params, false);
    std::printf("init_from %s: %zu parameters kept their initialisation:", config.train.init_from.c_str(),
                skipped.size());
    for (const std::string& s : skipped) std::printf(" %s", s.c_str());
    std::printf("\n");
  } else {
    init_weights(model, config.train.seed);
  }
  state.data = data;
  auto params = model.module->named_parameters();
  GradientSync sync(comm, model.module->parameters());
  sync.broadcast_parameters();  // the same start on every rank, whatever each one read
  Optimizer optimizer(params, config.optim);
  if (resumed && !resumed->raw.optimizer.empty()) {
    ArchiveReader r(resumed->raw.optimizer, options.resume + " (optimizer)");
    optimizer.read(r);
  }
  model.module->train();

  const TrainConfig& t = config.train;
  std::filesystem::create_directories(t.out_dir);
  std::printf("%s\n", to_json(config).dump(2).c_str());
  std::printf("model: %s, %lld parameters; %s from step %lld to %lld\n", name(config.model.kind),
              static_cast<long long>(model.module->num_params()), resumed ? "resuming" : "training",
              static_cast<long long>(state.step), static_cast<long long>(t.max_steps));
  const int64_t accum = grad_accum_of(t, comm.size()), B = t.batch_size;
  if (comm.size() > 1)
    std::printf(
        "data parallel: %d ranks x %d threads, global batch %lld (batch_size %lld x grad_accum %lld x %d "
        "ranks); %lld gradient bytes per allreduce\n",
        comm.size(), qkv::threads(), static_cast<long long>(B * accum * comm.size()), static_cast<long long>(B),
        static_cast<long long>(accum), comm.size(), static_cast<long long>(sync.bytes()));
  // Only rank 0 writes metrics and checkpoints; the others compute the same steps.
  std::optional<MetricsLog> metrics;
  if (comm.root()) metrics.emplace(t.out_dir + "/metrics.jsonl", resumed.has_value());
  Progress progress;
  LastGood last_good;
  if (resumed) last_good = {options.resume, state.step};
  // Returns why the checkpoint could not be written ("" when it was): the caller stops the run with exit 3,
  // and the previous file stays as it was (write_file_atomic).
  auto write_checkpoint = [&](const std::string& file) -> std::string {
    std::string bad = non_finite_parameter(params);
    if (!bad.empty()) return "parameter " + bad + " is not finite, so " + file + " is not written";
    Checkpoint c = make_checkpoint(config, task->tokenizer(), model, task->labels());
    ArchiveWriter w;
    optimizer.write(w);
    c.optimizer = w.bytes();
    c.state = state;
    try {
      save_checkpoint(t.out_dir + "/" + file, c);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  // Rank 0 writes; every rank learns whether it failed, so that all stop together.
  auto save = [&](const std::string& file) -> std::string {
    std::string failed = comm.root() ? write_checkpoint(file) : "";
    if (comm.any(!failed.empty())) return failed.empty() ? "rank 0 could not write " + file : failed;
    if (file == "ckpt.qkv") last_good = {t.out_dir + "/" + file, state.step};
    return "";
  };
  // A metrics line that cannot be written (a full disk) stops the run as a checkpoint would.
  auto write_metrics = [&](const nlohmann::json& line) -> std::string {
    std::string failed;
    if (comm.root()) try {
        metrics->write(line);
      } catch (const Error& e) {
        failed = e.what();
      }
    if (comm.any(!failed.empty())) return failed.empty() ? "rank 0 could not write metrics" : failed;
    return "";
  };

  double run_start = now_s() - state.elapsed_s, window_start = now_s(), profile_start = now_s();
  const int64_t first_step = state.step;
  set_profiling(options.profile);
  int64_t window_tokens = 0, window_start_step = state.step;
  for (int64_t step = state.step + 1; step <= t.max_steps; ++step) {
    StepResult r = train_step(*task, optimizer, config, step, sync);
    double train_loss = r.loss;
    float lr = r.lr, grad_norm = r.grad_norm;
    window_tokens += r.tokens;
    state.data_offset = static_cast<uint64_t>(step * accum);
    if (!r.finite) {
      if (!t.skip_nonfinite) {
        std::string what = std::isfinite(train_loss) ? "the gradient norm is " + std::to_string(grad_norm)
                                                     : "the loss is " + std::to_string(train_loss);
        return stop_run(progress, step, what + ", not finite, so the update is not applied", last_good, comm);
      }
      ++state.skipped;  // the step still advances: the next batch and masks differ
    }
    state.step = step;
    state.elapsed_s = now_s() - run_start;

    if (step % t.log_interval == 0 || step == t.max_steps) {
      double dt = now_s() - window_start, tps = dt > 0 ? window_tokens / dt : 0.0;
      double per_step = dt / static_cast<double>(step - window_start_step);
      nlohmann::json logged = {{"step", step},
                               {"train_loss", train_loss},
                               {"lr", lr},
                               {"grad_norm", grad_norm},
                               {"tokens_per_s", tps},
                               {"elapsed_s", state.elapsed_s},
                               {"skipped", state.skipped}};
      if (comm.size() > 1) logged["allreduce_s"] = sync.allreduce_seconds();
      std::string failed = write_metrics(logged);
      if (!failed.empty()) return stop_run(progress, step, failed, last_good, comm);
      char line[256];
      std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                    static_cast<long long>(step), static_cast<long long>(t.max_steps), train_loss, lr, tps,
                    format_duration(per_step * static_cast<double>(t.max_steps - step)).c_str());
      progress.update(line);
      window_start = now_s();
      window_tokens = 0;
      window_start_step = step;
    }
    if (step % t.eval_interval == 0 || step == t.max_steps) {
      model.module->eval();
      Rng train_rng = batch_rng(t.seed, kEvalTrainBatches, static_cast<uint64_t>(step));
      Rng val_rng = batch_rng(t.seed, kEvalValBatches, static_cast<uint64_t>(step));
      Shard shard{comm.rank(), comm.size()};
      EvalResult on_train = reduce_eval(comm, task->evaluate(false, B, t.eval_steps, train_rng, shard));
      EvalResult on_val = reduce_eval(comm, task->evaluate(true, B, t.eval_steps, val_rng, shard));
      nlohmann::json line = {{"step", step}, {"eval_train_loss", on_train.loss}, {"val_loss", on_val.loss}};
      std::string text = "step " + std::to_string(step) + ": train loss " + std::to_string(on_train.loss) +
                         ", val loss " + std::to_string(on_val.loss);
      if (!std::isnan(on_val.accuracy)) {
        line["val_accuracy"] = on_val.accuracy;
        text += ", val accuracy " + std::to_string(on_val.accuracy);
      }
      if (!std::isnan(on_val.bleu)) {
        line["val_bleu"] = on_val.bleu;
        text += ", val BLEU " + std::to_string(on_val.bleu);
      }
      if (std::string failed = write_metrics(line); !failed.empty())
        return stop_run(progress, step, failed, last_good, comm);
      progress.print(text);
      std::string shown = comm.root() ? task->show(t.seed + static_cast<uint64_t>(step)) : "";
      if (!shown.empty()) progress.print(shown);
      model.module->train();
      if (std::isnan(state.best_val_loss) || on_val.loss < state.best_val_loss) {
        state.best_val_loss = on_val.loss;
        if (std::string failed = save("best.qkv"); !failed.empty())
          return stop_run(progress, step, failed, last_good, comm);
      }
    }
    // A signal may reach the ranks between different steps: they stop at the first step any of them saw it.
    bool stop = comm.any(step == options.stop_at || g_signal != 0);
    if (step % t.ckpt_interval == 0 || step == t.max_steps || stop)
      if (std::string failed = save("ckpt.qkv"); !failed.empty())
        return stop_run(progress, step, failed, last_good, comm);
    if (stop) {
      progress.print("stopped after step " + std::to_string(step) + "; saved " + t.out_dir + "/ckpt.qkv");
      if (g_signal == SIGINT) return 130;
      if (g_signal == SIGTERM) return 143;
      return 0;
    }
  }
  if (options.profile && state.step > first_step)
    progress.print("time per step (--profile):\n" +
                   profile_report(state.step - first_step,
                                  (now_s() - profile_start) / static_cast<double>(state.step - first_step)));
  if (comm.size() > 1 && state.step > first_step)
    progress.print("gradient allreduce: " +
                   std::to_string(1000.0 * sync.allreduce_seconds() / static_cast<double>(state.step - first_step)) +
                   " ms per step on average");
  progress.print("done: " + std::to_string(state.step) + " steps; best val loss " +
                 std::to_string(state.best_val_loss) + "; checkpoints in " + t.out_dir);
  return 0;
}

}  // namespace qkv
