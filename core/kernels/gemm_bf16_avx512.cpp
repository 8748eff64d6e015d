// The AVX512-BF16 GEMM: packed panels of bf16 pairs and a register-blocked vdpbf16ps micro-kernel.
//
// NOTE [bf16 kernel]: Goto/BLIS-style. For each block of KC k-values and NC columns, B is packed into panels of
// NR columns; for each block of MC rows, A is packed into panels of MR rows; the micro-kernel then multiplies
// one A panel by one B panel into an MR x NR tile of C held in registers. Packing rounds fp32 to bf16 (RNE)
// and pairs consecutive k: vdpbf16ps multiplies 32-bit lanes holding two bf16 values and adds both products
// to an fp32 lane, so each lane of a packed panel is (k, k+1) of one row of A or one column of B, the odd
// tail padded with zero. Loops, outside in: jc (NC columns of B) > pc (KC of K: pack B) > ic (MC rows: pack
// A) > jr (a B panel, in L1 or L2) > ir (an A panel, streamed from L2) > the micro-kernel's k loop.
//
// This file alone is compiled with the AVX512 flags (CMakeLists.txt); gemm_bf16() calls it only when isa()
// says the CPU has AVX512-BF16. Everything here has internal linkage: an inline function from a header that
// this file instantiated with AVX512 code could otherwise be merged by the linker into the other files'.
#include "core/kernels/gemm_bf16.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)

// gcc 12's intrinsics declare "undefined" vectors as `__m512i __Y = __Y;` and then warn about their own
// pattern once inlined (GCC bug 105593, fixed in 12.3): silence that here, where those headers come in.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#include <new>

namespace qkv {
namespace {

// Measured on Zen 5 (bench/bench_gemm_bf16.cpp; the micro-kernel alone runs at 97% of vdpbf16ps's peak):
// 8 to 14 rows, KC 384 to 1024 and MC 96 to 384 all land within a few percent on the large shapes; larger
// KC passes over C fewer times, which helps most when K is large.
constexpr int kMR = 12;        // rows of a micro-tile: 12 x 2 accumulators, 2 B vectors, 1 broadcast: 27 of 32 zmm
constexpr int kNR = 32;        // columns of a micro-tile: two zmm of 16 fp32
constexpr int64_t kKC = 768;   // k-values per block (even): a B panel is 384 pairs x 32 x 4 bytes = 48 KiB
constexpr int64_t kMC = 192;   // rows per A block: 192 x 768 x 2 bytes = 288 KiB, in L2
constexpr int64_t kNC = 1536;  // columns per B block: 768 x 1536 x 2 bytes = 2.3 MiB, in L3 (L2 on Intel)
static_assert(kKC % 32 == 0 && kMC % kMR == 0 && kNC % kNR == 0 && kMR <= 16);

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Packing buffers of one thread, allocated on its first call and kept: no allocation per call.
struct PackBuffers {
  static constexpr int64_t kALanes = kMC * (kKC / 2);  // bf16 pairs
  static constexpr int64_t kBLanes = kNC * (kKC / 2);
  uint32_t* a = nullptr;
  uint32_t* b = nullptr;
  PackBuffers()
      : a(static_cast<uint32_t*>(::operator new (kALanes * 4, std::align_val_t{64}))),
        b(static_cast<uint32_t*>(::operator new (kBLanes * 4, std::align_val_t{64}))) {}
  ~PackBuffers() {
    ::operator delete (a, std::align_val_t{64});
    ::operator delete (b, std::align_val_t{64});
  }
  PackBuffers(const PackBuffers&) = delete;
  PackBuffers& operator=(const PackBuffers&) = delete;
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

__mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// 16 fp32 of row `lo` and 16 of row `hi` (each lane masked by `valid`, zero elsewhere) -> 16 bf16 pairs,
// lane j = (lo[j], hi[j]). cvtne2ps rounds to nearest even; its result holds lo's 16 bf16 then hi's, and the
// word permutation interleaves them.
__m512i pair_rows(const float* lo, const float* hi, __mmask16 valid_lo, __mmask16 valid_hi) {
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  __m512 l = _mm512_maskz_loadu_ps(valid_lo, lo), h = _mm512_maskz_loadu_ps(valid_hi, hi);
  return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(h, l));
}

// r[16] rows of 16 lanes -> r[j] = lane j of each row (a 16 x 16 transpose of 32-bit lanes). Inlined, so that
// r stays in registers.
[[gnu::always_inline]] inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // 2 x 2 blocks of lanes within each 128-bit quarter
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + c], quarter q: lane 4q + c of rows 4i..4i+3
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {  // a 4 x 4 transpose of 128-bit quarters
    __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd);
    __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88), v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
    r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
  }
}

// `rows` (<= 16) rows of 32 k-values from a k-contiguous matrix (row stride ld), the first `k` (<= 32) valid
// -> r[p] = pair p (k-values 2p, 2p+1) of rows 0..15, rows past `rows` zero.
[[gnu::always_inline]] inline void pairs_of_k_rows(const float* src, int64_t ld, int64_t rows, int64_t k,
                                                   __m512i r[16]) {
  __mmask16 lo = first_lanes(k), hi = first_lanes(k > 16 ? k - 16 : 0);
  for (int i = 0; i < 16; ++i) {
    if (i < rows) {
      const float* row = src + i * ld;
      __m512 a = _mm512_maskz_loadu_ps(lo, row), b = hi ? _mm512_maskz_loadu_ps(hi, row + 16) : _mm512_setzero_ps();
      r[i] = (__m512i)_mm512_cvtne2ps_pbh(b, a);  // k-values 0..31 in order: 16 pairs
    } else {
      r[i] = _mm512_setzero_si512();
    }
  }
  transpose16(r);
}

void prefetch_line(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// Stores the first `lanes` (<= 16) lanes of v.
void store_lanes(uint32_t* dst, __m512i v, int64_t lanes) {
  if (lanes == 16) return _mm512_storeu_si512(dst, v);
  _mm512_mask_storeu_epi32(dst, first_lanes(lanes), v);
}

// The two layouts an operand can be stored in, seen as op(X)[width, K] for A's rows or B's columns ("width"
// rows of X in both), packed into panels of W: panel[pair][W] bf16 pairs, lanes past `width` zero.

// k contiguous (A as is, B transposed): element (w, k) at x[w ld + k]. Per panel, blocks of 16 lanes x 16 pairs
// are read row by row and transposed to lanes-fastest.
template <int W>
void pack_k_contiguous(const float* x, int64_t ld, int64_t width, int64_t kc, uint32_t* out) {
  const int64_t pairs = (kc + 1) / 2;
  __m512i r[16];
  for (int64_t w0 = 0; w0 < width; w0 += W) {
    uint32_t* panel = out + w0 * pairs;
    for (int64_t g = 0; g < W; g += 16) {  // 16 lanes of the panel at a time
      const int64_t rows = min64(16, width - w0 - g), lanes = min64(16, W - g);
      // The next panel's rows are read after these: fetch their lines ahead, chunk by chunk (for operands that
      // come from memory).
      const int64_t next = min64(16, width - w0 - g - W);
      for (int64_t k0 = 0; k0 < kc; k0 += 32) {
        for (int64_t i = 0; i < next; ++i) prefetch_line(x + (w0 + g + W + i) * ld + k0);
        if (rows > 0) {
          pairs_of_k_rows(x + (w0 + g) * ld + k0, ld, rows, min64(32, kc - k0), r);
        } else {  // a panel's lanes past the edge
          for (__m512i& v : r) v = _mm512_setzero_si512();
        }
        const int64_t n = min64(16, pairs - k0 / 2);
#pragma GCC unroll 16
        for (int p = 0; p < 16; ++p)  // (constant indices into r: it stays in registers)
          if (p < n) store_lanes(panel + (k0 / 2 + p) * W + g, r[p], lanes);
      }
    }
  }
}

// width contiguous (A transposed, B as is): element (w, k) at x[k ld + w]. Stored rows k and k + 1 interleave
// into pairs; row by row, across all panels, so that the reads run along memory.
template <int W>
void pack_width_contiguous(const float* x, int64_t ld, int64_t width, int64_t kc, uint32_t* out) {
  const int64_t pairs = (kc + 1) / 2;
  constexpr int64_t kAhead = 4;  // pairs: rows of one pair are a few KiB apart, past the hardware prefetcher
  for (int64_t p = 0; p < pairs; ++p) {
    const float* lo = x + 2 * p * ld;
    const bool has_hi = 2 * p + 1 < kc;
    const float* ahead = 2 * (p + kAhead) + 1 < kc ? lo + 2 * kAhead * ld : nullptr;
    for (int64_t w0 = 0; w0 < width; w0 += W) {
      uint32_t* dst = out + w0 * pairs + p * W;
      for (int64_t g = 0; g < W; g += 16) {
        if (ahead && w0 + g < width) {
          prefetch_line(ahead + w0 + g);
          prefetch_line(ahead + ld + w0 + g);
        }
        const int64_t n = min64(16, width - w0 - g), lanes = min64(16, W - g);
        __m512i v = _mm512_setzero_si512();
        if (n > 0) {  // (pointers are formed only inside X)
          const __mmask16 valid = first_lanes(n);
          v = pair_rows(lo + w0 + g, has_hi ? lo + ld + w0 + g : lo, valid, has_hi ? valid : 0);
        }
        store_lanes(dst + g, v, lanes);
      }
    }
  }
}

// Rows [0, mc) x k [0, kc) of op(A), from its element (0, 0), into panels of MR rows.
void pack_a(bool transpose, const float* a, int64_t lda, int64_t mc, int64_t kc, uint32_t* out) {
  if (transpose) return pack_width_contiguous<kMR>(a, lda, mc, kc, out);  // A stored [K, M]
  pack_k_contiguous<kMR>(a, lda, mc, kc, out);
}

// k [0, kc) x columns [0, nc) of op(B), from its element (0, 0), into panels of NR columns.
void pack_b(bool transpose, const float* b, int64_t ldb, int64_t kc, int64_t nc, uint32_t* out) {
  if (transpose) return pack_k_contiguous<kNR>(b, ldb, nc, kc, out);  // B stored [N, K]
  pack_width_contiguous<kNR>(b, ldb, nc, kc, out);
}

// C[rows, cols] = acc + beta C over an MR x NR tile (rows <= MR, cols <= NR); beta == 0 never reads C, so
// NaN there does not leak. a: [pairs][MR], b: [pairs][NR], both packed bf16 pairs.
void microkernel(int64_t pairs, const uint32_t* __restrict a, const uint32_t* __restrict b, float* c, int64_t ldc,
                 float beta, int64_t rows, int64_t cols) {
  // The tile of C is read (or written) after the k loop: ask for its lines now, so that they are in L1 by then.
  for (int64_t r = 0; r < rows; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + cols - 1), _MM_HINT_T0);
  }
  __m512 acc[kMR][2];
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
    }
    a += kMR;
    b += kNR;
  }
  const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols > 16 ? cols - 16 : 0);
  const __m512 vbeta = _mm512_set1_ps(beta);
  for (int r = 0; r < kMR; ++r) {
    if (r >= rows) break;
    float* row = c + r * ldc;
    __m512 c0 = acc[r][0], c1 = acc[r][1];
    if (beta != 0.0f) c0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, row), c0);
    _mm512_mask_storeu_ps(row, m0, c0);
    if (!m1) continue;  // (row + 16 would point past C's last row)
    if (beta != 0.0f) c1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, row + 16), c1);
    _mm512_mask_storeu_ps(row + 16, m1, c1);
  }
}

}  // namespace

void gemm_bf16_avx512(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (K <= 0) {  // (gemm() handles K == 0 before this) an empty sum: C = beta C, without reading C for beta 0
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  PackBuffers& buf = pack_buffers();
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = min64(kNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = min64(kKC, K - pc), pairs = (kc + 1) / 2;
      const float* b = transpose_b ? B + jc * ldb + pc : B + pc * ldb + jc;  // op(B)'s element (pc, jc)
      pack_b(transpose_b, b, ldb, kc, nc, buf.b);
      const float block_beta = pc == 0 ? beta : 1.0f;  // later K blocks add to the first's sums
      for (int64_t ic = 0; ic < M; ic += kMC) {
        const int64_t mc = min64(kMC, M - ic);
        const float* a = transpose_a ? A + pc * lda + ic : A + ic * lda + pc;  // op(A)'s element (ic, pc)
        pack_a(transpose_a, a, lda, mc, kc, buf.a);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR)
            microkernel(pairs, buf.a + ir * pairs, buf.b + jr * pairs, C + (ic + ir) * ldc + jc + jr, ldc, block_beta,
                        min64(kMR, mc - ir), min64(kNR, nc - jr));
      }
    }
  }
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
