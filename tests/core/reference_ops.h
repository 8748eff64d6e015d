// Composite references of the fused kernels, built only from small ops with gradients of their own. Tests use
// them to check the fused forward and backward (tests/core/test_fused.cpp); nothing else should.
#pragma once

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

}  // namespace qkv::ref
