// Forward and backward of multi-head attention, one (batch, head) pair at a time and, within a pair, one
// block of queries at a time, so that causal and local attention never compute the keys a block cannot see.
//
// Forward, per block:  S = q k^T / sqrt(hs) over the visible keys, masked entries -inf,
//                      lse = logsumexp_rows(S),  P = exp(S - lse),  P' = dropout(P),  O = P' v
// Backward, per block: S and P again from q, k and the saved lse (one more GEMM instead of keeping P),
//                      dv += P'^T dO,  dP' = dO v^T,  dP = dP' * mask / (1 - p),
//                      dS = P (dP - rowsum(dP P)),  dq += dS k / sqrt(hs),  dk += dS^T q / sqrt(hs)
// NOTE [attention memory]: only the output and one lse per query are kept between forward and backward, and
// a block of scores lives in per-thread scratch of (block rows) x Tk floats: memory grows linearly in T. The
// dropout mask is recomputed from its counter-based key. Heads are read and written in place inside the
// token-major tensors through the GEMMs' leading dimensions, so no head is ever copied out.
#include "core/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/ops/dropout.h"
#include "core/ops/matmul.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/threads.h"

namespace qkv {
namespace {

struct Dims {
  int64_t B, NH, Tq, Tk, hs;
  bool causal;
  int64_t window;  // 0: every key
};

// Queries per block. Causal or local: 64, small enough that blocks skip most of the hidden keys, large
// enough for efficient GEMMs. Otherwise as many as keep a block's scores within kBlockFloats (fewer, larger
// GEMMs), at least 64 and at most all of them.
constexpr int64_t kMaskedBlock = 64, kBlockFloats = int64_t{1} << 15;

int64_t block_rows(const Dims& d) {
  if (d.causal || d.window > 0) return kMaskedBlock;
  return std::min(std::max(kMaskedBlock, kBlockFloats / std::max<int64_t>(d.Tk, 1)), std::max<int64_t>(d.Tq, 1));
}

// The keys [begin, end) query i may see (before padding).
struct KeyRange {
  int64_t begin, end;
};

KeyRange visible_keys(const Dims& d, int64_t i) {
  int64_t at = i + d.Tk - d.Tq;  // the query's position among the keys
  int64_t begin = d.window > 0 ? at - d.window + 1 : 0;
  int64_t end = d.causal ? at + 1 : d.window > 0 ? at + d.window : d.Tk;
  return {std::clamp<int64_t>(begin, 0, d.Tk), std::clamp<int64_t>(end, 0, d.Tk)};
}

// The keys some query of the block [i0, i0 + rows) may see: the first query's begin to the last one's end.
KeyRange block_keys(const Dims& d, int64_t i0, int64_t rows) {
  KeyRange first = visible_keys(d, i0), last = visible_keys(d, i0 + rows - 1);
  return {first.begin, std::max(first.begin, last.end)};
}

// Everything one (batch, head) pair reads: its q, k and v heads and its batch's key padding (null: none).
struct Pair {
  int64_t b, h;
  HeadMatrix Q, K, V;
  const uint8_t* pad;
};

Pair pair_of(int64_t pair, const Dims& d, const Heads& q, const Heads& k, const Heads& v,
             const std::vector<uint8_t>& padding) {
  int64_t b = pair / d.NH, h = pair % d.NH;
  return {b,
          h,
          head_matrix(q, d.Tq, d.hs, b, h),
          head_matrix(k, d.Tk, d.hs, b, h),
          head_matrix(v, d.Tk, d.hs, b, h),
          padding.empty() ? nullptr : padding.data() + b * d.Tk};
}

// dst[e] = src[e] / (1 - p), or 0 where the dropout mask of element `flat + e` drops it. The mask is a pure
// function of (seed, stream, element), so forward and backward draw the same one on any thread.
void apply_dropout(const AttentionOptions& o, int64_t flat, const float* src, float* dst, int64_t n, float keep) {
  apply_dropout_mask(o.dropout, keep, o.seed, o.stream, static_cast<uint64_t>(flat), src, dst, n);
}

// One query's probabilities from its raw scores row[0, keys): scaled, masked (keys outside [first, limit);
// padding), then normalised: the forward pass (lse_in null) computes exp(s - max) / sum and stores the row's
// log-sum-exp in *lse_out; the backward pass recomputes P as exp(s - lse) from the saved one (equal to the
// forward's P to rounding). A query that sees no key gets lse = +inf and a row of zeros.
void probabilities(float* full_row, int64_t keys, int64_t first, int64_t limit, const uint8_t* padding, float scale,
                   const float* lse_in, float* lse_out) {
  limit = std::clamp<int64_t>(limit, 0, keys);
  first = std::clamp<int64_t>(first, 0, limit);
  std::fill(full_row, full_row + first, 0.0f);
  float* row = full_row + first;  // from here on the visible keys start at 0
  if (padding) padding += first;
  keys -= first;
  limit -= first;
  if (padding) {
    for (int64_t j = 0; j < limit; ++j) row[j] = padding[j] ? -INFINITY : row[j] * scale;
  } else {
#pragma omp simd
    for (int64_t j = 0; j < limit; ++j) row[j] *= scale;
  }
  float m = row_max(row, limit);
  float lse = lse_in ? *lse_in : INFINITY;
  if (!lse_in && m != -INFINITY) {
    double z = exp_shifted(row, m, row, limit);  // exp(-inf) = 0 for padding
    float inv = static_cast<float>(1.0 / z);
#pragma omp simd
    for (int64_t j = 0; j < limit; ++j) row[j] *= inv;
    lse = m + static_cast<float>(std::log(z));
  } else if (lse != INFINITY) {
#pragma omp simd
    for (int64_t j = 0; j < limit; ++j) row[j] = fast_exp(row[j] - lse);
  }
  if (lse_out) *lse_out = lse;
  if (lse == INFINITY) limit = 0;  // no visible key: a row of zeros
  std::fill(row + limit, row + keys, 0.0f);
}

}  // namespace

HeadMatrix head_matrix(const Heads& x, int64_t T, int64_t hs, int64_t b, int64_t h) {
  int64_t ld = x.x.size(2);
  return {b * T * ld + x.col + h * hs, ld};
}

namespace {
int64_t checked_width(const Heads& x, const char* what) {
  QKV_CHECK(x.x.defined() && x.x.dim() == 3, "attention: expected ", what, " of rank 3 [B, T, width], got ",
            str(x.x.defined() ? x.x.shape() : Shape{}));
  int64_t width = x.width > 0 ? x.width : x.x.size(2) - x.col;
  QKV_CHECK(x.col >= 0 && width > 0 && x.col + width <= x.x.size(2), "attention: ", what, " columns [", x.col, ", ",
            x.col + width, ") are outside its ", x.x.size(2), " columns");
  return width;
}
}  // namespace

HeadDims check_heads(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const Mask* key_padding) {
  int64_t width = checked_width(q, "q");
  QKV_CHECK(checked_width(k, "k") == width && checked_width(v, "v") == width,
            "attention: q, k and v heads differ in width: q ", str(q.x.shape()), ", k ", str(k.x.shape()), ", v ",
            str(v.x.shape()));
  QKV_CHECK(n_head > 0 && width % n_head == 0, "attention: ", n_head, " heads do not divide width ", width);
  HeadDims d{q.x.size(0), n_head, q.x.size(1), k.x.size(1), width / n_head, width};
  QKV_CHECK(k.x.size(0) == d.B && v.x.size(0) == d.B && v.x.size(1) == d.Tk, "attention: q ", str(q.x.shape()),
            " does not match k ", str(k.x.shape()), " and v ", str(v.x.shape()));
  QKV_CHECK(!key_padding || (key_padding->shape == Shape{d.B, d.Tk}), "attention: expected a key padding mask [", d.B,
            ", ", d.Tk, "], got ", str(key_padding ? key_padding->shape : Shape{}));
  return d;
}

Tensor attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const AttentionOptions& o) {
  ProfileScope profile("attention");
  HeadDims hd = check_heads(q, k, v, n_head, o.key_padding);
  int64_t width = hd.width;
  Dims d{hd.B, hd.NH, hd.Tq, hd.Tk, hd.hs, o.causal, o.window};
  QKV_CHECK(o.window >= 0, "attention: window ", o.window, " must be 0 (every key) or positive");
  QKV_CHECK(o.dropout >= 0.0f && o.dropout < 1.0f, "attention: dropout ", o.dropout, " is outside [0, 1)");
  QKV_CHECK(!o.state, "attention: a LinearAttentionState is for linear_attention");
  int64_t pairs = d.B * d.NH, tile = d.Tq * d.Tk;
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hs)), keep = 1.0f / (1.0f - o.dropout);
  bool drop = o.dropout > 0.0f;
  Tensor out = Tensor::empty({d.B, d.Tq, width});
  Tensor lse = Tensor::empty({pairs, d.Tq});
  Tensor weights = o.weights_out ? Tensor::zeros({d.B, d.NH, d.Tq, d.Tk}) : Tensor();
  const int64_t block = block_rows(d);
  Tensor scratch = Tensor::empty({threads(), (drop ? 2 : 1) * block * d.Tk});  // P (and P') of a block
  // The backward pass needs the padding after the caller's mask may be gone: keep a copy.
  auto padding = std::make_shared<std::vector<uint8_t>>(o.key_padding ? o.key_padding->data : std::vector<uint8_t>{});
  const float *pq = q.x.data(), *pk = k.x.data(), *pv = v.x.data();
#pragma omp parallel for schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const auto [b, h, Q, K, V, pad] = pair_of(pair, d, q, k, v, *padding);
    float* P = scratch.data() + thread_index() * scratch.size(1);
    float* D = P + block * d.Tk;
    float* O = out.data() + b * d.Tq * width + h * d.hs;
    for (int64_t i0 = 0; i0 < d.Tq; i0 += block) {
      int64_t rows = std::min(block, d.Tq - i0);
      auto [k0, k1] = block_keys(d, i0, rows);
      int64_t keys = k1 - k0;
      if (keys == 0) {  // no query of the block sees a key
        for (int64_t r = 0; r < rows; ++r) {
          std::fill_n(O + (i0 + r) * width, d.hs, 0.0f);
          lse.data()[pair * d.Tq + i0 + r] = INFINITY;
        }
        continue;
      }
      gemm(false, true, rows, keys, d.hs, pq + Q.offset + i0 * Q.ld, Q.ld, pk + K.offset + k0 * K.ld, K.ld, 0.0f, P,
           keys);
      for (int64_t r = 0; r < rows; ++r) {
        KeyRange row = visible_keys(d, i0 + r);
        probabilities(P + r * keys, keys, row.begin - k0, row.end - k0, pad ? pad + k0 : nullptr, scale, nullptr,
                      lse.data() + pair * d.Tq + i0 + r);
        if (weights.defined()) std::copy_n(P + r * keys, keys, weights.data() + pair * tile + (i0 + r) * d.Tk + k0);
      }
      const float* A = P;
      if (drop) {
        for (int64_t r = 0; r < rows; ++r)
          apply_dropout(o, pair * tile + (i0 + r) * d.Tk + k0, P + r * keys, D + r * keys, keys, keep);
        A = D;
      }
      gemm(false, false, rows, d.hs, keys, A, keys, pv + V.offset + k0 * V.ld, V.ld, 0.0f, O + i0 * width,
           width);  // O = P' v
    }
  }
  if (o.weights_out) *o.weights_out = weights;
  if (needs_grad(q.x, k.x, v.x)) {
    AttentionOptions saved = o;
    saved.key_padding = nullptr;  // `padding` holds the mask from here on
    saved.weights_out = nullptr;
    record(out, "attention", {q.x, k.x, v.x},
           [q, k, v, lse, padding, d, saved, scale, keep, width](const Tensor& dout) {
             int64_t n_pairs = d.B * d.NH, n_tile = d.Tq * d.Tk;
             bool has_drop = saved.dropout > 0.0f;
             // One buffer per distinct tensor: q, k and v may share one, each head writing only its own columns.
             float* dq = q.x.requires_grad() ? grad_buffer(q.x).data() : nullptr;
             float* dk = k.x.requires_grad() ? grad_buffer(k.x).data() : nullptr;
             float* dv = v.x.requires_grad() ? grad_buffer(v.x).data() : nullptr;
             const int64_t rows_per_block = block_rows(d);
             Tensor work = Tensor::empty({threads(), (has_drop ? 3 : 2) * rows_per_block * d.Tk});  // P, dP (and P')
             const float *q0 = q.x.data(), *k0 = k.x.data(), *v0 = v.x.data(), *pdo = dout.data();
#pragma omp parallel for schedule(static) if (n_pairs > 1)
             for (int64_t pair = 0; pair < n_pairs; ++pair) {
               const auto [b, h, Q, K, V, pad] = pair_of(pair, d, q, k, v, *padding);
               const float* dO = pdo + b * d.Tq * width + h * d.hs;
               float* P = work.data() + thread_index() * work.size(1);
               float* dP = P + rows_per_block * d.Tk;
               float* D = dP + rows_per_block * d.Tk;
               for (int64_t i0 = 0; i0 < d.Tq; i0 += rows_per_block) {
                 int64_t rows = std::min(rows_per_block, d.Tq - i0);
                 auto [kb, ke] = block_keys(d, i0, rows);
                 int64_t keys = ke - kb;
                 if (keys == 0) continue;
                 const float* Qb = q0 + Q.offset + i0 * Q.ld;
                 const float* Kb = k0 + K.offset + kb * K.ld;
                 gemm(false, true, rows, keys, d.hs, Qb, Q.ld, Kb, K.ld, 0.0f, P, keys);  // S again
                 for (int64_t r = 0; r < rows; ++r) {
                   KeyRange row = visible_keys(d, i0 + r);
                   probabilities(P + r * keys, keys, row.begin - kb, row.end - kb, pad ? pad + kb : nullptr, scale,
                                 lse.data() + pair * d.Tq + i0 + r, nullptr);
                 }
                 const float* A = P;
                 const int64_t flat0 = pair * n_tile + i0 * d.Tk + kb;  // the dropout mask's first element
                 if (has_drop) {
                   for (int64_t r = 0; r < rows; ++r)
                     apply_dropout(saved, flat0 + r * d.Tk, P + r * keys, D + r * keys, keys, keep);
                   A = D;
                 }
                 if (dv)  // dv += P'^T dO
                   gemm(true, false, keys, d.hs, rows, A, keys, dO + i0 * width, width, 1.0f, dv + V.offset + kb * V.ld,
                        V.ld);
                 if (!dq && !dk) continue;
                 gemm(false, true, rows, keys, d.hs, dO + i0 * width, width, v0 + V.offset + kb * V.ld, V.ld, 0.0f, dP,
                      keys);
                 for (int64_t r = 0; r < rows; ++r) {
                   float* row = dP + r * keys;
                   const float* prow = P + r * keys;
                   if (has_drop) apply_dropout(saved, flat0 + r * d.Tk, row, row, keys, keep);
                   double dot = 0.0;
#pragma omp simd reduction(+ : dot)
                   for (int64_t j = 0; j < keys; ++j) dot += row[j] * prow[j];
                   float fdot = static_cast<float>(dot);
#pragma omp simd
                   for (int64_t j = 0; j < keys; ++j) row[j] = prow[j] * (row[j] - fdot) * scale;
                 }
                 if (dq)  // dq += dS k
                   gemm(false, false, rows, d.hs, keys, dP, keys, Kb, K.ld, 1.0f, dq + Q.offset + i0 * Q.ld, Q.ld);
                 if (dk)  // dk += dS^T q
                   gemm(true, false, keys, d.hs, rows, dP, keys, Qb, Q.ld, 1.0f, dk + K.offset + kb * K.ld, K.ld);
               }
             }
           });
  }
  return out;
}

}  // namespace qkv
