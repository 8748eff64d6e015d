// The packed, blocked GEMM driver that the AVX-512 kernels share, generic over how a kernel packs and multiplies.
//
// NOTE [avx512 gemm driver]: Goto/BLIS-style. For each block of KC k-values and NC columns, B is packed into
// panels of NR (32) columns; for each block of MC rows, A is packed into panels of MR rows; the micro-kernel
// then multiplies one A panel by one B panel into an MR x NR tile of C held in registers. Loops, outside in:
// jc (NC columns of B) > pc (KC of K: pack B) > ic (MC rows: pack A) > jr (a B panel, in L1 or L2) > ir (an A
// panel, streamed from L2) > the micro-kernel's k loop. A packed panel is [step][W] lanes of 32 bits; a "step"
// is what one multiply-add instruction consumes per lane: one fp32 k-value (gemm_f32_avx512.cpp) or a pair of
// bf16 k-values (gemm_bf16_avx512.cpp). The policy P names the lane type, the block sizes, how a stored row of
// k-values or a step of stored rows becomes lanes, and the multiply-add.
//
// Include this only from a .cpp compiled with the AVX-512 flags (CMakeLists.txt). Everything here has internal
// linkage on purpose: an inline function instantiated with AVX-512 code in one file could otherwise be merged
// by the linker into a file that runs on CPUs without it.
#pragma once

#if !defined(__AVX512F__)
#error "gemm_avx512_driver.h needs the AVX-512 flags: include it only from the AVX-512 kernel files"
#endif

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
namespace {  // NOLINT(google-build-namespaces): internal linkage is the point (see the note above)

constexpr int kNR = 32;  // columns of a micro-tile: two zmm of 16 fp32

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

__mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// Steps of a panel that holds kc k-values (an odd tail of a bf16 pair is padded with zero).
template <class P>
constexpr int64_t steps_of(int64_t kc) {
  return (kc + P::kKPerStep - 1) / P::kKPerStep;
}

// Packing buffers of one thread and kernel, allocated on its first call and kept: no allocation per call.
template <class P>
struct PackBuffers {
  using Lane = typename P::Lane;
  static constexpr int64_t kALanes = P::kMC * steps_of<P>(P::kKC);
  static constexpr int64_t kBLanes = P::kNC * steps_of<P>(P::kKC);
  Lane* a = nullptr;
  Lane* b = nullptr;
  PackBuffers()
      : a(static_cast<Lane*>(::operator new (kALanes * 4, std::align_val_t{64}))),
        b(static_cast<Lane*>(::operator new (kBLanes * 4, std::align_val_t{64}))) {}
  ~PackBuffers() {
    ::operator delete (a, std::align_val_t{64});
    ::operator delete (b, std::align_val_t{64});
  }
  PackBuffers(const PackBuffers&) = delete;
  PackBuffers& operator=(const PackBuffers&) = delete;
};

template <class P>
PackBuffers<P>& pack_buffers() {
  thread_local PackBuffers<P> buffers;
  return buffers;
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

void prefetch_line(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// Stores the first `lanes` (<= 16) lanes of v.
void store_lanes(void* dst, __m512i v, int64_t lanes) {
  if (lanes == 16) return _mm512_storeu_si512(dst, v);
  _mm512_mask_storeu_epi32(dst, first_lanes(lanes), v);
}

// The two layouts an operand can be stored in, seen as op(X)[width, K] for A's rows or B's columns ("width"
// rows of X in both), packed into panels of W: panel[step][W] lanes, lanes past `width` zero.

// k contiguous (A as is, B transposed): element (w, k) at x[w ld + k]. Per panel, blocks of 16 lanes x 16 steps
// are read row by row (P::load_row: up to 16 steps of one stored row) and transposed to lanes-fastest.
template <class P, int W>
void pack_k_contiguous(const float* x, int64_t ld, int64_t width, int64_t kc, typename P::Lane* out) {
  constexpr int64_t kChunk = 16 * P::kKPerStep;  // k-values of 16 steps
  const int64_t steps = steps_of<P>(kc);
  __m512i r[16];
  for (int64_t w0 = 0; w0 < width; w0 += W) {
    typename P::Lane* panel = out + w0 * steps;
    for (int64_t g = 0; g < W; g += 16) {  // 16 lanes of the panel at a time
      const int64_t rows = min64(16, width - w0 - g), lanes = min64(16, W - g);
      // The next panel's rows are read after these: fetch their lines ahead, chunk by chunk (for operands that
      // come from memory).
      const int64_t next = min64(16, width - w0 - g - W);
      for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
        for (int64_t i = 0; i < next; ++i) prefetch_line(x + (w0 + g + W + i) * ld + k0);
        const int64_t k = min64(kChunk, kc - k0);
        for (int i = 0; i < 16; ++i)  // rows past the edge, or a panel's lanes past it, are zero
          r[i] = i < rows ? P::load_row(x + (w0 + g + i) * ld + k0, k) : _mm512_setzero_si512();
        transpose16(r);
        const int64_t n = min64(16, steps - k0 / P::kKPerStep);
#pragma GCC unroll 16
        for (int p = 0; p < 16; ++p)  // (constant indices into r: it stays in registers)
          if (p < n) store_lanes(panel + (k0 / P::kKPerStep + p) * W + g, r[p], lanes);
      }
    }
  }
}

// width contiguous (A transposed, B as is): element (w, k) at x[k ld + w]. P::load_step turns the stored rows
// of one step into lanes; row by row, across all panels, so that the reads run along memory.
template <class P, int W>
void pack_width_contiguous(const float* x, int64_t ld, int64_t width, int64_t kc, typename P::Lane* out) {
  const int64_t steps = steps_of<P>(kc);
  constexpr int64_t kAhead = P::kPrefetchSteps;  // rows of a step are KiB apart, past the hardware prefetcher
  for (int64_t p = 0; p < steps; ++p) {
    const int64_t k = P::kKPerStep * p, k_here = min64(P::kKPerStep, kc - k);
    const float* row = x + k * ld;
    const bool prefetch = k + P::kKPerStep * (kAhead + 1) <= kc;
    for (int64_t w0 = 0; w0 < width; w0 += W) {
      typename P::Lane* dst = out + w0 * steps + p * W;
      for (int64_t g = 0; g < W; g += 16) {
        if (prefetch && w0 + g < width)
          for (int64_t i = 0; i < P::kKPerStep; ++i) prefetch_line(row + (P::kKPerStep * kAhead + i) * ld + w0 + g);
        const int64_t n = min64(16, width - w0 - g), lanes = min64(16, W - g);
        __m512i v = _mm512_setzero_si512();
        if (n > 0) v = P::load_step(row + w0 + g, ld, k_here, first_lanes(n));  // (pointers only inside X)
        store_lanes(dst + g, v, lanes);
      }
    }
  }
}

// Rows [0, mc) x k [0, kc) of op(A), from its element (0, 0), into panels of MR rows.
template <class P>
void pack_a(bool transpose, const float* a, int64_t lda, int64_t mc, int64_t kc, typename P::Lane* out) {
  if (transpose) return pack_width_contiguous<P, P::kMR>(a, lda, mc, kc, out);  // A stored [K, M]
  pack_k_contiguous<P, P::kMR>(a, lda, mc, kc, out);
}

// k [0, kc) x columns [0, nc) of op(B), from its element (0, 0), into panels of NR columns.
template <class P>
void pack_b(bool transpose, const float* b, int64_t ldb, int64_t kc, int64_t nc, typename P::Lane* out) {
  if (transpose) return pack_k_contiguous<P, kNR>(b, ldb, nc, kc, out);  // B stored [N, K]
  pack_width_contiguous<P, kNR>(b, ldb, nc, kc, out);
}

// C[rows, cols] = acc + beta C over an MR x NR tile (rows <= MR, cols <= NR); beta == 0 never reads C, so
// NaN there does not leak. a: [steps][MR], b: [steps][NR], both packed.
template <class P>
void microkernel(int64_t steps, const typename P::Lane* __restrict a, const typename P::Lane* __restrict b, float* c,
                 int64_t ldc, float beta, int64_t rows, int64_t cols) {
  // The tile of C is read (or written) after the k loop: ask for its lines now, so that they are in L1 by then.
  for (int64_t r = 0; r < rows; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + cols - 1), _MM_HINT_T0);
  }
  __m512 acc[P::kMR][2];
  for (int r = 0; r < P::kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < steps; ++p) {
    const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 16);
#pragma GCC unroll 16
    for (int r = 0; r < P::kMR; ++r) {
      acc[r][0] = P::madd(acc[r][0], a[r], b0);
      acc[r][1] = P::madd(acc[r][1], a[r], b1);
    }
    a += P::kMR;
    b += kNR;
  }
  const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols > 16 ? cols - 16 : 0);
  const __m512 vbeta = _mm512_set1_ps(beta);
  for (int r = 0; r < P::kMR; ++r) {
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

// C = op(A) op(B) + beta C (row-major, leading dimensions in floats) on the calling thread.
template <class P>
void gemm_blocked(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  static_assert(P::kKC % (16 * P::kKPerStep) == 0 && P::kMC % P::kMR == 0 && P::kNC % kNR == 0 && P::kMR <= 16);
  if (K <= 0) {  // (gemm() handles K == 0 before this) an empty sum: C = beta C, without reading C for beta 0
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  PackBuffers<P>& buf = pack_buffers<P>();
  for (int64_t jc = 0; jc < N; jc += P::kNC) {
    const int64_t nc = min64(P::kNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += P::kKC) {
      const int64_t kc = min64(P::kKC, K - pc), steps = steps_of<P>(kc);
      const float* b = transpose_b ? B + jc * ldb + pc : B + pc * ldb + jc;  // op(B)'s element (pc, jc)
      pack_b<P>(transpose_b, b, ldb, kc, nc, buf.b);
      const float block_beta = pc == 0 ? beta : 1.0f;  // later K blocks add to the first's sums
      for (int64_t ic = 0; ic < M; ic += P::kMC) {
        const int64_t mc = min64(P::kMC, M - ic);
        const float* a = transpose_a ? A + pc * lda + ic : A + ic * lda + pc;  // op(A)'s element (ic, pc)
        pack_a<P>(transpose_a, a, lda, mc, kc, buf.a);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += P::kMR)
            microkernel<P>(steps, buf.a + ir * steps, buf.b + jr * steps, C + (ic + ir) * ldc + jc + jr, ldc,
                           block_beta, min64(P::kMR, mc - ir), min64(kNR, nc - jr));
      }
    }
  }
}

}  // namespace
}  // namespace qkv
