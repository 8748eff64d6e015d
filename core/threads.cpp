#include "core/threads.h"

#include <cstdlib>
#include <thread>

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
int g_threads = 0;  // 0 until first asked: then the default
}  // namespace

void set_threads(int n) {
  g_threads = n > 0 ? n : default_threads();
#ifdef QKV_OPENMP
  omp_set_num_threads(g_threads);
#endif
  openblas_set_num_threads(g_threads);
}

int threads() {
  if (g_threads == 0) set_threads(0);
  return g_threads;
}

int thread_index() {
#ifdef QKV_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

int blas_parallel_mode() { return openblas_get_parallel(); }

}  // namespace qkv
