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

// One (batch, head) pair's heads and padding.
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

LinearPair pair_of(int64_t pair, const HeadDims& d, const Heads& q, const Heads& k, const Heads& v,
                   const std::vector<uint8_t>& padding) {
  int64_t b = pair / d.NH, h = pair % d.NH;
  HeadMatrix Q = head_matrix(q, d.Tq, d.hs, b, h), K = head_matrix(k, d.Tk, d.hs, b, h),
             V = head_matrix(v, d.Tk, d.hs, b, h);
  return {q.x.data() + Q.offset,
          k.x.data() + K.offset,
          v.x.data() + V.offset,
          Q.ld,
          K.ld,
          V.ld,
          padding.empty() ? nullptr : padding.data() + b * d.Tk};
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

}  // namespace

void LinearAttentionState::select_rows(const std::vector<int64_t>& rows) {
  if (!s.defined()) return;
  s = s.select_rows(rows);
  z = z.select_rows(rows);
}

Tensor linear_attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head,
                        const AttentionOptions& options) {
  ProfileScope profile("linear_attention");
  QKV_CHECK(options.window == 0 && options.dropout == 0.0f,
            "linear attention: it takes no window and no dropout, got window ", options.window, " and dropout ",
            options.dropout);
  const bool causal = options.causal;
  const Mask* key_padding = options.key_padding;
  LinearAttentionState* state = options.state;
  Tensor* weights_out = options.weights_out;
  const HeadDims d = check_heads(q, k, v, n_head, key_padding);
  QKV_CHECK(!causal || d.Tq == d.Tk, "linear attention: causal needs as many queries as keys, got ", d.Tq, " and ",
            d.Tk, " (decoding carries a LinearAttentionState instead of earlier keys)");
  QKV_CHECK(!state || causal, "linear attention: a state is for causal decoding");
  const int64_t pairs = d.B * d.NH, hs = d.hs;
  if (state && !state->s.defined()) {
    state->s = Tensor::zeros({d.B, d.NH, hs, hs});
    state->z = Tensor::zeros({d.B, d.NH, hs});
  }
  QKV_CHECK(!state || (state->s.shape() == Shape{d.B, d.NH, hs, hs} && state->z.shape() == Shape{d.B, d.NH, hs}),
            "linear attention: the state holds sums of shape ", str(state ? state->s.shape() : Shape{}), ", expected [",
            d.B, ", ", d.NH, ", ", hs, ", ", hs, "]");
  auto padding = std::make_shared<std::vector<uint8_t>>(key_padding ? key_padding->data : std::vector<uint8_t>{});
  Tensor out = Tensor::empty({d.B, d.Tq, d.width});
  Tensor weights = weights_out ? Tensor::zeros({d.B, d.NH, d.Tq, d.Tk}) : Tensor();
#pragma omp parallel for schedule(static) if (pairs > 1)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const LinearPair p = pair_of(pair, d, q, k, v, *padding);
    std::vector<float> S(hs * hs, 0.0f), z(hs, 0.0f), f(hs);
    if (state) {
      std::copy_n(state->s.data() + pair * hs * hs, hs * hs, S.data());
      std::copy_n(state->z.data() + pair * hs, hs, z.data());
    }
    auto add = [&](int64_t j) { p.add_key_to(j, S.data(), z.data(), f.data(), hs); };
    if (!causal)
      for (int64_t j = 0; j < d.Tk; ++j) add(j);
    float* O = out.data() + (pair / d.NH) * d.Tq * d.width + (pair % d.NH) * hs;
    for (int64_t i = 0; i < d.Tq; ++i) {
      if (causal) add(i);
      phi_row(p.q + i * p.ldq, f.data(), hs);
      float den = read_out(S.data(), z.data(), f.data(), O + i * d.width, hs);
      if (weights.defined()) implied_weights(p, d, causal, i, f.data(), den, weights.data() + (pair * d.Tq + i) * d.Tk);
    }
    if (state) {
      std::copy_n(S.data(), hs * hs, state->s.data() + pair * hs * hs);
      std::copy_n(z.data(), hs, state->z.data() + pair * hs);
    }
  }
  if (weights_out) *weights_out = weights;
  if (!state && needs_grad(q.x, k.x, v.x)) {
    record(out, "linear_attention", {q.x, k.x, v.x}, [q, k, v, d, causal, padding](const Tensor& dout) {
      const int64_t n_pairs = d.B * d.NH, n = d.hs;
      float* dq = q.x.requires_grad() ? grad_buffer(q.x).data() : nullptr;
      float* dk = k.x.requires_grad() ? grad_buffer(k.x).data() : nullptr;
      float* dv = v.x.requires_grad() ? grad_buffer(v.x).data() : nullptr;
#pragma omp parallel for schedule(static) if (n_pairs > 1)
      for (int64_t pair = 0; pair < n_pairs; ++pair) {
        const LinearPair p = pair_of(pair, d, q, k, v, *padding);
        const int64_t b = pair / d.NH, h = pair % d.NH;
        auto grad_at = [&](float* g, const Heads& x, int64_t T) {
          HeadMatrix m = head_matrix(x, T, n, b, h);
          return g ? g + m.offset : nullptr;
        };
        float *gq = grad_at(dq, q, d.Tq), *gk = grad_at(dk, k, d.Tk), *gv = grad_at(dv, v, d.Tk);
        const float* dO = dout.data() + b * d.Tq * d.width + h * n;
        std::vector<float> S(n * n, 0.0f), z(n, 0.0f), f(n), o(n), G(n * n, 0.0f), g(n, 0.0f);
        std::vector<float> dn(d.Tq * n), dd(d.Tq);
        auto add = [&](int64_t j) { p.add_key_to(j, S.data(), z.data(), f.data(), n); };
        // Query i's share of G and g.
        auto add_query = [&](int64_t i) {
          phi_row(p.q + i * p.ldq, f.data(), n);
          for (int64_t a = 0; a < n; ++a) {
            g[a] += dd[i] * f[a];
#pragma omp simd
            for (int64_t c = 0; c < n; ++c) G[a * n + c] += f[a] * dn[i * n + c];
          }
        };
        // Key j's gradients from the G and g of the queries that see it.
        auto key_grads = [&](int64_t j) {
          if (p.hidden(j)) return;
          const float* vj = p.v + j * p.ldv;
          const float* kj = p.k + j * p.ldk;
          phi_row(kj, f.data(), n);
          for (int64_t a = 0; a < n; ++a) {
            float s = g[a];
            for (int64_t c = 0; c < n; ++c) s += G[a * n + c] * vj[c];
            if (gk) gk[j * p.ldk + a] += s * phi_grad(kj[a]);
          }
          if (gv)
            for (int64_t a = 0; a < n; ++a)
              for (int64_t c = 0; c < n; ++c) gv[j * p.ldv + c] += f[a] * G[a * n + c];
        };
        if (!causal)
          for (int64_t j = 0; j < d.Tk; ++j) add(j);
        for (int64_t i = 0; i < d.Tq; ++i) {  // dq, with S and z as query i saw them
          if (causal) add(i);
          const float* qi = p.q + i * p.ldq;
          phi_row(qi, f.data(), n);
          float den = read_out(S.data(), z.data(), f.data(), o.data(), n);
          const float* doi = dO + i * d.width;
          float dot = 0.0f;
          for (int64_t c = 0; c < n; ++c) {
            dn[i * n + c] = doi[c] / den;
            dot += doi[c] * o[c];
          }
          dd[i] = -dot / den;
          if (!gq) continue;
          for (int64_t a = 0; a < n; ++a) {
            float s = dd[i] * z[a];
            for (int64_t c = 0; c < n; ++c) s += S[a * n + c] * dn[i * n + c];
            gq[i * p.ldq + a] += s * phi_grad(qi[a]);
          }
        }
        if (!gk && !gv) continue;
        if (!causal) {
          for (int64_t i = 0; i < d.Tq; ++i) add_query(i);
          for (int64_t j = 0; j < d.Tk; ++j) key_grads(j);
        } else {
          for (int64_t j = d.Tk - 1; j >= 0; --j) {  // suffix sums: the queries i >= j
            add_query(j);
            key_grads(j);
          }
        }
      }
    });
  }
  return out;
}

}  // namespace qkv
