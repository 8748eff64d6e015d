#include "core/kernels/gemm_bf16.h"

namespace qkv {

void gemm_bf16(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_bf16_plain(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv
