// Composite references of the fused kernels, built only from small ops with gradients of their own. Tests use
// them to check the fused forward and backward (tests/core/test_fused.cpp); nothing else should.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/ops.h"

namespace qkv::ref {

// LayerNorm over the last axis, as PyTorch: biased variance, eps inside the square root.
// x [..., C]; weight and bias [C], either may be undefined.
inline Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f) {
  Tensor mu = mean(x, -1, true);             // [..., 1]
  Tensor xc = sub(x, mu);                    // [..., C]
  Tensor var = mean(mul(xc, xc), -1, true);  // [..., 1], divided by C (biased)
  Tensor y = div(xc, sqrt(add(var, eps)));   // [..., C]
  if (weight.defined()) y = mul(y, weight);  // [..., C] * [C]
  if (bias.defined()) y = add(y, bias);      // [..., C] + [C]
  return y;
}

// Cross-entropy from logits [N, V] and targets [N], as PyTorch's F.cross_entropy with ignore_index and
// label_smoothing eps:  loss_i = (1 - eps) (-logp_i[t_i]) + eps mean_v(-logp_i[v]),  averaged over the rows
// whose target is not ignore_index (0 / 0 = NaN when every row is ignored). Stable for large logits because
// log_softmax is.
inline Tensor cross_entropy(const Tensor& logits, const Ids& targets, int32_t ignore_index = -100,
                            float label_smoothing = 0.0f) {
  const int64_t N = logits.size(0), V = logits.size(1);
  std::vector<float> onehot(N * V, 0.0f), counted(N, 0.0f);  // constants: no gradient
  float n = 0.0f;
  for (int64_t i = 0; i < N; ++i) {
    if (targets.data[i] == ignore_index) continue;
    onehot[i * V + targets.data[i]] = 1.0f;
    counted[i] = 1.0f;
    n += 1.0f;
  }
  const float eps = label_smoothing;
  Tensor logp = log_softmax(logits);                                          // [N, V]
  Tensor nll = neg(sum(mul(logp, Tensor::from_vector(onehot, {N, V})), -1));  // [N], -logp[t]
  Tensor smooth = neg(mean(logp, -1));                                        // [N], mean_v(-logp[v])
  Tensor row = add(mul(nll, 1.0f - eps), mul(smooth, eps));                   // [N]
  Tensor total = sum(mul(row, Tensor::from_vector(counted, {N})));            // [], ignored rows drop out
  return div(total, Tensor::scalar(n));                                       // [], NaN when n == 0
}

// One head of attention from small ops: q [Tq, hs], k and v [Tk, hs]; hidden[i * Tk + j] = 1 hides key j
// from query i. softmax(q k^T / sqrt(hs) with hidden scores at -inf) v, and 0 for a query that sees no key
// (as the kernel: its softmax would be 0 / 0).
inline Tensor attention_head(const Tensor& q, const Tensor& k, const Tensor& v, std::vector<uint8_t> hidden) {
  const int64_t Tq = q.size(0), Tk = k.size(0);
  std::vector<float> sees(Tq, 0.0f);
  for (int64_t i = 0; i < Tq; ++i) {
    for (int64_t j = 0; j < Tk; ++j) sees[i] = hidden[i * Tk + j] ? sees[i] : 1.0f;
    if (sees[i] == 0.0f) std::fill_n(hidden.begin() + i * Tk, Tk, 0);  // any finite row; zeroed below
  }
  Tensor scores = mul(matmul(q, k, false, true), 1.0f / std::sqrt(static_cast<float>(q.size(1))));  // [Tq, Tk]
  Tensor out = matmul(softmax(masked_fill(scores, Mask(hidden, {Tq, Tk}), -INFINITY)), v);          // [Tq, hs]
  return mul(out, Tensor::from_vector(sees, {Tq, 1}));
}

// One head of linear attention from small ops, through the T x T matrix the kernel never forms:
// A = phi(q) phi(k)^T with hidden entries 0, out = A v / (rowsum(A) + eps), phi(x) = elu(x) + 1 written as
// relu(x) + exp(-relu(-x)).
inline Tensor linear_attention_head(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const std::vector<uint8_t>& hidden, float eps) {
  const int64_t Tq = q.size(0), Tk = k.size(0);
  auto phi = [](const Tensor& x) { return add(relu(x), exp(neg(relu(neg(x))))); };
  std::vector<float> keep(hidden.size());
  for (size_t i = 0; i < hidden.size(); ++i) keep[i] = hidden[i] ? 0.0f : 1.0f;
  Tensor a = mul(matmul(phi(q), phi(k), false, true), Tensor::from_vector(keep, {Tq, Tk}));  // [Tq, Tk]
  return div(matmul(a, v), add(sum(a, -1, true), eps));                                      // [Tq, hs]
}

}  // namespace qkv::ref
