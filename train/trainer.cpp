#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/archive.h"
#include "core/ops.h"
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
              config.train.init_from.c_str(), tokenizer.type().c_str(), tokenizer.size());
  config.data.tokenizer = tokenizer.type();
  if (tokenizer.type() == "bpe") config.data.vocab_size = tokenizer.size();
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

// Exit 3 (DESIGN.md): the run cannot go on. One line on stderr says where and what is kept.
int stop_run(Progress& progress, int64_t step, const std::string& why, const LastGood& last) {
  progress.close();
  std::string kept = last.path.empty()
                         ? "no checkpoint has been written yet"
                         : "the last good checkpoint is " + last.path + " (step " + std::to_string(last.step) + ")";
  std::fprintf(stderr, "qkv: error: step %lld: %s; stopping: %s\n", static_cast<long long>(step), why.c_str(),
               kept.c_str());
  return 3;
}

}  // namespace

int64_t grad_accum_of(const TrainConfig& t) {
  QKV_CHECK(t.global_batch == 0 || t.global_batch % t.batch_size == 0, "config: train.global_batch ", t.global_batch,
            " is not a multiple of train.batch_size ", t.batch_size);
  return t.global_batch > 0 ? t.global_batch / t.batch_size : t.grad_accum;
}

StepResult train_step(TrainTask& task, Optimizer& optimizer, const Config& config, int64_t step, int64_t accum,
                      std::vector<MicroBatch>* batches, const std::function<void()>& after_backward) {
  const TrainConfig& t = config.train;
  StepResult r;
  r.lr = learning_rate(config.optim, step, t.max_steps, config.model.d_model);
  {
    ProfileScope profile("zero_grad");
    optimizer.zero_grad();
  }
  double loss_sum = 0.0;
  for (int64_t micro = 0; micro < accum; ++micro) {
    uint64_t index = static_cast<uint64_t>((step - 1) * accum + micro);
    task.model().dropout_context().begin(t.seed, index);  // dropout masks keyed by the micro-batch
    MicroBatch mb = task.train_batch(t.batch_size, index);
    loss_sum += mb.loss.item();
    r.tokens += mb.tokens;
    (accum == 1 ? mb.loss : mb.loss * (1.0f / static_cast<float>(accum))).backward();
    if (batches) batches->push_back(std::move(mb));
  }
  r.loss = loss_sum / static_cast<double>(accum);
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

int train(const Config& initial, const TrainOptions& options) {
  SignalScope signals;
  Config config = initial;
  std::optional<LoadedCheckpoint> resumed;
  if (!options.resume.empty()) {
    resumed.emplace(load_model(options.resume));
    config = resumed_config(resumed->config, options.overrides);
  }
  set_threads(static_cast<int>(config.train.threads));
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
  MetricsLog metrics(t.out_dir + "/metrics.jsonl", resumed.has_value());
  Progress progress;
  LastGood last_good;
  if (resumed) last_good = {options.resume, state.step};
  // Returns why the checkpoint could not be written ("" when it was): the caller stops the run with exit 3,
  // and the previous file stays as it was (write_file_atomic).
  auto save = [&](const std::string& file) -> std::string {
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
    if (file == "ckpt.qkv") last_good = {t.out_dir + "/" + file, state.step};
    return "";
  };
  // A metrics line that cannot be written (a full disk) stops the run as a checkpoint would.
  auto write_metrics = [&](const nlohmann::json& line) -> std::string {
    try {
      metrics.write(line);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };

  const int64_t accum = grad_accum_of(t), B = t.batch_size;
  double run_start = now_s() - state.elapsed_s, window_start = now_s(), profile_start = now_s();
  const int64_t first_step = state.step;
  set_profiling(options.profile);
  int64_t window_tokens = 0, window_start_step = state.step;
  for (int64_t step = state.step + 1; step <= t.max_steps; ++step) {
    StepResult r = train_step(*task, optimizer, config, step, accum);
    double train_loss = r.loss;
    float lr = r.lr, grad_norm = r.grad_norm;
    window_tokens += r.tokens;
    state.data_offset = static_cast<uint64_t>(step * accum);
    if (!r.finite) {
      if (!t.skip_nonfinite) {
        std::string what = std::isfinite(train_loss) ? "the gradient norm is " + std::to_string(grad_norm)
                                                     : "the loss is " + std::to_string(train_loss);
        return stop_run(progress, step, what + ", not finite, so the update is not applied", last_good);
      }
      ++state.skipped;  // the step still advances: the next batch and masks differ
    }
    state.step = step;
    state.elapsed_s = now_s() - run_start;

    if (step % t.log_interval == 0 || step == t.max_steps) {
      double dt = now_s() - window_start, tps = dt > 0 ? window_tokens / dt : 0.0;
      double per_step = dt / static_cast<double>(step - window_start_step);
      std::string failed = write_metrics({{"step", step},
                                          {"train_loss", train_loss},
                                          {"lr", lr},
                                          {"grad_norm", grad_norm},
                                          {"tokens_per_s", tps},
                                          {"elapsed_s", state.elapsed_s},
                                          {"skipped", state.skipped}});
      if (!failed.empty()) return stop_run(progress, step, failed, last_good);
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
      EvalResult on_train = task->evaluate(false, B, t.eval_steps, train_rng);
      EvalResult on_val = task->evaluate(true, B, t.eval_steps, val_rng);
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
      if (std::string failed = write_metrics(line); !failed.empty()) return stop_run(progress, step, failed, last_good);
      progress.print(text);
      std::string shown = task->show(t.seed + static_cast<uint64_t>(step));
      if (!shown.empty()) progress.print(shown);
      model.module->train();
      if (std::isnan(state.best_val_loss) || on_val.loss < state.best_val_loss) {
        state.best_val_loss = on_val.loss;
        if (std::string failed = save("best.qkv"); !failed.empty()) return stop_run(progress, step, failed, last_good);
      }
    }
    bool stop = step == options.stop_at || g_signal != 0;
    if (step % t.ckpt_interval == 0 || step == t.max_steps || stop)
      if (std::string failed = save("ckpt.qkv"); !failed.empty()) return stop_run(progress, step, failed, last_good);
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
  progress.print("done: " + std::to_string(state.step) + " steps; best val loss " +
                 std::to_string(state.best_val_loss) + "; checkpoints in " + t.out_dir);
  return 0;
}

}  // namespace qkv
