// Micro-benchmark of the tensor core's hot ops against their floor: qkv::matmul against raw cblas_sgemm on the
// same buffers, and the elementwise ops and layernorm against memcpy bandwidth. Usage: bench_ops [threads]
//
// NOTE [bench_ops]: every time is the median of >= 20 runs after 3 warm-ups (more runs while a row's time
// budget lasts). qkv and its raw counterpart run interleaved, one call of each per round, so that load from
// other processes falls on both alike. Beside each median the table gives the same figure from the fastest
// run ("best"): on a shared or virtual machine a parallel region can wait milliseconds for a descheduled
// CPU, which moves the median but not the best run. Rows whose median is over 1.5x their best run are
// marked "noisy". Nothing here is asserted: the final lines say which targets are met.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/machine.h"
#include "core/ops.h"

#ifdef QKV_OPENMP
#include <omp.h>
#endif

extern "C" {
char* openblas_get_config(void);
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWarmup = 3;
constexpr int kMinRuns = 20;
constexpr int kMaxRuns = 400;
constexpr double kBudgetSeconds = 0.25;  // per row: stop adding runs beyond kMinRuns once this is spent
constexpr double kMatmulTarget = 0.95;   // qkv GFLOP/s / raw GFLOP/s
constexpr double kMemcpyTarget = 0.50;   // op GB/s / memcpy GB/s

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Time {
  double median;  // ms
  double best;    // ms, the fastest run
  bool noisy() const { return median > 1.5 * best; }
};

// Runs the functions in rounds, one call of each per round, and returns the times of each.
std::vector<Time> time_interleaved(const std::vector<std::function<void()>>& fns, int* runs_out = nullptr) {
  for (int w = 0; w < kWarmup; ++w)
    for (const auto& f : fns) f();
  std::vector<std::vector<double>> ms(fns.size());
  auto start = Clock::now();
  int runs = 0;
  while (runs < kMinRuns ||
         (runs < kMaxRuns && std::chrono::duration<double>(Clock::now() - start).count() < kBudgetSeconds)) {
    for (size_t i = 0; i < fns.size(); ++i) {
      auto t0 = Clock::now();
      fns[i]();
      auto t1 = Clock::now();
      ms[i].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    ++runs;
  }
  if (runs_out) *runs_out = runs;
  std::vector<Time> out;
  for (auto& v : ms) out.push_back({median(v), *std::min_element(v.begin(), v.end())});
  return out;
}

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// CPU seconds since boot from /proc/stat (all CPUs) and /proc/self/stat (this process), to tell afterwards
// whether other processes, or the host (steal), took CPU time during the run.
struct CpuTimes {
  double busy = 0, idle = 0, steal = 0, self = 0;
};

CpuTimes cpu_times() {
  CpuTimes t;
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) {
    t.busy = (user + nice + system + irq + softirq) / tick;
    t.idle = (idle + iowait) / tick;
    t.steal = steal / tick;
  }
  std::ifstream self("/proc/self/stat");
  std::string line;
  std::getline(self, line);
  size_t paren = line.rfind(')');  // the command name may hold spaces; utime and stime are fields 14 and 15
  if (paren != std::string::npos) {
    std::istringstream rest(line.substr(paren + 2));
    std::string field;
    for (int i = 3; i <= 13; ++i) rest >> field;
    double utime = 0, stime = 0;
    if (rest >> utime >> stime) t.self = (utime + stime) / tick;
  }
  return t;
}

float max_abs_diff(const float* x, const float* y, int64_t n) {
  float d = 0.0f;
  for (int64_t i = 0; i < n; ++i) d = std::max(d, std::fabs(x[i] - y[i]));
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Matmul: C[batch, M, N] = A[batch, M, K] op(B)[batch, K, N], with B stored [batch, N, K] when transpose_b.

struct GemmCase {
  const char* config;
  const char* name;
  int64_t batch, M, N, K;  // batch 0: plain 2-D operands
  bool transpose_b;
};

std::string shape_label(const GemmCase& g) {
  auto dims = [&](int64_t rows, int64_t cols) {
    std::string s = "[";
    if (g.batch) s += std::to_string(g.batch) + ",";
    s += std::to_string(rows) + "," + std::to_string(cols) + "]";
    return s;
  };
  return dims(g.M, g.K) + "@" + (g.transpose_b ? dims(g.N, g.K) + "^T" : dims(g.K, g.N));
}

double gflop(const GemmCase& g) { return 2.0 * std::max<int64_t>(g.batch, 1) * g.M * g.N * g.K * 1e-9; }

// The raw side of the comparison: one cblas_sgemm for 2-D operands; for batched ones, one cblas_sgemm per
// matrix, either one after another (OpenBLAS threads each) or split over threads (each GEMM on one thread).
// qkv keeps OpenBLAS on one thread (it splits GEMMs itself); the raw side runs OpenBLAS's own threading.
void raw_gemm(const GemmCase& g, const float* A, const float* B, float* C, bool omp_batches) {
  openblas_set_num_threads(omp_batches ? 1 : qkv::threads());
  int64_t count = std::max<int64_t>(g.batch, 1);
  auto one = [&](int64_t i) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, g.transpose_b ? CblasTrans : CblasNoTrans, static_cast<int>(g.M),
                static_cast<int>(g.N), static_cast<int>(g.K), 1.0f, A + i * g.M * g.K, static_cast<int>(g.K),
                B + i * g.K * g.N, static_cast<int>(g.transpose_b ? g.K : g.N), 0.0f, C + i * g.M * g.N,
                static_cast<int>(g.N));
  };
  if (omp_batches) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) one(i);
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
  openblas_set_num_threads(1);
}

// The smallest ratio (matmul) and fraction of memcpy (bandwidth) seen, from medians and from best runs.
struct Worst {
  double value = 1e9;
  std::string op;
  void see(double v, const std::string& name) {
    if (v < value) {
      value = v;
      op = name;
    }
  }
};
struct Summary {
  Worst ratio, ratio_best, frac, frac_best;
};

void bench_matmul(Summary& summary) {
  const std::vector<GemmCase> cases = {
      // gpt-baby: B=12, T=64, C=128, 4 heads (hs 32), vocab 65; B*T = 768 rows, B*NH = 48 attention matrices
      {"baby", "qkv", 0, 768, 384, 128, true},
      {"baby", "attn proj", 0, 768, 128, 128, true},
      {"baby", "mlp fc", 0, 768, 512, 128, true},
      {"baby", "mlp proj", 0, 768, 128, 512, true},
      {"baby", "lm head", 0, 768, 65, 128, true},
      {"baby", "q@k^T", 48, 64, 64, 32, true},
      {"baby", "att@v", 48, 64, 32, 64, false},
      // gpt-shakespeare-char at batch 8: B=8, T=256, C=384, 6 heads (hs 64); 2048 rows, 48 attention matrices
      {"shakesp", "qkv", 0, 2048, 1152, 384, true},
      {"shakesp", "mlp fc", 0, 2048, 1536, 384, true},
      {"shakesp", "mlp proj", 0, 2048, 384, 1536, true},
      {"shakesp", "q@k^T", 48, 256, 256, 64, true},
      {"shakesp", "att@v", 48, 256, 64, 256, false},
      {"square", "2048^3", 0, 2048, 2048, 2048, false},
  };
  qkv::Rng rng(1234);
  std::printf("\n== matmul forward: qkv::matmul(a, b, false, transpose_b) under NoGrad vs cblas_sgemm on the same\n");
  std::printf("   buffers; ms are medians. ratio = qkv GFLOP/s / raw GFLOP/s (target >= %.2f); best: the same from\n",
              kMatmulTarget);
  std::printf("   the fastest runs. Batched raw: the faster of a plain loop of cblas_sgemm (loop) and the same loop\n");
  std::printf("   split over OpenMP threads, one GEMM per thread (omp).\n\n");
  std::printf("%-8s %-10s %-28s %7s %5s %9s %9s %9s %9s %6s %6s %-5s\n", "config", "op", "shape", "GFLOP", "runs",
              "qkv ms", "raw ms", "qkv GF/s", "raw GF/s", "ratio", "best", "raw");
  qkv::NoGrad no_grad;
  for (const GemmCase& g : cases) {
    qkv::Shape sa = g.batch ? qkv::Shape{g.batch, g.M, g.K} : qkv::Shape{g.M, g.K};
    qkv::Shape sb = g.transpose_b ? (g.batch ? qkv::Shape{g.batch, g.N, g.K} : qkv::Shape{g.N, g.K})
                                  : (g.batch ? qkv::Shape{g.batch, g.K, g.N} : qkv::Shape{g.K, g.N});
    qkv::Shape sc = g.batch ? qkv::Shape{g.batch, g.M, g.N} : qkv::Shape{g.M, g.N};
    qkv::Tensor a = qkv::Tensor::randn(sa, rng), b = qkv::Tensor::randn(sb, rng), c = qkv::Tensor::zeros(sc);
    qkv::Tensor kept;  // the last qkv result, for the check
    auto run_qkv = [&] { kept = qkv::matmul(a, b, false, g.transpose_b); };
    auto run_loop = [&] { raw_gemm(g, a.data(), b.data(), c.data(), false); };
    auto run_omp = [&] { raw_gemm(g, a.data(), b.data(), c.data(), true); };
    int runs = 0;
    Time q, raw;
    const char* raw_kind = "sgemm";
    bool noisy;
    if (g.batch) {
      std::vector<Time> t = time_interleaved({run_qkv, run_loop, run_omp}, &runs);
      q = t[0];
      bool loop = t[1].median <= t[2].median;
      raw = {std::min(t[1].median, t[2].median), std::min(t[1].best, t[2].best)};
      raw_kind = loop ? "loop" : "omp";
      noisy = t[0].noisy() || t[loop ? 1 : 2].noisy();
    } else {
      std::vector<Time> t = time_interleaved({run_qkv, run_loop}, &runs);
      q = t[0];
      raw = t[1];
      noisy = q.noisy() || raw.noisy();
    }
    kept = qkv::Tensor();
    run_qkv();
    float diff = max_abs_diff(kept.data(), c.data(), c.numel());
    double ratio = raw.median / q.median, ratio_best = raw.best / q.best;
    std::string label = std::string(g.config) + " " + g.name;
    summary.ratio.see(ratio, label);
    summary.ratio_best.see(ratio_best, label);
    std::string notes = noisy ? " noisy" : "";
    if (diff > 1e-3f) notes += " CHECK: max |qkv - raw| = " + std::to_string(diff);
    std::printf("%-8s %-10s %-28s %7.3f %5d %9.3f %9.3f %9.1f %9.1f %6.3f %6.3f %-5s%s\n", g.config, g.name,
                shape_label(g).c_str(), gflop(g), runs, q.median, raw.median, gflop(g) / q.median * 1e3,
                gflop(g) / raw.median * 1e3, ratio, ratio_best, raw_kind, notes.c_str());
  }
}

// Backward of matmul on one shape: (forward + backward with requires_grad) minus forward. The backward of
// C = A B^T is two GEMMs, dA += dC B and dB += dC^T A: twice the forward's FLOPs. The raw side is those two
// cblas_sgemm calls with beta = 1.
void bench_matmul_backward() {
  const GemmCase g = {"shakesp", "mlp fc", 0, 2048, 1536, 384, true};
  qkv::Rng rng(99);
  qkv::Tensor a = qkv::Tensor::randn({g.M, g.K}, rng), b = qkv::Tensor::randn({g.N, g.K}, rng);
  qkv::Tensor dc = qkv::Tensor::randn({g.M, g.N}, rng);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  qkv::Tensor da = qkv::Tensor::zeros({g.M, g.K}), db = qkv::Tensor::zeros({g.N, g.K});
  auto forward = [&] { qkv::Tensor c = qkv::matmul(a, b, false, true); };
  // The matmul node's own backward, fed dC directly: no loss reduction in the timing.
  auto forward_backward = [&] {
    qkv::Tensor c = qkv::matmul(a, b, false, true);
    c.impl()->grad_fn->backward(dc);
  };
  auto raw_backward = [&] {
    int M = static_cast<int>(g.M), N = static_cast<int>(g.N), K = static_cast<int>(g.K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dc.data(), N, b.data(), K, 1.0f, da.data(),
                K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dc.data(), N, a.data(), K, 1.0f, db.data(), K);
  };
  int runs = 0;
  std::vector<Time> t = time_interleaved({forward, forward_backward, raw_backward}, &runs);
  double bwd_ms = t[1].median - t[0].median, bwd_best = t[1].best - t[0].best, flop = 2.0 * gflop(g);
  std::printf("\n== matmul backward (dA and dB: %.3f GFLOP) of %s %s %s: (forward + backward) - forward, medians\n\n",
              flop, g.config, g.name, shape_label(g).c_str());
  std::printf("%5s %9s %9s %9s %9s %9s %9s %6s %6s\n", "runs", "fwd ms", "fwd+bwd", "bwd ms", "raw ms", "qkv GF/s",
              "raw GF/s", "ratio", "best");
  std::printf("%5d %9.3f %9.3f %9.3f %9.3f %9.1f %9.1f %6.3f %6.3f%s\n", runs, t[0].median, t[1].median, bwd_ms,
              t[2].median, flop / bwd_ms * 1e3, flop / t[2].median * 1e3, t[2].median / bwd_ms, t[2].best / bwd_best,
              t[0].noisy() || t[1].noisy() || t[2].noisy() ? " noisy" : "");
}

// ---------------------------------------------------------------------------------------------------------
// Bandwidth: GB/s counting the bytes each op reads and writes (its compulsory traffic).

void copy_chunks(float* dst, const float* src, int64_t n) {
#ifdef QKV_OPENMP
#pragma omp parallel
  {
    int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    int64_t begin = n * part / parts, end = n * (part + 1) / parts;
    std::memcpy(dst + begin, src + begin, static_cast<size_t>(end - begin) * sizeof(float));
  }
#else
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
#endif
}

void bench_bandwidth(int64_t n, const char* size_label, Summary& summary) {
  constexpr int64_t C = 768;  // layernorm row length
  int64_t rows = n / C;
  qkv::Rng rng(7);
  qkv::Tensor x = qkv::Tensor::randn({n}, rng), y = qkv::Tensor::randn({n}, rng), dst = qkv::Tensor::zeros({n});
  qkv::Tensor xr = qkv::Tensor::randn({rows, C}, rng);
  qkv::Tensor w = qkv::Tensor::randn({C}, rng), bias = qkv::Tensor::randn({C}, rng);
  const double f = sizeof(float);

  struct Op {
    const char* name;
    double bytes;
    std::function<void()> run;
  };
  std::vector<Op> ops = {
      {"memcpy (1 thread)", 2 * n * f,
       [&] { std::memcpy(dst.data(), x.data(), static_cast<size_t>(n) * sizeof(float)); }},
      {"memcpy (omp chunks)", 2 * n * f, [&] { copy_chunks(dst.data(), x.data(), n); }},
      {"add a+b", 3 * n * f, [&] { qkv::Tensor o = qkv::add(x, y); }},
      {"mul a*s", 2 * n * f, [&] { qkv::Tensor o = qkv::mul(x, 1.5f); }},
      {"gelu", 2 * n * f, [&] { qkv::Tensor o = qkv::gelu(x); }},
      {"exp", 2 * n * f, [&] { qkv::Tensor o = qkv::exp(x); }},
      // x read, y written, (mu, rstd) per row written; weight and bias are read once per row but stay in L1
      {"layernorm [R,768] w,b", (2.0 * rows * C + 2.0 * rows) * f + 2.0 * C * f,
       [&] { qkv::Tensor o = qkv::layernorm(xr, w, bias); }},
  };
  qkv::NoGrad no_grad;
  std::printf("\n%-12s %-22s %5s %9s %9s %7s %9s %9s %7s\n", "size", "op", "runs", "ms", "GB/s", "frac", "best ms",
              "best GB/s", "best");
  double memcpy_gbs = 0.0, memcpy_best = 0.0;
  for (const Op& op : ops) {
    int runs = 0;
    Time t = time_interleaved({op.run}, &runs)[0];
    double gbs = op.bytes / (t.median * 1e-3) * 1e-9, gbs_best = op.bytes / (t.best * 1e-3) * 1e-9;
    bool is_memcpy = std::strncmp(op.name, "memcpy", 6) == 0;
    if (is_memcpy) {
      memcpy_gbs = std::max(memcpy_gbs, gbs);
      memcpy_best = std::max(memcpy_best, gbs_best);
    }
    double frac = gbs / memcpy_gbs, frac_best = gbs_best / memcpy_best;
    std::string label = std::string(op.name) + " (" + size_label + ")";
    if (!is_memcpy) {
      summary.frac.see(frac, label);
      summary.frac_best.see(frac_best, label);
    }
    std::string notes = t.noisy() ? " noisy" : "";
    if (!is_memcpy && frac < kMemcpyTarget) notes += " below target";
    std::printf("%-12s %-22s %5d %9.4f %9.2f %7.3f %9.4f %9.2f %7.3f%s\n", size_label, op.name, runs, t.median, gbs,
                frac, t.best, gbs_best, frac_best, notes.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1) {
    std::fprintf(stderr, "usage: %s [threads >= 1]\n", argv[0]);
    return 2;
  }
  qkv::set_threads(threads);
  auto start = Clock::now();
  CpuTimes cpu0 = cpu_times();

  std::printf("qkv bench_ops\n");
  std::printf("cpu        %s\n", qkv::cpu_model().c_str());
  std::printf("threads    %d (qkv::threads() = %d, OpenBLAS parallel mode %d: 2 = OpenMP)\n", threads, qkv::threads(),
              qkv::blas_parallel_mode());
  std::printf("openblas   %s\n", openblas_get_config());
  std::printf("core       %s\n", openblas_get_corename());
  std::printf("loadavg    %s (at start)\n", first_line("/proc/loadavg").c_str());
  std::printf("timing     steady_clock, median of >= %d runs after %d warm-ups; noisy: median > 1.5x best run\n",
              kMinRuns, kWarmup);

  Summary summary;
  bench_matmul(summary);
  bench_matmul_backward();
  std::printf("\n== bandwidth: GB/s = (bytes read + written) / median time; frac = GB/s / the faster memcpy of the\n");
  std::printf("   same size (target >= %.2f with 2 threads); best: the same from the fastest runs\n", kMemcpyTarget);
  bench_bandwidth(int64_t{8} << 20, "8M floats", summary);
  bench_bandwidth(int64_t{256} << 10, "256K floats", summary);

  double total = std::chrono::duration<double>(Clock::now() - start).count();
  CpuTimes cpu1 = cpu_times();
  double self = cpu1.self - cpu0.self, other = std::max(0.0, cpu1.busy - cpu0.busy - self);
  std::printf("\nloadavg    %s (at end)\n", first_line("/proc/loadavg").c_str());
  std::printf(
      "cpu time   %.1f s wall; this process %.1f s, other processes %.1f s, idle %.1f s, stolen by the host %.1f s\n",
      total, self, other, cpu1.idle - cpu0.idle, cpu1.steal - cpu0.steal);
  auto verdict = [](const Worst& w, double target) { return w.value >= target ? "met" : "MISSED"; };
  std::printf(
      "summary (threads %d, medians): min matmul ratio %.3f (%s), target >= %.2f %s; "
      "min elementwise fraction of memcpy %.3f (%s), target >= %.2f %s\n",
      threads, summary.ratio.value, summary.ratio.op.c_str(), kMatmulTarget, verdict(summary.ratio, kMatmulTarget),
      summary.frac.value, summary.frac.op.c_str(), kMemcpyTarget, verdict(summary.frac, kMemcpyTarget));
  std::printf(
      "summary (threads %d, best runs): min matmul ratio %.3f (%s), target >= %.2f %s; "
      "min elementwise fraction of memcpy %.3f (%s), target >= %.2f %s\n",
      threads, summary.ratio_best.value, summary.ratio_best.op.c_str(), kMatmulTarget,
      verdict(summary.ratio_best, kMatmulTarget), summary.frac_best.value, summary.frac_best.op.c_str(), kMemcpyTarget,
      verdict(summary.frac_best, kMemcpyTarget));
  return 0;
}
