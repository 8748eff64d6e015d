#include "core/kernels/gemm_bf16.h"

#include <cstdio>
#include <mutex>

#include "core/isa.h"

namespace qkv {
namespace {

// Once per process: without bf16 instructions, bf16 rounds copies of A and B and runs fp32 sgemm on them.
void warn_plain_path() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::fprintf(stderr,
                 "qkv: bf16 matmuls take the plain path, slower than fp32 (instruction set in use: %s; this CPU has: "
                 "%s; the fast path needs avx512bf16)\n",
                 enum_name(kIsas, isa()), cpu_features().c_str());
  });
}

}  // namespace

void gemm_bf16(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (isa() >= Isa::avx512bf16)
    return gemm_bf16_avx512(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
  warn_plain_path();
  gemm_bf16_plain(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv
