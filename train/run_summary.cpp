#include "train/run_summary.h"

#include <cstdio>

#include "core/memory_info.h"
#include "core/threads.h"
#include "train/schedule.h"

namespace qkv {
namespace {

// "812", "33.5k", "0.80M", "124M": parameter and token counts at a glance.
std::string count(double n) {
  char buf[32];
  if (n < 1e4)
    std::snprintf(buf, sizeof buf, "%.0f", n);
  else if (n < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else if (n < 1e8)
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.0fM", n / 1e6);
  return buf;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string schedule(const OptimConfig& o, int64_t max_steps) {
  switch (o.schedule) {
    case Schedule::Constant:
      return "lr " + number(o.lr) + " constant";
    case Schedule::Cosine:
      return "lr " + number(o.lr) + " after " + std::to_string(o.warmup_steps) + " warmup steps, cosine to " +
             number(o.min_lr) + " at step " + std::to_string(o.decay_steps > 0 ? o.decay_steps : max_steps);
    case Schedule::Noam:
      return "lr noam (factor " + number(o.lr) + ", warmup " + std::to_string(o.warmup_steps) + ")";
  }
  return "";
}

// NOTE [pinned decay]: a recipe that pins optim.decay_steps (nanoGPT's lr_decay_iters) and is then run for
// fewer steps ends with its learning rate still near the peak; say so before step 1.
void note_pinned_decay(const Config& c) {
  const OptimConfig& o = c.optim;
  const int64_t max_steps = c.train.max_steps;
  if (o.schedule != Schedule::Cosine || o.decay_steps <= max_steps) return;
  const float last = learning_rate(o, max_steps, max_steps, c.model.d_model);
  std::printf(
      "note: optim.decay_steps %lld is past train.max_steps %lld: the learning rate ends at %.3g (peak %s), not "
      "at min_lr %s; --set optim.decay_steps=0 ends the cosine with the run\n",
      static_cast<long long>(o.decay_steps), static_cast<long long>(max_steps), static_cast<double>(last),
      number(o.lr).c_str(), number(o.min_lr).c_str());
}

}  // namespace

std::string changed_keys(const Config& c) {
  nlohmann::json now = to_json(c), defaults = to_json(Config{});
  std::string out;
  for (auto& [section, body] : now.items())
    for (auto& [key, value] : body.items())
      if (defaults[section][key] != value)
        out += (out.empty() ? "" : ", ") + section + "." + key + "=" +
               (value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

void print_start(Run& run, const Config& given, const TrainOptions& options) {
  Comm& comm = run.comm();
  if (!comm.root()) return;
  const Config& c = run.config;
  const ModelConfig& m = c.model;
  const TrainConfig& t = c.train;
  std::printf("model: %s, %lld layer%s, %lld heads, d_model %lld, block_size %lld: %s parameters\n", name(m.kind),
              static_cast<long long>(m.n_layer), m.n_layer == 1 ? "" : "s", static_cast<long long>(m.n_head),
              static_cast<long long>(m.d_model), static_cast<long long>(m.block_size),
              count(static_cast<double>(run.task->model().module().num_params())).c_str());
  const int64_t accum = grad_accum_of(t, comm.size()), rows = t.batch_size * accum * comm.size();
  std::printf("steps: %lld to %lld%s, %lld sequences of up to %lld tokens each (%s tokens); %s\n",
              static_cast<long long>(run.state.step + 1), static_cast<long long>(t.max_steps),
              run.resumed ? " (resumed)" : "", static_cast<long long>(rows), static_cast<long long>(m.block_size),
              count(static_cast<double>(rows * m.block_size)).c_str(), schedule(c.optim, t.max_steps).c_str());
  if (comm.size() > 1)
    std::printf(
        "data parallel: %d ranks x %d threads, global batch %lld (batch_size %lld x grad_accum %lld x %d "
        "ranks); %lld gradient bytes per allreduce\n",
        comm.size(), qkv::threads(), static_cast<long long>(rows), static_cast<long long>(t.batch_size),
        static_cast<long long>(accum), comm.size(), static_cast<long long>(run.sync->bytes()));
  std::printf("memory: about %s at peak (a step: weights and gradients %s, optimizer %s, activations %s)%s\n",
              format_bytes(run.memory.total()).c_str(), format_bytes(run.memory.weights).c_str(),
              format_bytes(run.memory.optimizer).c_str(), format_bytes(run.memory.activations).c_str(),
              run.available >= 0 ? ("; " + format_bytes(run.available) + " available").c_str() : "");
  std::printf("writes: %s/ (metrics.jsonl, ckpt.qkv, best.qkv, config.json)%s\n", t.out_dir.c_str(),
              run.resumed ? (", continuing " + options.resume).c_str() : "");
  std::string changed = run.resumed ? std::string() : changed_keys(given);
  if (run.resumed) {
    for (const std::string& o : options.overrides) changed += (changed.empty() ? "" : ", ") + o;
    if (!changed.empty()) std::printf("config: as stored in the checkpoint, with %s\n", changed.c_str());
  } else {
    std::printf("config: %s\n", changed.empty() ? "the defaults" : ("the defaults with " + changed).c_str());
  }
  note_pinned_decay(c);
  if (options.verbose) std::printf("%s\n", to_json(c).dump(2).c_str());
  std::fflush(stdout);
}

}  // namespace qkv
