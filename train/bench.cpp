#include "train/bench.h"

#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/ops.h"
#include "train/metrics.h"
#include "train/model_io.h"
#include "train/optim.h"

namespace qkv {
namespace {

// sgemm at 2048^3, the best of 3: the machine's practical peak in GFLOP/s.
double measure_sgemm_peak() {
  const int n = 2048;
  std::vector<float> a(size_t{n} * n, 1.0f), b(size_t{n} * n, 1.0f), c(size_t{n} * n);
  double best = 1e30;
  for (int i = 0; i < 4; ++i) {
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (i > 0) best = std::min(best, now_s() - t0);  // the first call warms the pool and the caches
  }
  return 2.0 * n * n * n / best * 1e-9;
}

Ids random_ids(Rng& rng, Shape shape, int64_t vocab) {
  std::vector<int32_t> v(numel(shape));
  for (auto& x : v) x = static_cast<int32_t>(rng.next_u32() % static_cast<uint32_t>(vocab));
  return Ids(v, shape);
}

}  // namespace

void cmd_bench(const std::string& config_path, const std::vector<std::string>& overrides, const BenchOptions& o) {
  Config config = load_config(config_path, overrides);
  ModelConfig& m = config.model;
  QKV_CHECK(m.vocab_size > 0, "bench: ", config_path, " needs model.vocab_size > 0 (bench reads no corpus)");
  if (m.kind == ModelKind::Encoder && config.data.task == Task::Classify && m.n_classes == 0) m.n_classes = 2;
  m.validate();
  set_threads(static_cast<int>(o.threads > 0 ? o.threads : config.train.threads));
  double peak = o.peak_gflops > 0 ? o.peak_gflops : measure_sgemm_peak();

  AnyModel model = build_model(m);
  init_weights(model, config.train.seed);
  model.module->train();
  Optimizer optimizer(model.module->named_parameters(), config.optim);
  const int64_t B = config.train.batch_size, T = m.block_size, V = m.vocab_size;
  Rng rng(config.train.seed, 99);
  Ids x = random_ids(rng, {B, T}, V), y = random_ids(rng, {B, T}, V), labels = random_ids(rng, {B}, 2);
  Ids mlm_targets = y;
  for (auto& t : mlm_targets.data) t = rng.uniform() < 0.15f ? t : -100;  // 15% of positions are predicted
  auto loss_of = [&]() -> Tensor {
    if (model.gpt) return model.gpt->forward(x, &y).loss;
    if (model.seq2seq) return model.seq2seq->forward(x, y, &y, config.optim.label_smoothing).loss;
    if (config.data.task == Task::Classify) return model.encoder->classify(x, nullptr, &labels).loss;
    return model.encoder->mlm(x, nullptr, &mlm_targets).loss;
  };
  std::vector<Tensor> params = model.module->parameters();
  std::vector<double> times;
  for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
    if (s == o.warmup) {  // profile the timed steps only
      reset_profile();
      set_profiling(o.profile);
    }
    double t0 = now_s();
    model.dropout_context().begin(config.train.seed, static_cast<uint64_t>(s));
    Tensor loss = loss_of();
    loss.backward();
    {
      ProfileScope profile("clip_grad_norm");
      clip_grad_norm(params, config.optim.grad_clip);
    }
    {
      ProfileScope profile("optimizer");
      optimizer.step(1e-4f);
    }
    ProfileScope profile("zero_grad");
    optimizer.zero_grad();
    if (s >= o.warmup) times.push_back(now_s() - t0);
  }
  set_profiling(false);
  double total = 0.0;
  for (double t : times) total += t;
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2], tokens = static_cast<double>(B * T);

  // FLOPs per token, as nanoGPT's estimate_mfu: 6 N for the matrix products of forward and backward (N the
  // parameters without position tables) plus 12 L C T for attention's two products. Seq2Seq: both stacks'
  // self-attention and the cross-attention, 3 x 12 L C T.
  int64_t n = 0;
  for (auto& [pname, p] : model.module->named_parameters())
    if (pname.find("wpe") == std::string::npos) n += p.numel();
  int64_t attention_terms = model.seq2seq ? 3 : 1;
  double flops_per_token =
      6.0 * static_cast<double>(n) + 12.0 * static_cast<double>(attention_terms * m.n_layer * m.d_model * T);
  double mfu = flops_per_token * tokens / median * 1e-9 / peak;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  nlohmann::json j = {{"ms_per_step", median * 1e3},
                      {"tokens_per_s", tokens / median},
                      {"peak_rss_mb", rss_mb},
                      {"flops_per_token", flops_per_token},
                      {"mfu", mfu},
                      {"sgemm_peak_gflops", peak},
                      {"threads", threads()},
                      {"steps", o.steps},
                      {"params", model.module->num_params()}};
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: %s, %lld parameters, batch %lld x %lld tokens, %d threads, %lld steps after %lld warm-up\n",
              config_path.c_str(), name(m.kind), static_cast<long long>(model.module->num_params()),
              static_cast<long long>(B), static_cast<long long>(T), threads(), static_cast<long long>(o.steps),
              static_cast<long long>(o.warmup));
  std::printf("%.2f ms/step (median; fastest %.2f)  %.0f tokens/s  peak RSS %.0f MB\n", median * 1e3, times[0] * 1e3,
              tokens / median, rss_mb);
  std::printf("%.3g FLOPs/token (6 N + %lld x 12 L C T)  %.1f GFLOP/s  MFU %.1f%% of sgemm's %.0f GFLOP/s\n",
              flops_per_token, static_cast<long long>(attention_terms), flops_per_token * tokens / median * 1e-9,
              100.0 * mfu, peak);
  if (o.profile) std::printf("%s", profile_report(o.steps, total / static_cast<double>(o.steps)).c_str());
}

}  // namespace qkv
