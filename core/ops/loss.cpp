// Forward and backward of the fused cross-entropy.
//
// Per row with target t, p = softmax(z), eps the smoothing, the target distribution is
//   q = (1 - eps) onehot(t) + eps / V,   loss = -sum_v q_v log p_v = lse(z) - sum_v q_v z_v
// and the mean over the n counted rows gives  dz = (p - q) dloss / n.
#include "core/ops/loss.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {

Tensor cross_entropy(const Tensor& logits, const Ids& targets, int32_t ignore_index, float label_smoothing) {
  ProfileScope profile("cross_entropy");
  QKV_CHECK(logits.dim() == 2, "cross_entropy: expected logits of shape [N, V], got ", str(logits.shape()));
  int64_t N = logits.size(0), V = logits.size(1);
  QKV_CHECK(targets.numel() == N && targets.shape == Shape{N}, "cross_entropy: expected targets of shape [", N,
            "] for logits ", str(logits.shape()), ", got ", str(targets.shape), " holding ", targets.numel());
  QKV_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f, "cross_entropy: label_smoothing ", label_smoothing,
            " is outside [0, 1]");
  QKV_CHECK(V > 0, "cross_entropy: logits ", str(logits.shape()), " have no classes");
  const int32_t* t = targets.data.data();
  int64_t counted = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == ignore_index) continue;
    QKV_CHECK(t[i] >= 0 && t[i] < V, "cross_entropy: target ", t[i], " at row ", i, " is out of range [0, ", V,
              ") (ignore_index is ", ignore_index, ")");
    ++counted;
  }
  const float* z = logits.data();
  Tensor lse = Tensor::empty({N});  // log-sum-exp per row, kept for backward
  std::vector<double> row_loss(N, 0.0);
  float* plse = lse.data();
  float eps = label_smoothing;
#pragma omp parallel for num_threads(team()) if (N * V >= kGrain) schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const float* zr = z + i * V;
    float m = row_max(zr, V);
    double s = sum_exp_shifted(zr, m, V), zsum = 0.0;
#pragma omp simd reduction(+ : zsum)
    for (int64_t v = 0; v < V; ++v) zsum += zr[v];
    plse[i] = m + static_cast<float>(std::log(s));
    if (t[i] != ignore_index) row_loss[i] = plse[i] - (1.0 - eps) * zr[t[i]] - eps * zsum / static_cast<double>(V);
  }
  double total = 0.0;
  for (double l : row_loss) total += l;  // in row order: the same bits on any thread count
  Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(counted)));
  if (needs_grad(logits)) {
    record(loss, "cross_entropy", {logits},
           [logits, lse, tv = targets.data, ignore_index, eps, counted, N, V](const Tensor& dloss) {
             bool fresh = false;  // the usual case: dz is written, not added to zeros
             float* dz = grad_buffer_for_overwrite(logits, fresh).data();
             const float *zs = logits.data(), *lses = lse.data();
             float scale = dloss.item() / static_cast<float>(counted), smooth = eps / static_cast<float>(V);
#pragma omp parallel for num_threads(team()) if (N * V >= kGrain) schedule(static)
             for (int64_t i = 0; i < N; ++i) {
               float* row = dz + i * V;
               const float* zr = zs + i * V;
               if (tv[i] == ignore_index) {
                 if (fresh) std::fill_n(row, V, 0.0f);
                 continue;
               }
               float l = lses[i];
               if (fresh) {
#pragma omp simd
                 for (int64_t v = 0; v < V; ++v) row[v] = (fast_exp(zr[v] - l) - smooth) * scale;
               } else {
#pragma omp simd
                 for (int64_t v = 0; v < V; ++v) row[v] += (fast_exp(zr[v] - l) - smooth) * scale;
               }
               row[tv[i]] -= (1.0f - eps) * scale;  // the target's share of q
             }
           });
  }
  return loss;
}

}  // namespace qkv
