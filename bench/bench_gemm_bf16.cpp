// Single-thread GFLOP/s of the bf16 GEMM path isa() picks and of the AVX-512 fp32 kernel against OpenBLAS's fp32
// sgemm on one thread, on the shapes of the model configurations (forward, input and weight gradients). Usage:
// bench_gemm_bf16 [shapes] where shapes is "all" (default) or "large".
//
// NOTE [bench_gemm_bf16]: the three run interleaved, one call of each per round, >= 10 rounds after 2 warm-ups
// (more while 0.5 s per shape lasts); the table gives medians and the best run of each. Times are the calling
// thread's CPU time, so that other processes on a shared machine take nothing from either side (they still
// share the caches and memory). All read the same fp32 buffers and write C with beta 0; the bf16 side rounds
// its inputs while packing, inside the timing.
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "core/error.h"
#include "core/isa.h"
#include "core/kernels/gemm_bf16.h"
#include "core/kernels/gemm_f32.h"
#include "core/machine.h"
#include "core/rng.h"

extern "C" void openblas_set_num_threads(int);

namespace {

double thread_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

struct Case {
  const char* what;
  int64_t M, N, K;
  bool ta, tb;
  bool large;
};

struct Times {
  double median, best;  // ms
};

std::vector<Times> time_interleaved(const std::vector<std::function<void()>>& fns) {
  for (int w = 0; w < 2; ++w)
    for (const auto& f : fns) f();
  std::vector<std::vector<double>> ms(fns.size());
  const double start = thread_ms();
  for (int round = 0; round < 200 && (round < 10 || thread_ms() - start < 500.0); ++round) {
    for (size_t i = 0; i < fns.size(); ++i) {
      const double t0 = thread_ms();
      fns[i]();
      ms[i].push_back(thread_ms() - t0);
    }
  }
  std::vector<Times> out;
  for (auto& v : ms) {
    std::sort(v.begin(), v.end());
    out.push_back({v[v.size() / 2], v.front()});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  bool large_only = argc > 1 && std::strcmp(argv[1], "large") == 0;
  openblas_set_num_threads(1);
  const Case cases[] = {
      {"baby attn proj", 768, 128, 128, false, true, false},
      {"baby mlp fc", 768, 512, 128, false, true, false},
      {"baby mlp fc dW", 512, 128, 768, true, false, false},
      {"baby lm head", 768, 65, 128, false, true, false},
      {"baby q@k^T", 64, 64, 32, false, true, false},
      {"baby att@v", 64, 32, 64, false, false, false},
      {"shakesp q@k^T", 256, 256, 64, false, true, false},
      {"shakesp att@v", 256, 64, 256, false, false, false},
      {"thin K", 768, 128, 8, false, true, false},
      {"thin N", 768, 8, 128, false, true, false},
      {"thin M", 8, 512, 128, false, true, false},
      {"shakesp qkv", 2048, 1152, 384, false, true, true},
      {"shakesp mlp proj", 2048, 384, 1536, false, true, true},
      {"shakesp mlp proj dX", 2048, 1536, 384, false, false, true},
      {"shakesp mlp fc dW", 384, 1536, 2048, true, false, true},
      {"gpt2 qkv", 4096, 2304, 768, false, true, true},
      {"gpt2 mlp proj", 4096, 768, 3072, false, true, true},
      {"gpt2 mlp proj dX", 4096, 3072, 768, false, false, true},
      {"gpt2 mlp fc dW", 768, 3072, 4096, true, false, true},
      {"gpt2 mlp fc dW^T", 3072, 768, 4096, true, true, true},
  };
  std::printf("bench_gemm_bf16: cpu %s; bf16 path %s (cpu has: %s); OpenBLAS core %s; one thread\n",
              qkv::cpu_model().c_str(), qkv::enum_name(qkv::kIsas, qkv::isa()), qkv::cpu_features().c_str(),
              qkv::blas_core().c_str());
  // fp32 is OpenBLAS; f32k is gemm_f32_avx512 (only where isa() >= avx512), f32k/blas its speed-up over it.
  const bool f32k_runs = qkv::isa() >= qkv::Isa::avx512;
  std::printf("%-20s %-16s %2s %2s %9s %9s %9s %9s %6s %6s %9s %9s\n", "case", "MxNxK", "ta", "tb", "bf16 ms",
              "fp32 ms", "bf16 GF/s", "fp32 GF/s", "ratio", "best", "f32k GF/s", "f32k/blas");
  qkv::Rng rng(7);
  for (const Case& c : cases) {
    if (large_only && !c.large) continue;
    std::vector<float> a(static_cast<size_t>(c.M * c.K)), b(static_cast<size_t>(c.K * c.N));
    std::vector<float> c_bf16(static_cast<size_t>(c.M * c.N)), c_fp32(c_bf16.size()), c_f32k(c_bf16.size());
    for (float& x : a) x = rng.normal();
    for (float& x : b) x = rng.normal();
    const int64_t lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
    auto bf16 = [&] {
      qkv::gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, a.data(), lda, b.data(), ldb, 0.0f, c_bf16.data(), c.N);
    };
    auto fp32 = [&] {
      cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans,
                  static_cast<int>(c.M), static_cast<int>(c.N), static_cast<int>(c.K), 1.0f, a.data(),
                  static_cast<int>(lda), b.data(), static_cast<int>(ldb), 0.0f, c_fp32.data(), static_cast<int>(c.N));
    };
    auto f32k = [&] {
      if (f32k_runs)
        qkv::gemm_f32_avx512(c.ta, c.tb, c.M, c.N, c.K, a.data(), lda, b.data(), ldb, 0.0f, c_f32k.data(), c.N);
    };
    std::vector<Times> t = time_interleaved({bf16, fp32, f32k});
    double gflop = 2.0 * c.M * c.N * c.K * 1e-9;
    char shape[48];
    std::snprintf(shape, sizeof shape, "%ldx%ldx%ld", static_cast<long>(c.M), static_cast<long>(c.N),
                  static_cast<long>(c.K));
    std::printf("%-20s %-16s %2d %2d %9.3f %9.3f %9.1f %9.1f %6.2f %6.2f %9.1f %9.2f\n", c.what, shape, c.ta, c.tb,
                t[0].median, t[1].median, gflop / t[0].median * 1e3, gflop / t[1].median * 1e3,
                t[1].median / t[0].median, t[1].best / t[0].best, f32k_runs ? gflop / t[2].median * 1e3 : 0.0,
                f32k_runs ? t[1].median / t[2].median : 0.0);
  }
  return 0;
} catch (const qkv::Error& e) {  // e.g. a bad QKV_ISA
  std::fprintf(stderr, "bench_gemm_bf16: %s\n", e.what());
  return 2;
}
