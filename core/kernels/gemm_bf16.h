// The bf16 GEMM: C = bf16(op(A)) bf16(op(B)) + beta C on fp32 buffers, products summed in fp32.
#pragma once

#include <cstdint>

namespace qkv {

// Same arguments as gemm() (core/ops/matmul.h): row-major, leading dimensions in floats. A and B stay fp32 in
// memory: each value is rounded to bf16 (to nearest even) as the kernel packs it, so no bf16 copy is kept.
// Dispatches on isa(): AVX512-BF16's vdpbf16ps where the CPU has it, else the plain path.
void gemm_bf16(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The plain path, on every CPU: rounds the inputs to bf16 into fp32 scratch and multiplies with OpenBLAS.
// The reference the tests hold the fast paths to (equal up to the order of the fp32 sums).
void gemm_bf16_plain(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The AVX512-BF16 path (vdpbf16ps on packed bf16 pairs, fp32 sums; core/kernels/gemm_bf16_avx512.cpp). Call it
// only when isa() >= Isa::avx512bf16: elsewhere it is an illegal instruction. Single-threaded, like the others.
// Rounding equals to_bf16 except that subnormal fp32 inputs become zero, and so do products that would be
// subnormal: vcvtne2ps2bf16 and vdpbf16ps flush them (the plain path keeps them; they are below 1.2e-38).
void gemm_bf16_avx512(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace qkv
