#include "train/cli/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/gemm_log.h"
#include "core/isa.h"
#include "core/machine.h"
#include "core/memory_info.h"
#include "core/ops.h"
#include "nn/generate.h"
#include "train/cli/commands.h"
#include "train/cli/output.h"
#include "train/cli/precision_option.h"
#include "train/memory_estimate.h"
#include "train/metrics.h"
#include "train/model_io.h"
#include "train/optim.h"
#include "train/rng_streams.h"

namespace qkv::cli {
namespace {

// qkv's gemm (OpenBLAS's sgemm, split over the threads) at 2048^3, the best of 3: the machine's practical
// peak in GFLOP/s.
double measure_sgemm_peak() {
  const int n = 2048;
  std::vector<float> a(size_t{n} * n, 1.0f), b(size_t{n} * n, 1.0f), c(size_t{n} * n);
  double best = 1e30;
  for (int i = 0; i < 4; ++i) {
    double t0 = now_s();
    gemm(false, false, n, n, n, a.data(), b.data(), 0.0f, c.data());
    if (i > 0) best = std::min(best, now_s() - t0);  // the first call warms the pool and the caches
  }
  return 2.0 * n * n * n / best * 1e-9;
}

constexpr int64_t kMemcpyBytes = int64_t{256} << 20;

// A 256 MiB copy split into one contiguous chunk per thread, the best of 5: the bandwidth the memory-bound
// ops between GEMMs can reach, in GB/s counting the bytes read and the bytes written (2 x 256 MiB per copy).
double measure_memcpy_gbs() {
  const int64_t n = kMemcpyBytes / static_cast<int64_t>(sizeof(float));
  std::vector<float> src(n, 1.0f), dst(n, 0.0f);  // both written first, so no page is faulted in while timed
  const int64_t parts = threads();
  auto copy = [&] {
#pragma omp parallel for num_threads(team()) schedule(static)
    for (int64_t part = 0; part < parts; ++part) {
      int64_t begin = n * part / parts, end = n * (part + 1) / parts;
      std::memcpy(dst.data() + begin, src.data() + begin, static_cast<size_t>(end - begin) * sizeof(float));
    }
  };
  copy();
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    double t0 = now_s();
    copy();
    best = std::min(best, now_s() - t0);
  }
  return 2.0 * static_cast<double>(kMemcpyBytes) / best * 1e-9;
}

Ids random_ids(Rng& rng, Shape shape, int64_t vocab) {
  std::vector<int32_t> v(numel(shape));
  for (auto& x : v) x = static_cast<int32_t>(rng.next_u32() % static_cast<uint32_t>(vocab));
  return Ids(v, shape);
}

// Seconds per call of one recorded GEMM shape through gemm() alone, on scratch buffers: the best of 3 rounds
// of about 10 ms. Calls recorded inside an OpenMP region ran `team` at a time, one per thread (gemm() then
// runs each on one thread), many to a region: they are replayed the same way, `team` threads each calling
// in a loop inside one region, and each call costs the round's time / (calls per thread x team).
double sgemm_seconds(const GemmShape& s) {
  struct Buffers {
    std::vector<float> a, b, c;
  };
  std::vector<Buffers> buffers(static_cast<size_t>(s.team));
  for (Buffers& b : buffers) {
    b.a.assign(static_cast<size_t>(s.M * s.K), 0.5f);
    b.b.assign(static_cast<size_t>(s.K * s.N), 0.5f);
    b.c.assign(static_cast<size_t>(s.M * s.N), 0.0f);
  }
  auto calls = [&](Buffers& b, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      gemm(s.transpose_a, s.transpose_b, s.M, s.N, s.K, b.a.data(), b.b.data(), 0.0f, b.c.data());
  };
  auto round = [&](int64_t n) {  // seconds for n calls on each of the team's threads
    double t0 = now_s();
    if (s.team == 1) {
      calls(buffers[0], n);
    } else {
#pragma omp parallel num_threads(s.team)
      calls(buffers[static_cast<size_t>(thread_index())], n);
    }
    return now_s() - t0;
  };
  round(1);  // warms the caches and the thread pool
  int64_t n = std::clamp<int64_t>(static_cast<int64_t>(0.01 / std::max(round(1), 1e-9)), 1, 100000);
  double best = 1e30;
  for (int r = 0; r < 3; ++r) best = std::min(best, round(n) / static_cast<double>(n));
  return best / s.team;
}

// What one step's GEMMs cost at their own shapes through gemm() alone: their FLOPs, the seconds they take, and each
// shape's calls and seconds per call (in the JSON, so that a reader sees which shapes fall short of the peak).
struct OwnShapes {
  double flops = 0.0, seconds = 0.0;
  int64_t calls = 0;
  nlohmann::json rows = nlohmann::json::array();
};

OwnShapes replay(const std::vector<GemmCount>& log) {
  OwnShapes own;
  for (const GemmCount& g : log) {
    double per_call = sgemm_seconds(g.shape);
    own.flops += g.flops();
    own.seconds += static_cast<double>(g.calls) * per_call;
    own.calls += g.calls;
    const GemmShape& s = g.shape;
    own.rows.push_back({{"transpose_a", s.transpose_a},
                        {"transpose_b", s.transpose_b},
                        {"M", s.M},
                        {"N", s.N},
                        {"K", s.K},
                        {"team", s.team},
                        {"calls", g.calls},
                        {"us_per_call", per_call * 1e6},
                        {"gflops", 2.0 * static_cast<double>(s.M * s.N * s.K) / per_call * 1e-9}});
  }
  return own;
}

// Tokens/s of greedy sampling of n tokens from a 1-token prompt (batch 1), the median of 5 runs after one
// warm-up; the reference (scripts/bench_ref.py) times its generation the same way.
double generation_tokens_per_s(GPT& model, int64_t n, bool cache) {
  SampleOptions so;
  so.max_new_tokens = n;
  so.temperature = 0.0f;
  so.use_cache = cache;
  const std::vector<int32_t> prompt{0};
  generate(model, prompt, so);
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    double t0 = now_s();
    generate(model, prompt, so);
    times.push_back(now_s() - t0);
  }
  std::sort(times.begin(), times.end());
  return static_cast<double>(n) / times[times.size() / 2];
}

// The per-token FLOPs estimate of flops_per_token below, as printed.
const char* flops_formula(ModelKind kind) {
  return kind == ModelKind::Seq2Seq ? "6 N + 3 x 12 L C T" : "6 N + 12 L C T";
}

double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

void cmd_bench_machine(const BenchOptions& o) {
  set_threads(static_cast<int>(o.threads));
  use_precision(o.precision, Precision::fp32);
  double peak = o.peak_gflops > 0 ? o.peak_gflops : measure_sgemm_peak(), memcpy_gbs = measure_memcpy_gbs();
  nlohmann::json j = {{"cpu", cpu_model()},
                      {"blas_core", blas_core()},
                      {"threads", threads()},
                      {"sgemm_peak_gflops", peak},
                      {"memcpy_gbs", memcpy_gbs},
                      {"memcpy_bytes", kMemcpyBytes},
                      {"precision", name(precision())},
                      {"cpu_features", cpu_features()},
                      {"isa", enum_name(kIsas, isa())}};
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("CPU %s, %d threads, OpenBLAS core %s, %s products\n", cpu_model().c_str(), threads(),
              blas_core().c_str(), name(precision()));
  std::printf("instruction sets: %s; in use: %s (bf16 GEMM: %s path)\n", cpu_features().c_str(),
              enum_name(kIsas, isa()), isa() >= Isa::avx512bf16 ? "AVX512-BF16" : "plain");
  std::printf("sgemm 2048^3: %.1f GFLOP/s   memcpy of 256 MiB: %.1f GB/s (bytes read + bytes written)\n", peak,
              memcpy_gbs);
}

namespace {

// A bench run's model, optimizer and one fixed random batch; each call is one training step (forward, loss,
// backward, clip, AdamW, zero grads) with step s's dropout.
class BenchStep {
 public:
  explicit BenchStep(const Config& config)
      : config_(config),
        model_(build_model(config.model)),
        optimizer_(model_.module().named_parameters(), config.optim) {
    init_weights(model_, config.train.seed);
    model_.module().train();
    const int64_t B = config.train.batch_size, T = config.model.block_size, V = config.model.vocab_size;
    Rng rng(config.train.seed, kBenchStream);
    x_ = random_ids(rng, {B, T}, V);
    y_ = random_ids(rng, {B, T}, V);
    labels_ = random_ids(rng, {B}, 2);
    mlm_targets_ = y_;
    for (auto& t : mlm_targets_.data) t = rng.uniform() < 0.15f ? t : -100;  // 15% of positions are predicted
    params_ = model_.module().parameters();
  }

  void operator()(int64_t s) {
    model_.dropout_context().begin(config_.train.seed, static_cast<uint64_t>(s));
    Tensor loss = loss_of();
    loss.backward();
    {
      ProfileScope profile("clip_grad_norm");
      clip_grad_norm(params_, config_.optim.grad_clip);
    }
    {
      ProfileScope profile("optimizer");
      optimizer_.step(1e-4f);
    }
    ProfileScope profile("zero_grad");
    optimizer_.zero_grad();
  }

  AnyModel& model() { return model_; }

 private:
  Tensor loss_of() {
    return model_.visit(
        Overloaded{[&](GPT& gpt) { return gpt.forward(x_, &y_).loss; },
                   [&](Seq2Seq& s2s) { return s2s.forward(x_, y_, &y_, config_.optim.label_smoothing).loss; },
                   [&](Encoder& enc) {
                     return config_.data.task == Task::Classify ? enc.classify(x_, nullptr, &labels_).loss
                                                                : enc.mlm(x_, nullptr, &mlm_targets_).loss;
                   }});
  }

  const Config& config_;
  AnyModel model_;
  Optimizer optimizer_;
  Ids x_, y_, labels_, mlm_targets_;
  std::vector<Tensor> params_;
};

// The timed steps: sorted seconds per step, their total, and the peak RSS they reached.
struct StepTimes {
  std::vector<double> sorted;
  double total = 0.0, rss_mb = 0.0;
  double median() const { return sorted[sorted.size() / 2]; }
};

StepTimes time_steps(BenchStep& step, const BenchOptions& o) {
  StepTimes t;
  for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
    if (s == o.warmup) {  // profile the timed steps only
      reset_profile();
      set_profiling(o.profile);
    }
    double t0 = now_s();
    step(s);
    if (s >= o.warmup) t.sorted.push_back(now_s() - t0);
  }
  set_profiling(false);
  // Read before anything else allocates buffers of its own: the peak of the steps alone.
  t.rss_mb = peak_rss_mb();
  for (double x : t.sorted) t.total += x;
  std::sort(t.sorted.begin(), t.sorted.end());
  return t;
}

// One more step, untimed, records the GEMM shapes it issues; each is then timed alone through gemm().
OwnShapes own_shapes(BenchStep& step, int64_t s) {
  reset_gemm_log();
  set_gemm_logging(true);
  step(s);
  set_gemm_logging(false);
  OwnShapes own = replay(gemm_log());
  reset_gemm_log();
  return own;
}

// FLOPs per token, as nanoGPT's estimate_mfu: 6 N for the matrix products of forward and backward (N the
// parameters without position tables) plus 12 L C T for attention's two products. Seq2Seq: both stacks'
// self-attention and the cross-attention, 3 x 12 L C T.
double flops_per_token(AnyModel& model, const ModelConfig& m) {
  int64_t n = 0;
  for (auto& [pname, p] : model.module().named_parameters())
    if (pname.find("wpe") == std::string::npos) n += p.numel();
  int64_t attention_terms = m.kind == ModelKind::Seq2Seq ? 3 : 1;
  return 6.0 * static_cast<double>(n) +
         12.0 * static_cast<double>(attention_terms * m.n_layer * m.d_model * m.block_size);
}

// The report for people; `j` holds every figure (as --json prints it).
void print_bench(const std::string& config_path, const Config& config, const nlohmann::json& j, const StepTimes& t,
                 const BenchOptions& o) {
  const ModelConfig& m = config.model;
  const double median = j["ms_per_step"].get<double>() / 1e3, gflops = j["gflops"].get<double>();
  const double peak = j["sgemm_peak_gflops"].get<double>(), own_peak = j["gemm_peak_gflops"].get<double>();
  std::printf(
      "%s: %s, %lld parameters, batch %lld x %lld tokens, %d threads, %s, %lld steps after %lld "
      "warm-up\n",
      config_path.c_str(), name(m.kind), static_cast<long long>(j["params"].get<int64_t>()),
      static_cast<long long>(config.train.batch_size), static_cast<long long>(m.block_size), threads(),
      name(precision()), static_cast<long long>(o.steps), static_cast<long long>(o.warmup));
  std::printf("%.2f ms/step (median; fastest %.2f)  %.0f tokens/s  peak RSS %.0f MB\n", median * 1e3, t.sorted[0] * 1e3,
              j["tokens_per_s"].get<double>(), t.rss_mb);
  std::printf("%.3g FLOPs/token (%s, N the parameters without position tables)  %.1f GFLOP/s\n",
              j["flops_per_token"].get<double>(), flops_formula(m.kind), gflops);
  std::printf("MFU %.1f%% of sgemm's %.0f GFLOP/s at 2048^3 (OpenBLAS %s)\n", 100.0 * gflops / peak, peak,
              blas_core().c_str());
  std::printf(
      "MFU %.1f%% of sgemm's %.0f GFLOP/s on the step's own %lld GEMM shapes (%lld calls: %.2f ms/step at "
      "that rate)\n",
      100.0 * gflops / own_peak, own_peak, static_cast<long long>(j["gemm_shapes"].size()),
      static_cast<long long>(j["gemm_calls_per_step"].get<int64_t>()), j["gemm_ms_per_step"].get<double>());
  if (o.generate > 0)
    std::printf("generation of %lld tokens (greedy, batch 1): %.0f tokens/s with the KV cache, %.0f without\n",
                static_cast<long long>(o.generate), j["generate_tokens_per_s"].get<double>(),
                j["generate_nocache_tokens_per_s"].get<double>());
  if (o.profile) std::printf("%s", profile_report(o.steps, t.total / static_cast<double>(o.steps)).c_str());
}

}  // namespace

void cmd_bench(const std::string& config_path, const std::vector<std::string>& overrides, const BenchOptions& o) {
  Config config = load_config(config_path, overrides);
  ModelConfig& m = config.model;
  QKV_CHECK(m.vocab_size > 0, "bench: ", config_path, " needs model.vocab_size > 0 (bench reads no corpus)");
  if (m.kind == ModelKind::Encoder && config.data.task == Task::Classify && m.n_classes == 0) m.n_classes = 2;
  m.validate();
  QKV_CHECK(o.generate == 0 || m.kind == ModelKind::Gpt, "bench: --generate needs a gpt model; ", config_path,
            " has model.kind ", name(m.kind));
  set_threads(static_cast<int>(o.threads > 0 ? o.threads : config.train.threads));
  use_precision(o.precision, config.train.precision);
  config.train.precision = precision();
  const MemoryEstimate memory = estimate_memory(config, threads(), static_cast<double>(resident_memory()));
  check_memory(memory, static_cast<double>(available_memory()), 1);

  BenchStep step(config);
  if (o.memory) {  // one step, then the estimate beside what it took (NOTE [memory estimate])
    step(0);
    nlohmann::json j = {{"estimated_peak_mb", memory.total() / 1e6},
                        {"peak_rss_mb", static_cast<double>(peak_resident_memory()) / 1e6},
                        {"params", step.model().module().num_params()},
                        {"estimated_params", memory.params}};
    print_json_or(o.json, j,
                  "peak memory: estimated " + format_bytes(memory.total()) + ", measured " +
                      format_bytes(static_cast<double>(peak_resident_memory())) + " (peak RSS of one step)");
    return;
  }
  const StepTimes t = time_steps(step, o);
  const OwnShapes own = own_shapes(step, o.warmup + o.steps);
  const double peak = o.peak_gflops > 0 ? o.peak_gflops : measure_sgemm_peak();
  const double median = t.median(), tokens = static_cast<double>(config.train.batch_size * m.block_size);
  const double flops = flops_per_token(step.model(), m);
  const double gflops = flops * tokens / median * 1e-9, own_peak = own.flops / own.seconds * 1e-9;
  nlohmann::json j = {{"ms_per_step", median * 1e3},
                      {"tokens_per_s", tokens / median},
                      {"peak_rss_mb", t.rss_mb},
                      {"flops_per_token", flops},
                      {"flops_formula", flops_formula(m.kind)},
                      {"gflops", gflops},
                      {"mfu", gflops / peak},
                      {"sgemm_peak_gflops", peak},
                      {"mfu_own_shapes", gflops / own_peak},
                      {"gemm_peak_gflops", own_peak},
                      {"gemm_ms_per_step", own.seconds * 1e3},
                      {"gemm_flops_per_step", own.flops},
                      {"gemm_shapes", own.rows},
                      {"gemm_calls_per_step", own.calls},
                      {"blas_core", blas_core()},
                      {"threads", threads()},
                      {"precision", name(precision())},
                      {"steps", o.steps},
                      {"params", step.model().module().num_params()},
                      {"config", to_json(config)}};
  if (o.generate > 0) {
    j["generate_tokens"] = o.generate;
    j["generate_tokens_per_s"] = generation_tokens_per_s(step.model().gpt(), o.generate, true);
    j["generate_nocache_tokens_per_s"] = generation_tokens_per_s(step.model().gpt(), o.generate, false);
  }
  if (o.json)
    std::printf("%s\n", j.dump().c_str());
  else
    print_bench(config_path, config, j, t, o);
}

void add_bench(CLI::App& app, Context& ctx) {
  struct Args {
    std::string config;
    std::vector<std::string> sets;
    BenchOptions options;
  };
  auto a = std::make_shared<Args>();
  BenchOptions& o = a->options;
  CLI::App* cmd = app.add_subcommand("bench", "time training steps of a config's model on random batches");
  cmd->add_option("config", a->config, "the JSON config (model.vocab_size must be set; none with --machine)");
  cmd->add_option("--set", a->sets, "override a key (repeatable)");
  cmd->add_option("--steps", o.steps, "timed steps")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o.threads, "threads (0: the config's)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--peak-gflops", o.peak_gflops, "sgemm peak for MFU (0: measure)");
  cmd->add_flag("--json", o.json, "print one JSON object");
  cmd->add_flag("--profile", o.profile, "print the time per op, forward and backward");
  cmd->add_flag("--machine", o.machine,
                "print the machine's limits (sgemm peak, memcpy bandwidth, BLAS core, CPU) and exit");
  cmd->add_flag("--memory", o.memory, "run one step and print its estimated and measured peak memory");
  cmd->add_option("--generate", o.generate, "also time greedy GPT sampling of N tokens")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  add_precision_option(cmd, o.precision);
  ctx.on(cmd, [a] {
    QKV_CHECK(a->options.machine || !a->config.empty(), "bench: give a config (or --machine)");
    if (a->options.machine)
      cmd_bench_machine(a->options);
    else
      cmd_bench(a->config, a->sets, a->options);
    return 0;
  });
}

}  // namespace qkv::cli
