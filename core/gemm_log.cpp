#include "core/gemm_log.h"

#include <map>
#include <mutex>

#ifdef QKV_OPENMP
#include <omp.h>
#endif

namespace qkv {
namespace detail {
std::atomic<bool> g_gemm_logging{false};
}

namespace {
std::mutex g_mu;
std::map<GemmShape, int64_t>& table() {
  static std::map<GemmShape, int64_t> calls;
  return calls;
}
}  // namespace

void set_gemm_logging(bool on) { detail::g_gemm_logging.store(on, std::memory_order_relaxed); }

void log_gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K) {
  int team = 1;
#ifdef QKV_OPENMP
  if (omp_in_parallel()) team = omp_get_num_threads();
#endif
  GemmShape shape{transpose_a, transpose_b, M, N, K, team};
  std::lock_guard<std::mutex> lock(g_mu);
  ++table()[shape];
}

std::vector<GemmCount> gemm_log() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<GemmCount> out;
  for (const auto& [shape, calls] : table()) out.push_back({shape, calls});
  return out;
}

void reset_gemm_log() {
  std::lock_guard<std::mutex> lock(g_mu);
  table().clear();
}

}  // namespace qkv
