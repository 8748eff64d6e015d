#include <cblas.h>

#include <vector>

#include "core/bf16.h"
#include "core/kernels/gemm_bf16.h"

namespace qkv {
namespace {

// The stored rows x cols matrix at p (row stride ld), rounded to bf16, packed densely.
std::vector<float> rounded(const float* p, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[static_cast<size_t>(i * cols + j)] = round_bf16(p[i * ld + j]);
  return out;
}

}  // namespace

void gemm_bf16_plain(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Stored shapes: A is [K, M] when transposed, else [M, K]; B is [N, K] when transposed, else [K, N].
  std::vector<float> a = transpose_a ? rounded(A, K, M, lda) : rounded(A, M, K, lda);
  std::vector<float> b = transpose_b ? rounded(B, N, K, ldb) : rounded(B, K, N, ldb);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, a.data(),
              static_cast<int>(transpose_a ? M : K), b.data(), static_cast<int>(transpose_b ? K : N), beta, C,
              static_cast<int>(ldc));
}

}  // namespace qkv
