// The cost of attention (reproduction 5): time and peak tensor memory of one forward + backward of multi-head
// attention for T = 64, 128, ..., max_T (batch 1, d_model 64, 4 heads of 16), qkv's fused kernel attention()
// beside the composite of small ops that a framework without one would run; with --variants, also local
// attention (window 128) and linear attention (the attention lab). Usage:
//   bench_attention [threads] [max_T] [--json] [--variants kernel,composite,local,linear]
//   (defaults: 2 threads, max_T 4096, kernel and composite)
//
// NOTE [bench_attention]: the two variants run interleaved, one call of each per round, so that load from other
// processes falls on both alike, and each time is the median of the rounds (>= kMinRuns after a warm-up, more
// while the per-T budget lasts; kSlowRuns when one round takes seconds). The loss is sum(out * w) with fixed
// random w, so the backward starts from a dense, non-constant gradient. Memory is the allocator's high-water mark
// during one forward + backward minus the bytes in use before it: the tensors a training step would hold for
// attention alone (q, k, v and w exist before and are not counted; their gradients are counted, as in a model
// q, k and v are activations whose gradients are born in the backward). It does not depend on timing, so it is
// measured once per variant. For T <= kCheckUpTo both variants must agree on the outputs and on dq, dk, dv
// (else it exits 1). The last lines fit log-log slopes over T >= kFitFrom, where the T^2 terms dominate.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/ops.h"

namespace {

using Clock = std::chrono::steady_clock;
using qkv::Tensor;

constexpr int64_t kModel = 64, kHeads = 4, kHeadSize = kModel / kHeads;
constexpr int64_t kMinT = 64, kFitFrom = 256, kCheckUpTo = 256;
constexpr int kMinRuns = 5;             // rounds per T at least ...
constexpr int kSlowRuns = 3;            // ... unless the warm-up round took over kSlowRound seconds
constexpr double kSlowRound = 5.0;      // seconds for one round of both variants
constexpr int kMaxRuns = 50;            // small T: a median of many cheap runs
constexpr double kBudgetSeconds = 1.5;  // per T: stop adding rounds beyond the minimum once this is spent
constexpr float kTolerance = 1e-4f;     // max |kernel - composite| on the outputs and gradients
constexpr int64_t kLocalWindow = 128;   // local attention's window (the W)

struct Options {
  int threads = 2;
  int64_t max_T = 4096;
  bool json = false;
  std::vector<std::string> variants = {"kernel", "composite"};
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t comma; (comma = s.find(',', at)) != std::string::npos; at = comma + 1)
    out.push_back(s.substr(at, comma - at));
  out.push_back(s.substr(at));
  return out;
}

Options parse_args(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0)
      o.json = true;
    else if (std::strcmp(argv[i], "--variants") == 0 && i + 1 < argc)
      o.variants = split_commas(argv[++i]);
    else
      positional.emplace_back(argv[i]);
  }
  QKV_CHECK(positional.size() <= 2, "usage: bench_attention [threads] [max_T] [--json] [--variants a,b,...]");
  for (const std::string& v : o.variants)
    QKV_CHECK(v == "kernel" || v == "composite" || v == "local" || v == "linear", "bench_attention: unknown variant '",
              v, "' (kernel, composite, local, linear)");
  if (!positional.empty()) o.threads = std::atoi(positional[0].c_str());
  if (positional.size() > 1) o.max_T = std::atoll(positional[1].c_str());
  QKV_CHECK(o.threads >= 1, "bench_attention: threads must be >= 1, got '", positional[0], "'");
  QKV_CHECK(o.max_T >= kMinT, "bench_attention: max_T must be >= ", kMinT, ", got '", positional[1], "'");
  return o;
}

// ---------------------------------------------------------------------------------------------------------
// The two variants: q, k, v [1, T, 64] token-major, heads side by side -> out [1, T, 64].

Tensor kernel_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  return qkv::attention({q}, {k}, {v}, kHeads);
}

// [B, T, C] -> [B, NH, T, hs]: a contiguous copy per head layout, as a framework without strided GEMMs needs.
Tensor split_heads(const Tensor& x) {
  return qkv::permute(qkv::reshape(x, {x.size(0), x.size(1), kHeads, kHeadSize}), {0, 2, 1, 3});
}

// softmax(q k^T / sqrt(hs)) v from small ops, each keeping what its own backward needs.
Tensor composite_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  Tensor qh = split_heads(q), kh = split_heads(k), vh = split_heads(v);  // [B, NH, T, hs]
  Tensor scores = qkv::mul(qkv::matmul(qh, kh, false, true), 1.0f / std::sqrt(static_cast<float>(kHeadSize)));
  Tensor heads = qkv::matmul(qkv::softmax(scores), vh);  // [B, NH, T, hs]
  return qkv::reshape(qkv::permute(heads, {0, 2, 1, 3}), {q.size(0), q.size(1), kModel});
}

Tensor local_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  qkv::AttentionOptions o;
  o.window = kLocalWindow;
  return qkv::attention({q}, {k}, {v}, kHeads, o);
}

Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  return qkv::linear_attention({q}, {k}, {v}, kHeads);
}

using Variant = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

Variant variant_named(const std::string& name) {
  if (name == "kernel") return kernel_attention;
  if (name == "composite") return composite_attention;
  if (name == "local") return local_attention;
  return linear_attention;
}

struct Inputs {
  Tensor q, k, v, w;
};

Inputs make_inputs(int64_t T) {
  qkv::Rng rng(static_cast<uint64_t>(1000 + T));
  Inputs in;
  in.q = Tensor::randn({1, T, kModel}, rng).set_requires_grad(true);
  in.k = Tensor::randn({1, T, kModel}, rng).set_requires_grad(true);
  in.v = Tensor::randn({1, T, kModel}, rng).set_requires_grad(true);
  in.w = Tensor::randn({1, T, kModel}, rng);
  return in;
}

// One forward + backward. The gradients of the previous call are dropped first, so that every call allocates
// (and the memory figure counts) its own dq, dk, dv.
void forward_backward(const Variant& f, Inputs& in) {
  for (Tensor* t : {&in.q, &in.k, &in.v}) t->impl()->grad = Tensor();
  Tensor loss = qkv::sum(qkv::mul(f(in.q, in.k, in.v), in.w));
  loss.backward();
}

// Infinity when any difference is NaN: std::max would drop a NaN and let a broken variant pass.
float max_abs_diff(const Tensor& a, const Tensor& b) {
  float diff = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    float d = std::fabs(a.data()[i] - b.data()[i]);
    if (std::isnan(d)) return INFINITY;
    diff = std::max(diff, d);
  }
  return diff;
}

struct Agreement {
  float out = 0.0f, grad = 0.0f;  // max abs differences of the outputs and of dq, dk, dv
};

// Fails loudly when the two variants disagree: a timing of a wrong kernel means nothing. The gradients are
// compared too, so that both backward passes are known to do the same work.
Agreement check_agreement(Inputs& in, int64_t T) {
  Agreement a;
  {
    qkv::NoGrad no_grad;
    a.out = max_abs_diff(kernel_attention(in.q, in.k, in.v), composite_attention(in.q, in.k, in.v));
  }
  forward_backward(kernel_attention, in);
  std::vector<Tensor> kernel_grads = {in.q.grad(), in.k.grad(), in.v.grad()};
  forward_backward(composite_attention, in);
  std::vector<Tensor> composite_grads = {in.q.grad(), in.k.grad(), in.v.grad()};
  for (size_t i = 0; i < kernel_grads.size(); ++i)
    a.grad = std::max(a.grad, max_abs_diff(kernel_grads[i], composite_grads[i]));
  QKV_CHECK(a.out <= kTolerance && a.grad <= kTolerance, "bench_attention: at T = ", T,
            " the kernel and the composite differ by ", a.out, " on the outputs and ", a.grad,
            " on the gradients (max abs), more than ", kTolerance);
  return a;
}

int64_t peak_bytes(const Variant& f, Inputs& in) {
  for (Tensor* t : {&in.q, &in.k, &in.v}) t->impl()->grad = Tensor();  // not part of "before"
  qkv::reset_peak_bytes();
  int64_t before = qkv::allocator_stats().bytes_in_use;
  forward_backward(f, in);
  return qkv::allocator_stats().peak_bytes_in_use - before;
}

// ---------------------------------------------------------------------------------------------------------
// Timing.

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Timing {
  std::vector<double> median_ms, best_ms;
  int runs = 0;
};

// One warm-up round (it also fills the allocator's cache, so timed rounds do not page-fault fresh blocks),
// then rounds of one call per variant.
Timing time_interleaved(const std::vector<Variant>& variants, Inputs& in) {
  auto w0 = Clock::now();
  for (const Variant& f : variants) forward_backward(f, in);
  int min_runs = ms_since(w0) > kSlowRound * 1e3 ? kSlowRuns : kMinRuns;
  std::vector<std::vector<double>> ms(variants.size());
  auto start = Clock::now();
  Timing t;
  while (t.runs < min_runs || (t.runs < kMaxRuns && ms_since(start) < kBudgetSeconds * 1e3)) {
    for (size_t i = 0; i < variants.size(); ++i) {
      auto t0 = Clock::now();
      forward_backward(variants[i], in);
      ms[i].push_back(ms_since(t0));
    }
    ++t.runs;
  }
  for (auto& v : ms) {
    t.median_ms.push_back(median(v));
    t.best_ms.push_back(*std::min_element(v.begin(), v.end()));
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Results.

struct Point {
  int64_t T;
  std::string variant;
  double ms, best_ms;
  int runs;
  int64_t peak_bytes;
};

// Least-squares slope of log y against log T over the points with T >= kFitFrom; NaN with fewer than two.
double loglog_slope(const std::vector<Point>& points, const std::string& variant, double (*y)(const Point&)) {
  std::vector<double> xs, ys;
  for (const Point& p : points)
    if (p.variant == variant && p.T >= kFitFrom) {
      xs.push_back(std::log(static_cast<double>(p.T)));
      ys.push_back(std::log(y(p)));
    }
  size_t n = xs.size();
  if (n < 2) return NAN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += xs[i] / n, my += ys[i] / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) sxy += (xs[i] - mx) * (ys[i] - my), sxx += (xs[i] - mx) * (xs[i] - mx);
  return sxy / sxx;
}

// One T x T attention matrix per head, in bytes: the unit in which the quadratic memory is counted.
double score_matrix_bytes(int64_t T) { return static_cast<double>(kHeads) * T * T * sizeof(float); }

void print_row(const Point& p, double ratio, bool json) {
  if (json) {
    std::printf(
        "{\"kind\": \"point\", \"T\": %lld, \"variant\": \"%s\", \"ms\": %.6g, \"best_ms\": %.6g, \"runs\": %d, "
        "\"peak_bytes\": %lld}\n",
        static_cast<long long>(p.T), p.variant.c_str(), p.ms, p.best_ms, p.runs, static_cast<long long>(p.peak_bytes));
    return;
  }
  char ratio_text[32] = "";
  if (ratio > 0) std::snprintf(ratio_text, sizeof ratio_text, "%.2fx", ratio);
  std::printf("%6lld %-10s %5d %11.3f %11.3f %12.3f %9.2f %9s\n", static_cast<long long>(p.T), p.variant.c_str(),
              p.runs, p.ms, p.best_ms, p.peak_bytes / 1048576.0, p.peak_bytes / score_matrix_bytes(p.T), ratio_text);
  std::fflush(stdout);
}

// A JSON number, or null where a fit had too few points (JSON has no NaN).
std::string json_number(double x) {
  if (std::isnan(x)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", x);
  return text;
}

void print_slopes(const std::vector<Point>& points, const std::vector<std::string>& names, bool json) {
  for (const std::string& name : names) {
    const char* variant = name.c_str();
    double time = loglog_slope(points, variant, [](const Point& p) { return p.ms; });
    double memory = loglog_slope(points, variant, [](const Point& p) { return static_cast<double>(p.peak_bytes); });
    if (json)
      std::printf("{\"kind\": \"slope\", \"variant\": \"%s\", \"fit_from_T\": %lld, \"time\": %s, \"memory\": %s}\n",
                  variant, static_cast<long long>(kFitFrom), json_number(time).c_str(), json_number(memory).c_str());
    else
      std::printf("slope %-10s (log-log least squares over T >= %lld): time %.3f, memory %.3f\n", variant,
                  static_cast<long long>(kFitFrom), time, memory);
  }
}

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void print_header(const Options& o) {
  if (o.json) {
    std::printf(
        "{\"kind\": \"setup\", \"threads\": %d, \"max_T\": %lld, \"batch\": 1, \"d_model\": %lld, \"heads\": %lld, "
        "\"head_size\": %lld, \"min_runs\": %d, \"slow_runs\": %d}\n",
        qkv::threads(), static_cast<long long>(o.max_T), static_cast<long long>(kModel), static_cast<long long>(kHeads),
        static_cast<long long>(kHeadSize), kMinRuns, kSlowRuns);
    return;
  }
  std::printf("qkv bench_attention: one forward + backward, batch 1, d_model %lld, %lld heads of %lld, non-causal\n",
              static_cast<long long>(kModel), static_cast<long long>(kHeads), static_cast<long long>(kHeadSize));
  std::printf("threads    %d\nloadavg    %s (at start)\n", qkv::threads(), first_line("/proc/loadavg").c_str());
  std::printf("timing     median of >= %d interleaved rounds after 1 warm-up (%d when a round takes > %.0f s)\n",
              kMinRuns, kSlowRuns, kSlowRound);
  std::printf("memory     allocator peak during forward + backward minus bytes in use before; T^2: that peak in\n");
  std::printf("           units of one [%lld, T, T] float matrix; ratio: variant ms / the first variant's ms\n\n",
              static_cast<long long>(kHeads));
  std::printf("%6s %-10s %5s %11s %11s %12s %9s %9s\n", "T", "variant", "runs", "median ms", "best ms", "peak MiB",
              "T^2 mats", "ratio");
}

void run(const Options& o) {
  qkv::set_threads(o.threads);
  print_header(o);
  std::vector<Variant> variants;
  for (const std::string& name : o.variants) variants.push_back(variant_named(name));
  const bool both = std::count(o.variants.begin(), o.variants.end(), "kernel") &&
                    std::count(o.variants.begin(), o.variants.end(), "composite");
  std::vector<Point> points;
  std::string checks;
  for (int64_t T = kMinT; T <= o.max_T; T *= 2) {
    Inputs in = make_inputs(T);
    if (both && T <= kCheckUpTo) {
      char line[160];
      Agreement a = check_agreement(in, T);
      std::snprintf(
          line, sizeof line,
          o.json ? "{\"kind\": \"check\", \"T\": %lld, \"max_abs_diff_out\": %.3g, \"max_abs_diff_grad\": %.3g}\n"
                 : "check      T = %lld: max |kernel - composite| = %.3g (outputs), %.3g (dq, dk, dv)\n",
          static_cast<long long>(T), a.out, a.grad);
      checks += line;
    }
    qkv::empty_cache();  // the previous T's blocks would only inflate the process, never be reused
    std::vector<int64_t> bytes;
    for (const Variant& f : variants) bytes.push_back(peak_bytes(f, in));
    Timing t = time_interleaved(variants, in);
    for (size_t i = 0; i < variants.size(); ++i) {
      points.push_back({T, o.variants[i], t.median_ms[i], t.best_ms[i], t.runs, bytes[i]});
      print_row(points.back(), i > 0 ? t.median_ms[i] / t.median_ms[0] : 0.0, o.json);
    }
  }
  if (!o.json) std::printf("\n");
  std::printf("%s", checks.c_str());
  print_slopes(points, o.variants, o.json);
  if (!o.json) std::printf("loadavg    %s (at end)\n", first_line("/proc/loadavg").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_args(argc, argv);
  } catch (const qkv::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;  // bad usage, as qkv's own exit codes
  }
  try {
    run(options);
  } catch (const qkv::Error& e) {
    std::fprintf(stderr, "bench_attention failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
