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
#include "core/stop.h"
#include "core/threads.h"

namespace qkv {
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

HeadMatrix head_matrix(const Heads& x, int64_t T, int64_t hs, int64_t b, int64_t h) {
  int64_t ld = x.x.size(2);
  return {b * T * ld + x.col + h * hs, ld};
}

HeadPair head_pair(int64_t pair, const HeadDims& d, const Heads& q, const Heads& k, const Heads& v,
                   const std::vector<uint8_t>& padding) {
  int64_t b = pair / d.NH, h = pair % d.NH;
  return {b,
          h,
          head_matrix(q, d.Tq, d.hs, b, h),
          head_matrix(k, d.Tk, d.hs, b, h),
          head_matrix(v, d.Tk, d.hs, b, h),
          padding.empty() ? nullptr : padding.data() + b * d.Tk};
}

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

namespace {

// The sizes and settings of one call, the same in forward and backward.
struct Dims : HeadDims {
  bool causal;
  int64_t window;         // 0: every key
  float scale;            // 1 / sqrt(hs)
  float dropout, keep;    // keep = 1 / (1 - dropout)
  uint64_t seed, stream;  // the dropout mask's key
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

// dst[e] = src[e] / (1 - p), or 0 where the dropout mask of element `flat + e` drops it. The mask is a pure
// function of (seed, stream, element), so forward and backward draw the same one on any thread.
void apply_dropout(const Dims& d, int64_t flat, const float* src, float* dst, int64_t n) {
  apply_dropout_mask(d.dropout, d.keep, d.seed, d.stream, static_cast<uint64_t>(flat), src, dst, n);
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

// Per-thread scratch, block_rows(d) x Tk floats each: P, dP (backward only) and P' (with dropout only).
struct Scratch {
  float *P, *dP, *Pdrop;
};

// The gradient buffers of q, k and v, null where one is not wanted. q, k and v may share one tensor, and so
// one buffer: each head writes only its own columns.
struct QkvGrads {
  float *q, *k, *v;
};

// The forward pass of one (batch, head) pair, a block of queries at a time. out [B, Tq, width] receives the
// pair's hs columns, lse [B * NH, Tq] its log-sum-exps; weights [B, NH, Tq, Tk] its probabilities, or null.
void attention_forward_pair(const Dims& d, int64_t pair, const Heads& q, const Heads& k, const Heads& v,
                            const std::vector<uint8_t>& padding, float* out, float* lse, float* weights, Scratch s) {
  const auto [b, h, Q, K, V, pad] = head_pair(pair, d, q, k, v, padding);
  const int64_t block = block_rows(d), tile = d.Tq * d.Tk;
  const float *pq = q.x.data(), *pk = k.x.data(), *pv = v.x.data();
  float* O = out + b * d.Tq * d.width + h * d.hs;
  for (int64_t i0 = 0; i0 < d.Tq; i0 += block) {
    if (stop_requested()) return;  // the caller throws once the threads are done
    const int64_t rows = std::min(block, d.Tq - i0);
    const auto [key0, key_end] = block_keys(d, i0, rows);
    const int64_t keys = key_end - key0;
    if (keys == 0) {  // no query of the block sees a key
      for (int64_t r = 0; r < rows; ++r) {
        std::fill_n(O + (i0 + r) * d.width, d.hs, 0.0f);
        lse[pair * d.Tq + i0 + r] = INFINITY;
      }
      continue;
    }
    // S = q k^T: [rows, hs] x [hs, keys] -> P [rows, keys], then the probabilities in place
    gemm(false, true, rows, keys, d.hs, pq + Q.offset + i0 * Q.ld, Q.ld, pk + K.offset + key0 * K.ld, K.ld, 0.0f, s.P,
         keys);
    for (int64_t r = 0; r < rows; ++r) {
      KeyRange row = visible_keys(d, i0 + r);
      probabilities(s.P + r * keys, keys, row.begin - key0, row.end - key0, pad ? pad + key0 : nullptr, d.scale,
                    nullptr, lse + pair * d.Tq + i0 + r);
      if (weights) std::copy_n(s.P + r * keys, keys, weights + pair * tile + (i0 + r) * d.Tk + key0);
    }
    const float* Pprime = s.P;
    if (d.dropout > 0.0f) {
      for (int64_t r = 0; r < rows; ++r)
        apply_dropout(d, pair * tile + (i0 + r) * d.Tk + key0, s.P + r * keys, s.Pdrop + r * keys, keys);
      Pprime = s.Pdrop;
    }
    // O = P' v: [rows, keys] x [keys, hs]
    gemm(false, false, rows, d.hs, keys, Pprime, keys, pv + V.offset + key0 * V.ld, V.ld, 0.0f, O + i0 * d.width,
         d.width);
  }
}

// q, k, v [B, T, *] as heads, padding [B, Tk] or empty -> out [B, Tq, width], lse [B * NH, Tq] (saved for the
// backward), weights [B, NH, Tq, Tk] or null.
void attention_forward(const Dims& d, const Heads& q, const Heads& k, const Heads& v,
                       const std::vector<uint8_t>& padding, float* out, float* lse, float* weights) {
  const int64_t pairs = d.B * d.NH, block = block_rows(d);
  Tensor scratch = Tensor::empty({threads(), (d.dropout > 0.0f ? 2 : 1) * block * d.Tk});  // P (and P')
#pragma omp parallel for num_threads(team()) schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    float* P = scratch.data() + thread_index() * scratch.size(1);
    attention_forward_pair(d, pair, q, k, v, padding, out, lse, weights, {P, nullptr, P + block * d.Tk});
  }
  check_stop();  // NOTE [stop between ops]: a long attention ends between blocks; its output is not used
}

// One row of dS = P (dP - rowsum(dP P)) / sqrt(hs), in place in `row`, which holds dP' = dO v^T: the dropout's
// mask and scale turn it into dP first.
void score_grad_row(const Dims& d, int64_t flat, const float* prow, float* row, int64_t keys) {
  if (d.dropout > 0.0f) apply_dropout(d, flat, row, row, keys);
  double dot = 0.0;
#pragma omp simd reduction(+ : dot)
  for (int64_t j = 0; j < keys; ++j) dot += row[j] * prow[j];
  float fdot = static_cast<float>(dot);
#pragma omp simd
  for (int64_t j = 0; j < keys; ++j) row[j] = prow[j] * (row[j] - fdot) * d.scale;
}

// The backward pass of one (batch, head) pair, a block of queries at a time: dout [B, Tq, width], lse
// [B * NH, Tq] from the forward; adds into the pair's columns of g.
void attention_backward_pair(const Dims& d, int64_t pair, const Heads& q, const Heads& k, const Heads& v,
                             const std::vector<uint8_t>& padding, const float* lse, const float* dout, QkvGrads g,
                             Scratch s) {
  const auto [b, h, Q, K, V, pad] = head_pair(pair, d, q, k, v, padding);
  const int64_t block = block_rows(d), tile = d.Tq * d.Tk;
  const float *pq = q.x.data(), *pk = k.x.data(), *pv = v.x.data();
  const float* dO = dout + b * d.Tq * d.width + h * d.hs;
  for (int64_t i0 = 0; i0 < d.Tq; i0 += block) {
    if (stop_requested()) return;  // the caller throws once the threads are done
    const int64_t rows = std::min(block, d.Tq - i0);
    const auto [key0, key_end] = block_keys(d, i0, rows);
    const int64_t keys = key_end - key0;
    if (keys == 0) continue;
    const float* Qb = pq + Q.offset + i0 * Q.ld;                               // [rows, hs]
    const float* Kb = pk + K.offset + key0 * K.ld;                             // [keys, hs]
    gemm(false, true, rows, keys, d.hs, Qb, Q.ld, Kb, K.ld, 0.0f, s.P, keys);  // S again
    for (int64_t r = 0; r < rows; ++r) {
      KeyRange row = visible_keys(d, i0 + r);
      probabilities(s.P + r * keys, keys, row.begin - key0, row.end - key0, pad ? pad + key0 : nullptr, d.scale,
                    lse + pair * d.Tq + i0 + r, nullptr);
    }
    const float* Pprime = s.P;
    const int64_t flat0 = pair * tile + i0 * d.Tk + key0;  // the dropout mask's first element
    if (d.dropout > 0.0f) {
      for (int64_t r = 0; r < rows; ++r) apply_dropout(d, flat0 + r * d.Tk, s.P + r * keys, s.Pdrop + r * keys, keys);
      Pprime = s.Pdrop;
    }
    if (g.v)  // dv += P'^T dO: [keys, rows] x [rows, hs]
      gemm(true, false, keys, d.hs, rows, Pprime, keys, dO + i0 * d.width, d.width, 1.0f, g.v + V.offset + key0 * V.ld,
           V.ld);
    if (!g.q && !g.k) continue;
    // dP' = dO v^T: [rows, hs] x [hs, keys], then dS in place
    gemm(false, true, rows, keys, d.hs, dO + i0 * d.width, d.width, pv + V.offset + key0 * V.ld, V.ld, 0.0f, s.dP,
         keys);
    for (int64_t r = 0; r < rows; ++r) score_grad_row(d, flat0 + r * d.Tk, s.P + r * keys, s.dP + r * keys, keys);
    if (g.q)  // dq += dS k: [rows, keys] x [keys, hs]
      gemm(false, false, rows, d.hs, keys, s.dP, keys, Kb, K.ld, 1.0f, g.q + Q.offset + i0 * Q.ld, Q.ld);
    if (g.k)  // dk += dS^T q: [keys, rows] x [rows, hs]
      gemm(true, false, keys, d.hs, rows, s.dP, keys, Qb, Q.ld, 1.0f, g.k + K.offset + key0 * K.ld, K.ld);
  }
}

// dout [B, Tq, width] -> adds into g (buffers of q, k, v like [B, T, *]); lse [B * NH, Tq] from the forward.
void attention_backward(const Dims& d, const Heads& q, const Heads& k, const Heads& v,
                        const std::vector<uint8_t>& padding, const float* lse, const float* dout, QkvGrads g) {
  const int64_t pairs = d.B * d.NH, block = block_rows(d);
  Tensor work = Tensor::empty({threads(), (d.dropout > 0.0f ? 3 : 2) * block * d.Tk});  // P, dP (and P')
#pragma omp parallel for num_threads(team()) schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    float* P = work.data() + thread_index() * work.size(1);
    attention_backward_pair(d, pair, q, k, v, padding, lse, dout, g, {P, P + block * d.Tk, P + 2 * block * d.Tk});
  }
  check_stop();
}

}  // namespace

Tensor attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const AttentionOptions& o) {
  ProfileScope profile("attention");
  const HeadDims hd = check_heads(q, k, v, n_head, o.key_padding);
  QKV_CHECK(o.window >= 0, "attention: window ", o.window, " must be 0 (every key) or positive");
  QKV_CHECK(o.dropout >= 0.0f && o.dropout < 1.0f, "attention: dropout ", o.dropout, " is outside [0, 1)");
  QKV_CHECK(!o.state, "attention: a LinearAttentionState is for linear_attention");
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd.hs)), keep = 1.0f / (1.0f - o.dropout);
  const Dims d{hd, o.causal, o.window, scale, o.dropout, keep, o.seed, o.stream};
  Tensor out = Tensor::empty({d.B, d.Tq, d.width});
  Tensor lse = Tensor::empty({d.B * d.NH, d.Tq});
  Tensor weights = o.weights_out ? Tensor::zeros({d.B, d.NH, d.Tq, d.Tk}) : Tensor();
  // The backward pass needs the padding after the caller's mask may be gone: keep a copy.
  auto padding = std::make_shared<std::vector<uint8_t>>(o.key_padding ? o.key_padding->data : std::vector<uint8_t>{});
  attention_forward(d, q, k, v, *padding, out.data(), lse.data(), o.weights_out ? weights.data() : nullptr);
  if (o.weights_out) *o.weights_out = weights;
  if (needs_grad(q.x, k.x, v.x)) {
    record(out, "attention", {q.x, k.x, v.x}, [q, k, v, lse, padding, d](const Tensor& dout) {
      QkvGrads g{grad_or_null(q.x), grad_or_null(k.x), grad_or_null(v.x)};
      attention_backward(d, q, k, v, *padding, lse.data(), dout.data(), g);
    });
  }
  return out;
}

}  // namespace qkv
