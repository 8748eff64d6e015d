// Matrix product through OpenBLAS's sgemm, split over the threads: 2-D and batched (batch dimensions
// broadcast), transposes as flags.
#pragma once

#include "core/tensor.h"

namespace qkv {

// a [..., M, K] (stored [..., K, M] when transpose_a), b [..., K, N] (stored [..., N, K] when transpose_b)
// -> [..., M, N]. The flags tell BLAS to read the stored matrix transposed; nothing is copied.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// C[M, N] = op(A)[M, K] op(B)[K, N] + beta C, on raw row-major buffers. For kernels that call BLAS directly.
void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
          float beta, float* C);

// The same with explicit row strides (lda, ldb, ldc in floats), for matrices inside wider buffers such as one
// head's columns of a [T, 3C] projection.
void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// How gemm() cuts C into parts computed side by side, each by one single-threaded cblas_sgemm: `parts`
// slices of its rows (or of its columns when rows is false). A function of the shape and the configured
// thread count only, so that the result is the same whatever the load.
struct GemmSplit {
  bool rows = true;
  int64_t parts = 1;
};
constexpr double kGemmPartFlops = 4e6;
GemmSplit gemm_split(int64_t M, int64_t N, int64_t K, int configured_threads);

}  // namespace qkv
