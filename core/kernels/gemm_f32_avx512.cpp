// The AVX-512 fp32 GEMM: packed fp32 panels and a register-blocked FMA micro-kernel on the shared driver.
//
// NOTE [f32 kernel]: the blocking, packing loops and micro-kernel are the shared driver's (NOTE [avx512 gemm
// driver], gemm_avx512_driver.h); a lane of a packed panel is one fp32 value and a step one k-value, and the
// multiply-add is vfmadd231ps with A's value broadcast from memory. KC is half of bf16's, so that the blocks
// hold as many bytes: a B panel (384 x 32 x 4 bytes = 48 KiB) fits L1/L2, an A block (192 x 384 x 4 = 288 KiB)
// L2, a B block (384 x 1536 x 4 = 2.3 MiB) L3.
//
// This file alone is compiled with the AVX-512 flags (CMakeLists.txt); gemm() calls it only when isa() says
// the CPU has them. Everything here has internal linkage (see the driver's note).
#include "core/kernels/gemm_f32.h"

#if defined(__AVX512F__)

#include "core/kernels/gemm_avx512_driver.h"

namespace qkv {
namespace {

struct F32Kernel {
  using Lane = float;
  static constexpr int kMR = 12;  // rows of a micro-tile: 12 x 2 accumulators and 2 B vectors of 32 zmm
  static constexpr int kKPerStep = 1;
  static constexpr int64_t kKC = 384;
  static constexpr int64_t kMC = 192;
  static constexpr int64_t kNC = 1536;
  static constexpr int64_t kPrefetchSteps = 8;

  // Up to 16 k-values of one stored row (k of them valid).
  static __m512i load_row(const float* row, int64_t k) {
    return _mm512_castps_si512(_mm512_maskz_loadu_ps(first_lanes(k), row));
  }

  // One stored row k: 16 values, lanes masked by `valid`.
  static __m512i load_step(const float* row, int64_t, int64_t, __mmask16 valid) {
    return _mm512_castps_si512(_mm512_maskz_loadu_ps(valid, row));
  }

  static __m512 madd(__m512 acc, Lane a, __m512i b) {
    return _mm512_fmadd_ps(_mm512_set1_ps(a), _mm512_castsi512_ps(b), acc);
  }
};

}  // namespace

void gemm_f32_avx512(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_blocked<F32Kernel>(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv

#else  // built without the AVX-512 flags (not x86-64): gemm() never takes this path

#include "core/error.h"

namespace qkv {

void gemm_f32_avx512(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float, float*,
                     int64_t) {
  QKV_FAIL("gemm_f32_avx512: this build has no AVX-512 kernel (compiled without its flags)");
}

}  // namespace qkv

#endif
