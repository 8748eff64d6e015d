// The AVX512-BF16 GEMM: packed panels of bf16 pairs and a register-blocked vdpbf16ps micro-kernel.
//
// NOTE [bf16 kernel]: the blocking, packing loops and micro-kernel are the shared driver's (NOTE [avx512 gemm
// driver], gemm_avx512_driver.h); this file says how bf16 packs and multiplies. Packing rounds fp32 to bf16
// (RNE) and pairs consecutive k: vdpbf16ps multiplies 32-bit lanes holding two bf16 values and adds both
// products to an fp32 lane, so each lane of a packed panel is (k, k+1) of one row of A or one column of B, the
// odd tail padded with zero.
//
// This file alone is compiled with the AVX512-BF16 flags (CMakeLists.txt); gemm_bf16() calls it only when isa()
// says the CPU has them. Everything here has internal linkage (see the driver's note).
#include "core/kernels/gemm_bf16.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)

#include "core/kernels/gemm_avx512_driver.h"

namespace qkv {
namespace {

struct Bf16Kernel {
  using Lane = uint32_t;  // a bf16 pair: k in the low half, k + 1 in the high half
  // Measured on Zen 5 (bench/bench_gemm_bf16.cpp; the micro-kernel alone runs at 97% of vdpbf16ps's peak):
  // 8 to 14 rows, KC 384 to 1024 and MC 96 to 384 all land within a few percent on the large shapes; larger
  // KC passes over C fewer times, which helps most when K is large.
  static constexpr int kMR = 12;        // rows of a micro-tile: 12 x 2 accumulators, 2 B vectors, 1 broadcast
  static constexpr int kKPerStep = 2;   // a bf16 pair per lane
  static constexpr int64_t kKC = 768;   // k-values per block: a B panel is 384 pairs x 32 x 4 bytes = 48 KiB
  static constexpr int64_t kMC = 192;   // rows per A block: 192 x 768 x 2 bytes = 288 KiB, in L2
  static constexpr int64_t kNC = 1536;  // columns per B block: 768 x 1536 x 2 bytes = 2.3 MiB, in L3
  static constexpr int64_t kPrefetchSteps = 4;

  // Up to 32 k-values of one stored row (k of them valid) -> 16 pairs in order.
  static __m512i load_row(const float* row, int64_t k) {
    __mmask16 lo = first_lanes(k), hi = first_lanes(k > 16 ? k - 16 : 0);
    __m512 a = _mm512_maskz_loadu_ps(lo, row), b = hi ? _mm512_maskz_loadu_ps(hi, row + 16) : _mm512_setzero_ps();
    return (__m512i)_mm512_cvtne2ps_pbh(b, a);
  }

  // 16 fp32 of stored row k and 16 of row k + 1 (absent when k_here is 1: zero), lanes masked by `valid` ->
  // 16 bf16 pairs, lane j = (lo[j], hi[j]). cvtne2ps rounds to nearest even; its result holds lo's 16 bf16 then
  // hi's, and the word permutation interleaves them.
  static __m512i load_step(const float* lo, int64_t ld, int64_t k_here, __mmask16 valid) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                                6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512 l = _mm512_maskz_loadu_ps(valid, lo);
    __m512 h = k_here > 1 ? _mm512_maskz_loadu_ps(valid, lo + ld) : _mm512_setzero_ps();
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(h, l));
  }

  static __m512 madd(__m512 acc, Lane a, __m512i b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32(static_cast<int>(a)), (__m512bh)b);
  }
};

}  // namespace

void gemm_bf16_avx512(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_blocked<Bf16Kernel>(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv

#else  // built without the AVX512-BF16 flags (not x86-64): gemm_bf16() never takes this path

#include "core/error.h"

namespace qkv {

void gemm_bf16_avx512(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float,
                      float*, int64_t) {
  QKV_FAIL("gemm_bf16_avx512: this build has no AVX512-BF16 kernel (compiled without its flags)");
}

}  // namespace qkv

#endif
