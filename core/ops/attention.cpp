// Forward and backward of scaled dot-product attention, one (batch, head) pair at a time.
//
// Forward, per pair:   S = q k^T / sqrt(hs),  masked entries -inf,  P = softmax_rows(S),
//                      P' = dropout(P),  O = P' v
// Backward:            dP' = dO v^T,  dv += P'^T dO,  dP = dP' * mask / (1 - p),
//                      dS = P (dP - rowsum(dP P)),  dq += dS k / sqrt(hs),  dk += dS^T q / sqrt(hs)
// P is kept for the backward pass: memory is O(Tq Tk) per pair. A tiled online-softmax kernel that keeps
// memory linear in T can replace this file without touching the layers.
#include "core/ops/attention.h"

#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/ops/matmul.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/threads.h"

namespace qkv {
namespace {

struct Dims {
  int64_t B, NH, Tq, Tk, hs;
};

// Visible keys of query i: [0, limit) minus padding. Returns false for keys that must be masked.
inline bool visible(const Dims& d, const AttentionOptions& o, int64_t b, int64_t i, int64_t j) {
  if (o.causal && j > i + (d.Tk - d.Tq)) return false;
  if (o.key_padding && o.key_padding->data[b * d.Tk + j]) return false;
  return true;
}

// The dropout keep-scale of element (pair, i, j): counter-based, so any thread computes the same mask.
inline float keep_scale(const AttentionOptions& o, int64_t flat, float keep) {
  auto r = philox(o.seed, o.stream, static_cast<uint64_t>(flat / 4));
  return to_unit_float(r[flat % 4]) < o.dropout ? 0.0f : keep;
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  ProfileScope profile("attention");
  QKV_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention: expected q, k, v of rank 4 [B, NH, T, hs], got ",
            str(q.shape()), ", ", str(k.shape()), ", ", str(v.shape()));
  Dims d{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
  QKV_CHECK(k.shape() == v.shape() && k.size(0) == d.B && k.size(1) == d.NH && k.size(3) == d.hs, "attention: q ",
            str(q.shape()), " does not match k ", str(k.shape()), " and v ", str(v.shape()));
  QKV_CHECK(!o.key_padding || (o.key_padding->shape == Shape{d.B, d.Tk}), "attention: expected a key padding mask [",
            d.B, ", ", d.Tk, "], got ", str(o.key_padding ? o.key_padding->shape : Shape{}));
  QKV_CHECK(d.hs > 0, "attention: head size is 0 in q ", str(q.shape()));
  QKV_CHECK(o.dropout >= 0.0f && o.dropout < 1.0f, "attention: dropout ", o.dropout, " is outside [0, 1)");
  int64_t pairs = d.B * d.NH, tile = d.Tq * d.Tk, qsize = d.Tq * d.hs, ksize = d.Tk * d.hs;
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hs)), keep = 1.0f / (1.0f - o.dropout);
  bool drop = o.dropout > 0.0f;
  Tensor out = Tensor::empty(q.shape());
  Tensor probs = Tensor::empty({d.B, d.NH, d.Tq, d.Tk});                   // P
  Tensor dropped = drop ? Tensor::empty({d.B, d.NH, d.Tq, d.Tk}) : probs;  // P'
  const float *pq = q.data(), *pk = k.data(), *pv = v.data();
  float *po = out.data(), *pp = probs.data(), *pd = dropped.data();
#pragma omp parallel for schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    int64_t b = pair / d.NH;
    float* P = pp + pair * tile;
    gemm(false, true, d.Tq, d.Tk, d.hs, pq + pair * qsize, pk + pair * ksize, 0.0f, P);  // S = q k^T
    for (int64_t i = 0; i < d.Tq; ++i) {
      float* row = P + i * d.Tk;
      float m = -INFINITY;
      for (int64_t j = 0; j < d.Tk; ++j) {
        row[j] = visible(d, o, b, i, j) ? row[j] * scale : -INFINITY;
        m = std::max(m, row[j]);
      }
      if (m == -INFINITY) {  // nothing visible: output zeros
        std::fill_n(row, d.Tk, 0.0f);
        continue;
      }
      double z = 0.0;
#pragma omp simd reduction(+ : z)
      for (int64_t j = 0; j < d.Tk; ++j) z += (row[j] = fast_exp(row[j] - m));
      float inv = static_cast<float>(1.0 / z);
      for (int64_t j = 0; j < d.Tk; ++j) row[j] *= inv;
    }
    if (drop) {
      float* D = pd + pair * tile;
      for (int64_t e = 0; e < tile; ++e) D[e] = P[e] * keep_scale(o, pair * tile + e, keep);
    }
    gemm(false, false, d.Tq, d.hs, d.Tk, pd + pair * tile, pv + pair * ksize, 0.0f, po + pair * qsize);  // O = P' v
  }
  if (o.weights_out) *o.weights_out = probs.detach();
  if (needs_grad(q, k, v)) {
    AttentionOptions saved = o;
    saved.key_padding = nullptr;  // the mask is folded into P (zeros), so backward does not need it
    saved.weights_out = nullptr;
    record(out, "attention", {q, k, v}, [q, k, v, probs, dropped, d, saved, scale, keep](const Tensor& dout) {
      int64_t n_pairs = d.B * d.NH, n_tile = d.Tq * d.Tk, n_q = d.Tq * d.hs, n_k = d.Tk * d.hs;
      bool has_drop = saved.dropout > 0.0f;
      float* dq = q.requires_grad() ? grad_buffer(q).data() : nullptr;
      float* dk = k.requires_grad() ? grad_buffer(k).data() : nullptr;
      float* dv = v.requires_grad() ? grad_buffer(v).data() : nullptr;
      Tensor dprobs = Tensor::empty({n_pairs, d.Tq, d.Tk});
      const float *P0 = probs.data(), *D0 = dropped.data(), *pdo = dout.data();
#pragma omp parallel for schedule(static) if (n_pairs > 1)
      for (int64_t pair = 0; pair < n_pairs; ++pair) {
        const float *P = P0 + pair * n_tile, *D = D0 + pair * n_tile, *dO = pdo + pair * n_q;
        float* dP = dprobs.data() + pair * n_tile;
        if (dv) gemm(true, false, d.Tk, d.hs, d.Tq, D, dO, 1.0f, dv + pair * n_k);  // dv += P'^T dO
        if (!dq && !dk) continue;
        gemm(false, true, d.Tq, d.Tk, d.hs, dO, v.data() + pair * n_k, 0.0f, dP);  // dP' = dO v^T
        for (int64_t i = 0; i < d.Tq; ++i) {
          float* row = dP + i * d.Tk;
          const float* prow = P + i * d.Tk;
          if (has_drop)
            for (int64_t j = 0; j < d.Tk; ++j) row[j] *= keep_scale(saved, pair * n_tile + i * d.Tk + j, keep);
          double dot = 0.0;
          for (int64_t j = 0; j < d.Tk; ++j) dot += row[j] * prow[j];
          for (int64_t j = 0; j < d.Tk; ++j) row[j] = prow[j] * (row[j] - static_cast<float>(dot)) * scale;
        }
        if (dq) gemm(false, false, d.Tq, d.hs, d.Tk, dP, k.data() + pair * n_k, 1.0f, dq + pair * n_q);  // dS k
        if (dk) gemm(true, false, d.Tk, d.hs, d.Tq, dP, q.data() + pair * n_q, 1.0f, dk + pair * n_k);   // dS^T q
      }
    });
  }
  return out;
}

}  // namespace qkv
