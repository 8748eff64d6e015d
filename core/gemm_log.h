// The GEMM shapes a step issues, with their counts: `qkv bench` replays each shape through gemm() alone to
// measure the peak the model's own shapes allow (its second MFU).
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <vector>

namespace qkv {

// NOTE [gemm log]: one process-wide table, switched like set_profiling; while it is off, gemm() pays one
// branch. gemm() runs inside OpenMP regions too (one product per batch matrix in parallel), so recording
// takes a mutex; it is on only for one untimed step.
struct GemmShape {
  bool transpose_a = false, transpose_b = false;
  int64_t M = 0, N = 0, K = 0;
  // Threads of the OpenMP region the call ran in (1 outside one): that many such calls ran side by side,
  // each on one BLAS thread, and a replay runs them the same way.
  int team = 1;
  auto operator<=>(const GemmShape&) const = default;
};

struct GemmCount {
  GemmShape shape;
  int64_t calls = 0;
  double flops() const { return 2.0 * static_cast<double>(shape.M * shape.N * shape.K) * static_cast<double>(calls); }
};

namespace detail {
extern std::atomic<bool> g_gemm_logging;
}

void set_gemm_logging(bool on);
inline bool gemm_logging() { return detail::g_gemm_logging.load(std::memory_order_relaxed); }

// Counts one product C[M, N] = op(A)[M, K] op(B)[K, N]; called by gemm() while logging is on.
void log_gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K);

std::vector<GemmCount> gemm_log();  // ordered by shape
void reset_gemm_log();

}  // namespace qkv
