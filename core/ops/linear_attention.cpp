// Forward and backward of linear attention, one (batch, head) pair at a time, in a sweep over the queries.
//
// Forward: S = sum_j phi(k_j) v_j^T, z = sum_j phi(k_j) (all keys first, or key i added before query i when
//          causal), n_i = phi(q_i)^T S, d_i = phi(q_i) . z + eps, out_i = n_i / d_i.
// Backward: with dn_i = dout_i / d_i and dd_i = -(dout_i . out_i) / d_i,
//          dphi(q_i) = S dn_i + dd_i z                    (S and z as query i saw them)
//          G = sum_i phi(q_i) dn_i^T, g = sum_i dd_i phi(q_i)  (over the queries that see key j: all, or i >= j)
//          dphi(k_j) = G v_j + g,  dv_j = G^T phi(k_j)
// The causal backward sweeps forward for dq (rebuilding the prefix sums) and backward for dk and dv (building
// the suffix sums G and g), so memory stays O(T hs): no T x T matrix and no per-query copy of S.
#include "core/ops/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

float phi(float x) { return x > 0.0f ? x + 1.0f : std::exp(x); }   // elu(x) + 1
float phi_grad(float x) { return x > 0.0f ? 1.0f : std::exp(x); }  // its derivative

void phi_row(const float* x, float* out, int64_t hs) {
  for (int64_t a = 0; a < hs; ++a) out[a] = phi(x[a]);
}

// S += kf v^T, z += kf.
void add_key(float* S, float* z, const float* kf, const float* v, int64_t hs) {
  for (int64_t a = 0; a < hs; ++a) {
    z[a] += kf[a];
#pragma omp simd
    for (int64_t c = 0; c < hs; ++c) S[a * hs + c] += kf[a] * v[c];
  }
}

// out = qf^T S / (qf . z + eps); returns the denominator.
float read_out(const float* S, const float* z, const float* qf, float* out, int64_t hs) {
  float den = kLinearAttentionEps;
  for (int64_t a = 0; a < hs; ++a) den += qf[a] * z[a];
  std::fill(out, out + hs, 0.0f);
  for (int64_t a = 0; a < hs; ++a) {
#pragma omp simd
    for (int64_t c = 0; c < hs; ++c) out[c] += qf[a] * S[a * hs + c];
  }
  for (int64_t c = 0; c < hs; ++c) out[c] /= den;
  return den;
}

// One (batch, head) pair's heads, from their first element, and its padding.
struct LinearPair {
  const float *q, *k, *v;
  int64_t ldq, ldk, ldv;
  const uint8_t* pad;  // [Tk] or null
  bool hidden(int64_t j) const { return pad && pad[j]; }
  // S += phi(k_j) v_j^T and z += phi(k_j), unless key j is padding; f is scratch of hs floats.
  void add_key_to(int64_t j, float* S, float* z, float* f, int64_t hs) const {
    if (hidden(j)) return;
    phi_row(k + j * ldk, f, hs);
    add_key(S, z, f, v + j * ldv, hs);
  }
};

LinearPair linear_pair(const HeadPair& p, const Heads& q, const Heads& k, const Heads& v) {
  return {q.x.data() + p.q.offset, k.x.data() + p.k.offset, v.x.data() + p.v.offset, p.q.ld, p.k.ld, p.v.ld, p.pad};
}

// The implied attention weights of query i: phi(q_i) . phi(k_j) / d_i over the keys it sees.
void implied_weights(const LinearPair& p, const HeadDims& d, bool causal, int64_t i, const float* qf, float den,
                     float* row) {
  std::vector<float> kf(d.hs);
  int64_t end = causal ? i + 1 : d.Tk;
  for (int64_t j = 0; j < end; ++j) {
    if (p.hidden(j)) continue;
    phi_row(p.k + j * p.ldk, kf.data(), d.hs);
    float w = 0.0f;
    for (int64_t a = 0; a < d.hs; ++a) w += qf[a] * kf[a];
    row[j] = w / den;
  }
}

// q, k, v [B, T, *] as heads, padding [B, Tk] or empty -> out [B, Tq, width], weights [B, NH, Tq, Tk] or null.
// With a state (state_s [B, NH, hs, hs], state_z [B, NH, hs]; else null) the sums start from it and end in it.
void linear_attention_forward(const HeadDims& d, bool causal, const Heads& q, const Heads& k, const Heads& v,
                              const std::vector<uint8_t>& padding, float* out, float* weights, float* state_s,
                              float* state_z) {
  const int64_t pairs = d.B * d.NH, hs = d.hs;
#pragma omp parallel for num_threads(team()) schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const HeadPair hp = head_pair(pair, d, q, k, v, padding);
    const LinearPair p = linear_pair(hp, q, k, v);
    std::vector<float> S(hs * hs, 0.0f), z(hs, 0.0f), f(hs);
    if (state_s) {
      std::copy_n(state_s + pair * hs * hs, hs * hs, S.data());
      std::copy_n(state_z + pair * hs, hs, z.data());
    }
    auto add = [&](int64_t j) { p.add_key_to(j, S.data(), z.data(), f.data(), hs); };
    if (!causal)
      for (int64_t j = 0; j < d.Tk; ++j) add(j);
    float* O = out + hp.b * d.Tq * d.width + hp.h * hs;
    for (int64_t i = 0; i < d.Tq; ++i) {
      if (causal) add(i);
      phi_row(p.q + i * p.ldq, f.data(), hs);
      float den = read_out(S.data(), z.data(), f.data(), O + i * d.width, hs);
      if (weights) implied_weights(p, d, causal, i, f.data(), den, weights + (pair * d.Tq + i) * d.Tk);
    }
    if (state_s) {
      std::copy_n(S.data(), hs * hs, state_s + pair * hs * hs);
      std::copy_n(z.data(), hs, state_z + pair * hs);
    }
  }
}

// dq of one pair (gq its gradient or null), sweeping the queries with S and z as each query saw them. Also
// fills dn [Tq, hs] with dn_i = dout_i / d_i and dd [Tq] with dd_i = -(dout_i . out_i) / d_i, from the pair's
// dout rows dO (stride width).
void linear_query_grads(const HeadDims& d, bool causal, const LinearPair& p, const float* dO, float* gq, float* dn,
                        float* dd) {
  const int64_t hs = d.hs;
  std::vector<float> S(hs * hs, 0.0f), z(hs, 0.0f), f(hs), o(hs);
  auto add = [&](int64_t j) { p.add_key_to(j, S.data(), z.data(), f.data(), hs); };
  if (!causal)
    for (int64_t j = 0; j < d.Tk; ++j) add(j);
  for (int64_t i = 0; i < d.Tq; ++i) {
    if (causal) add(i);
    const float* qi = p.q + i * p.ldq;
    phi_row(qi, f.data(), hs);
    float den = read_out(S.data(), z.data(), f.data(), o.data(), hs);
    const float* doi = dO + i * d.width;
    float dot = 0.0f;
    for (int64_t c = 0; c < hs; ++c) {
      dn[i * hs + c] = doi[c] / den;
      dot += doi[c] * o[c];
    }
    dd[i] = -dot / den;
    if (!gq) continue;
    for (int64_t a = 0; a < hs; ++a) {
      float sum = dd[i] * z[a];
      for (int64_t c = 0; c < hs; ++c) sum += S[a * hs + c] * dn[i * hs + c];
      gq[i * p.ldq + a] += sum * phi_grad(qi[a]);
    }
  }
}

// Query i's share of the sums over the queries that see a key: G += phi(q_i) dn_i^T [hs, hs], g += dd_i phi(q_i).
void add_query(const LinearPair& p, int64_t i, const float* dn, const float* dd, float* G, float* g, float* f,
               int64_t hs) {
  phi_row(p.q + i * p.ldq, f, hs);
  for (int64_t a = 0; a < hs; ++a) {
    g[a] += dd[i] * f[a];
#pragma omp simd
    for (int64_t c = 0; c < hs; ++c) G[a * hs + c] += f[a] * dn[i * hs + c];
  }
}

// Key j's gradients from the G and g of the queries that see it: dphi(k_j) = G v_j + g, dv_j = G^T phi(k_j).
void add_key_grads(const LinearPair& p, int64_t j, const float* G, const float* g, float* f, float* gk, float* gv,
                   int64_t hs) {
  if (p.hidden(j)) return;
  const float* vj = p.v + j * p.ldv;
  const float* kj = p.k + j * p.ldk;
  phi_row(kj, f, hs);
  for (int64_t a = 0; a < hs; ++a) {
    float sum = g[a];
    for (int64_t c = 0; c < hs; ++c) sum += G[a * hs + c] * vj[c];
    if (gk) gk[j * p.ldk + a] += sum * phi_grad(kj[a]);
  }
  if (gv)
    for (int64_t a = 0; a < hs; ++a)
      for (int64_t c = 0; c < hs; ++c) gv[j * p.ldv + c] += f[a] * G[a * hs + c];
}

// dk and dv of one pair (gk, gv its gradients or null) from dn and dd: every query sees every key, or (causal)
// a backward sweep builds the suffix sums over the queries i >= j.
void linear_key_grads(const HeadDims& d, bool causal, const LinearPair& p, const float* dn, const float* dd, float* gk,
                      float* gv) {
  const int64_t hs = d.hs;
  std::vector<float> G(hs * hs, 0.0f), g(hs, 0.0f), f(hs);
  if (!causal) {
    for (int64_t i = 0; i < d.Tq; ++i) add_query(p, i, dn, dd, G.data(), g.data(), f.data(), hs);
    for (int64_t j = 0; j < d.Tk; ++j) add_key_grads(p, j, G.data(), g.data(), f.data(), gk, gv, hs);
  } else {
    for (int64_t j = d.Tk - 1; j >= 0; --j) {
      add_query(p, j, dn, dd, G.data(), g.data(), f.data(), hs);
      add_key_grads(p, j, G.data(), g.data(), f.data(), gk, gv, hs);
    }
  }
}

// dout [B, Tq, width] -> adds into dq, dk, dv (the buffers of q, k, v, [B, T, *]; null where not wanted).
void linear_attention_backward(const HeadDims& d, bool causal, const Heads& q, const Heads& k, const Heads& v,
                               const std::vector<uint8_t>& padding, const float* dout, float* dq, float* dk,
                               float* dv) {
  const int64_t pairs = d.B * d.NH;
#pragma omp parallel for num_threads(team()) schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const HeadPair hp = head_pair(pair, d, q, k, v, padding);
    float* gq = dq ? dq + hp.q.offset : nullptr;
    float* gk = dk ? dk + hp.k.offset : nullptr;
    float* gv = dv ? dv + hp.v.offset : nullptr;
    const LinearPair p = linear_pair(hp, q, k, v);
    std::vector<float> dn(d.Tq * d.hs), dd(d.Tq);
    linear_query_grads(d, causal, p, dout + hp.b * d.Tq * d.width + hp.h * d.hs, gq, dn.data(), dd.data());
    if (gk || gv) linear_key_grads(d, causal, p, dn.data(), dd.data(), gk, gv);
  }
}

}  // namespace

void LinearAttentionState::select_rows(const std::vector<int64_t>& rows) {
  if (!s.defined()) return;
  s = s.select_rows(rows);
  z = z.select_rows(rows);
}

Tensor linear_attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const AttentionOptions& o) {
  ProfileScope profile("linear_attention");
  QKV_CHECK(o.window == 0 && o.dropout == 0.0f, "linear attention: it takes no window and no dropout, got window ",
            o.window, " and dropout ", o.dropout);
  const HeadDims d = check_heads(q, k, v, n_head, o.key_padding);
  QKV_CHECK(!o.causal || d.Tq == d.Tk, "linear attention: causal needs as many queries as keys, got ", d.Tq, " and ",
            d.Tk, " (decoding carries a LinearAttentionState instead of earlier keys)");
  LinearAttentionState* state = o.state;
  QKV_CHECK(!state || o.causal, "linear attention: a state is for causal decoding");
  if (state && !state->s.defined()) {
    state->s = Tensor::zeros({d.B, d.NH, d.hs, d.hs});
    state->z = Tensor::zeros({d.B, d.NH, d.hs});
  }
  QKV_CHECK(!state || (state->s.shape() == Shape{d.B, d.NH, d.hs, d.hs} && state->z.shape() == Shape{d.B, d.NH, d.hs}),
            "linear attention: the state holds sums of shape ", str(state ? state->s.shape() : Shape{}), ", expected [",
            d.B, ", ", d.NH, ", ", d.hs, ", ", d.hs, "]");
  auto padding = std::make_shared<std::vector<uint8_t>>(o.key_padding ? o.key_padding->data : std::vector<uint8_t>{});
  Tensor out = Tensor::empty({d.B, d.Tq, d.width});
  Tensor weights = o.weights_out ? Tensor::zeros({d.B, d.NH, d.Tq, d.Tk}) : Tensor();
  linear_attention_forward(d, o.causal, q, k, v, *padding, out.data(), o.weights_out ? weights.data() : nullptr,
                           state ? state->s.data() : nullptr, state ? state->z.data() : nullptr);
  if (o.weights_out) *o.weights_out = weights;
  if (!state && needs_grad(q.x, k.x, v.x)) {
    record(out, "linear_attention", {q.x, k.x, v.x}, [q, k, v, d, causal = o.causal, padding](const Tensor& dout) {
      float *dq = grad_or_null(q.x), *dk = grad_or_null(k.x), *dv = grad_or_null(v.x);
      linear_attention_backward(d, causal, q, k, v, *padding, dout.data(), dq, dk, dv);
    });
  }
  return out;
}

}  // namespace qkv
