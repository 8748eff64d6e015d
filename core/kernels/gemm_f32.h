// The AVX-512 fp32 GEMM kernel: C = op(A) op(B) + beta C with packed panels and FMA (gemm() picks it, matmul.cpp).
#pragma once

#include <cstdint>

namespace qkv {

// Same arguments as gemm() (core/ops/matmul.h): row-major, leading dimensions in floats; beta 0 never reads C.
// Single-threaded (gemm() splits C across threads). Call it only when isa() >= Isa::avx512: elsewhere it is an
// illegal instruction. Sums in fp32 with FMA, in k order within blocks of 384 k-values.
void gemm_f32_avx512(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace qkv
