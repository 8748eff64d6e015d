// Forward and backward of matmul. With C = op(A) op(B):  dop(A) = dC op(B)^T,  dop(B) = op(A)^T dC,
// and each is written to the stored layout of A or B by choosing the BLAS transpose flags.
#include "core/ops/matmul.h"

#include <cblas.h>

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/gemm_log.h"
#include "core/isa.h"
#include "core/kernels/gemm_bf16.h"
#include "core/kernels/gemm_f32.h"
#include "core/precision.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {

void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
          float beta, float* C) {
  gemm(transpose_a, transpose_b, M, N, K, A, transpose_a ? M : K, B, transpose_b ? K : N, beta, C, N);
}

namespace {

// Whether an fp32 part goes to gemm_f32_avx512 rather than OpenBLAS: by the ISA path and the shape alone, so the
// bits are fixed for a path. Measured on Zen 5 (bench_gemm_bf16, one thread): the kernel is 1.4-2x OpenBLAS's
// AVX2 sgemm from N = 24 up, for any M and K (even K = 1 and M = 8); at N = 12-16 they tie, and at N = 8 the
// 32-column micro-tile is mostly padding and OpenBLAS is 1.6x faster.
bool f32_kernel_wins(int64_t N) { return isa() >= Isa::avx512 && N > 16; }

// One part of a product, on the calling thread, in the process's precision.
void part_gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (precision() == Precision::bf16) return gemm_bf16(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
  if (f32_kernel_wins(N)) return gemm_f32_avx512(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

}  // namespace

GemmSplit gemm_split(int64_t M, int64_t N, int64_t K, int configured_threads) {
  // Each part packs the operand it shares with the others again, so the parts are few: one per thread, none
  // under about 4 MFLOP (~35 us on a core), along the longer side of C (the shared operand is the smaller).
  double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  bool rows = M >= N;
  int64_t extent = rows ? M : N;
  int64_t parts = std::min<int64_t>({configured_threads, static_cast<int64_t>(flops / kGemmPartFlops), extent});
  return {rows, std::max<int64_t>(parts, 1)};
}

void gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS rejects a leading dimension of 0; the product of empty matrices is 0
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  if (gemm_logging()) log_gemm(transpose_a, transpose_b, M, N, K);
  isa();  // resolved here, where a bad QKV_ISA can throw, not inside the parallel region (which would terminate)
  // NOTE [gemm split]: OpenBLAS runs on one thread; qkv cuts C into parts by the configured thread count and
  // the shape only, so the bits do not depend on which threads, or how many of them, compute the parts.
  GemmSplit split = gemm_split(M, N, K, threads());
  if (split.parts == 1) return part_gemm(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
  int64_t extent = split.rows ? M : N;
  auto part = [&](int64_t p) {
    int64_t begin = extent * p / split.parts, end = extent * (p + 1) / split.parts;
    if (split.rows) {  // rows [begin, end) of C and of op(A)
      const float* a = transpose_a ? A + begin : A + begin * lda;
      part_gemm(transpose_a, transpose_b, end - begin, N, K, a, lda, B, ldb, beta, C + begin * ldc, ldc);
    } else {  // columns [begin, end) of C and of op(B)
      const float* b = transpose_b ? B + begin * ldb : B + begin;
      part_gemm(transpose_a, transpose_b, M, end - begin, K, A, lda, b, ldb, beta, C + begin, ldc);
    }
  };
  if (in_parallel()) {
    for (int64_t p = 0; p < split.parts; ++p) part(p);
  } else {
#pragma omp parallel for schedule(dynamic, 1) num_threads(team())
    for (int64_t p = 0; p < split.parts; ++p) part(p);
  }
}

namespace {

// Which stored matrix of A, B and C each output batch uses, after broadcasting the batch dimensions.
struct BatchPlan {
  int64_t M, N, K;
  std::vector<int64_t> a, b;      // matrix index into A and B for output batch i (C uses i)
  bool a_broadcast, b_broadcast;  // several output batches share one matrix of A (or B)
};

// C[ci] (+)= op(X[xi]) op(Y[yi]) for every batch; in parallel over batches when the targets are distinct and
// there are at least as many batches as threads (OpenBLAS then runs each GEMM on one thread: one fork for
// the whole batch instead of one per GEMM), else one multi-threaded GEMM after another.
void batched_gemm(bool tx, bool ty, int64_t M, int64_t N, int64_t K, const float* X, const std::vector<int64_t>& xi,
                  const float* Y, const std::vector<int64_t>& yi, float beta, float* C,
                  const std::vector<int64_t>* ci) {
  int64_t count = static_cast<int64_t>(xi.size());
  auto one = [&](int64_t i) {
    gemm(tx, ty, M, N, K, X + xi[i] * M * K, Y + yi[i] * K * N, beta, C + (ci ? (*ci)[i] : i) * M * N);
  };
  bool parallel = ci == nullptr && count > 1 && count >= threads();
  if (parallel) {
#pragma omp parallel for num_threads(team()) schedule(static)
    for (int64_t i = 0; i < count; ++i) one(i);
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
}

// The gradient buffer of a matmul operand, and the beta to write it with: a first gradient is written by BLAS
// with beta 0, not added to zeros, unless broadcast matrices take several contributions.
float* operand_grad(const Tensor& x, bool broadcast, float& beta) {
  bool fresh = false;
  float* g = broadcast ? grad_buffer(x).data() : grad_buffer_for_overwrite(x, fresh).data();
  beta = fresh ? 0.0f : 1.0f;
  return g;
}

// dout = dC [batch, M, N] -> adds into the gradients of a and b (the ones that require one), with the forward's
// plan and transpose flags.
void matmul_backward(const BatchPlan& plan, bool transpose_a, bool transpose_b, const Tensor& a, const Tensor& b,
                     const float* dout) {
  const int64_t M = plan.M, N = plan.N, K = plan.K;
  std::vector<int64_t> c(plan.a.size());  // output batch i is matrix i of dC
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<int64_t>(i);
  float beta = 0.0f;
  if (a.requires_grad()) {
    // Shared matrices of A take several contributions: write them one after another (targets given).
    const std::vector<int64_t>* targets = plan.a_broadcast ? &plan.a : nullptr;
    float* da = operand_grad(a, targets != nullptr, beta);
    if (!transpose_a)  // dA[M, K] += dC[M, N] op(B)^T
      batched_gemm(false, !transpose_b, M, K, N, dout, c, b.data(), plan.b, beta, da, targets);
    else  // dA[K, M] += op(B) dC^T
      batched_gemm(transpose_b, true, K, M, N, b.data(), plan.b, dout, c, beta, da, targets);
  }
  if (b.requires_grad()) {
    const std::vector<int64_t>* targets = plan.b_broadcast ? &plan.b : nullptr;
    float* db = operand_grad(b, targets != nullptr, beta);
    if (!transpose_b)  // dB[K, N] += op(A)^T dC
      batched_gemm(!transpose_a, false, K, N, M, a.data(), plan.a, dout, c, beta, db, targets);
    else  // dB[N, K] += dC^T op(A)
      batched_gemm(true, transpose_a, N, K, M, dout, c, a.data(), plan.a, beta, db, targets);
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  ProfileScope profile("matmul");
  QKV_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected tensors of rank >= 2, got ", str(a.shape()), " and ",
            str(b.shape()));
  int64_t M = a.size(transpose_a ? -1 : -2), Ka = a.size(transpose_a ? -2 : -1);
  int64_t Kb = b.size(transpose_b ? -1 : -2), N = b.size(transpose_b ? -2 : -1);
  QKV_CHECK(Ka == Kb, "matmul: inner dimensions differ: ", str(a.shape()), (transpose_a ? " (transposed)" : ""), " @ ",
            str(b.shape()), (transpose_b ? " (transposed)" : ""), " (", Ka, " vs ", Kb, ")");
  int64_t K = Ka;
  QKV_CHECK(a.numel() < (int64_t{1} << 31) && b.numel() < (int64_t{1} << 31), "matmul: operands ", str(a.shape()),
            " and ", str(b.shape()), " exceed the 2^31 elements BLAS indexes");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul (batch dimensions)");

  BatchPlan plan{M, N, K, {}, {}, false, false};
  if (bb.empty() && !transpose_a) {
    // b is one matrix: fold a's batch into its rows, one GEMM [batch * M, K] @ [K, N].
    plan.M = M * numel(ba);
    plan.a = plan.b = {0};
  } else {
    std::vector<int64_t> sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
    int64_t count = numel(batch);
    plan.a.resize(count);
    plan.b.resize(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t rest = i, ia = 0, ib = 0;
      for (size_t d = batch.size(); d-- > 0;) {
        ia += (rest % batch[d]) * sa[d];
        ib += (rest % batch[d]) * sb[d];
        rest /= batch[d];
      }
      plan.a[i] = ia;
      plan.b[i] = ib;
    }
    plan.a_broadcast = numel(ba) != count;
    plan.b_broadcast = numel(bb) != count;
  }

  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape);
  batched_gemm(transpose_a, transpose_b, plan.M, N, K, a.data(), plan.a, b.data(), plan.b, 0.0f, out.data(), nullptr);

  if (needs_grad(a, b)) {
    record(out, "matmul", {a, b}, [a, b, plan, transpose_a, transpose_b](const Tensor& dout) {
      matmul_backward(plan, transpose_a, transpose_b, a, b, dout.data());
    });
  }
  return out;
}

}  // namespace qkv
