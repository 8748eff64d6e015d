#include "core/threads.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/cpu_load.h"

#ifdef QKV_OPENMP
#include <omp.h>
#endif

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
}

namespace qkv {
namespace {
int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

bool adaptive() {
  const char* env = std::getenv("QKV_ADAPTIVE_THREADS");
  return !(env && std::strcmp(env, "0") == 0);
}

int g_threads = 0;  // 0 until first asked: then the default
std::atomic<int> g_team{0};

// NOTE [team]: OpenMP's fork-join waits at every region's end for each thread of the team. When another
// process holds one of our cores, the thread on it runs only in the scheduler's slices, and a step of
// ~1,400 small regions waits for it ~1,400 times (27x slower than idle, measured). Sampling the load and
// shrinking the team to the free cores keeps the step at least as fast as on one thread.
struct TeamMonitor {
  std::mutex mutex;  // one thread samples; the others keep the last team
  CpuLoad load;
  std::atomic<int64_t> next_ns{0};  // steady-clock time of the next sample
};
TeamMonitor& monitor() {
  static TeamMonitor m;
  return m;
}
constexpr int64_t kSampleEveryNs = 100'000'000;
}  // namespace

void set_threads(int n) {
  g_threads = n > 0 ? n : default_threads();
  g_team.store(g_threads, std::memory_order_relaxed);
#ifdef QKV_OPENMP
  omp_set_num_threads(g_threads);
#endif
  // qkv splits each GEMM itself (core/ops/matmul.cpp), so OpenBLAS's own threading stays off.
  openblas_set_num_threads(1);
}

int threads() {
  if (g_threads == 0) set_threads(0);
  return g_threads;
}

int team() {
  int configured = threads();
  if (configured == 1) return 1;
  static const bool adapt = adaptive();
  if (!adapt) return configured;
  TeamMonitor& m = monitor();
  int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now >= m.next_ns.load(std::memory_order_relaxed)) {
    std::unique_lock lock(m.mutex, std::try_to_lock);
    if (lock.owns_lock() && now >= m.next_ns.load(std::memory_order_relaxed)) {
      m.next_ns.store(now + kSampleEveryNs, std::memory_order_relaxed);
      g_team.store(team_for(configured, m.load.cpus(), m.load.others_busy()), std::memory_order_relaxed);
    }
  }
  return std::min(g_team.load(std::memory_order_relaxed), configured);
}

int thread_index() {
#ifdef QKV_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

bool in_parallel() {
#ifdef QKV_OPENMP
  return omp_get_level() > 0;  // a region of one thread counts too: a nested one would fork
#else
  return false;
#endif
}

int blas_parallel_mode() { return openblas_get_parallel(); }

}  // namespace qkv
