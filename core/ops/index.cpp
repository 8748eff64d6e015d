// Forward and backward of the embedding lookup.
#include "core/ops/index.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {

// y[n, :] = W[ids[n], :];  dW[ids[n], :] += dy[n, :]
Tensor embedding(const Tensor& weight, const Ids& ids) {
  ProfileScope profile("embedding");
  QKV_CHECK(weight.dim() == 2, "embedding: expected a weight of shape [V, C], got ", str(weight.shape()));
  QKV_CHECK(ids.numel() == numel(ids.shape), "embedding: ids hold ", ids.numel(), " values for shape ", str(ids.shape));
  int64_t V = weight.size(0), C = weight.size(1), n = ids.numel();
  for (int64_t i = 0; i < n; ++i)
    QKV_CHECK(ids.data[i] >= 0 && ids.data[i] < V, "embedding: id ", ids.data[i], " at position ", i,
              " is out of range [0, ", V, ")");
  Shape out = ids.shape;
  out.push_back(C);
  Tensor y = Tensor::empty(out);
  const float* w = weight.data();
  float* py = y.data();
#pragma omp parallel for num_threads(team()) if (n * C >= kGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) std::memcpy(py + i * C, w + int64_t{ids.data[i]} * C, sizeof(float) * C);
  if (needs_grad(weight)) {
    record(y, "embedding", {weight}, [weight, idx = ids.data, C](const Tensor& dy) {
      float* dw = grad_buffer(weight).data();
      const float* pdy = dy.data();
      int64_t count = static_cast<int64_t>(idx.size());
      // Parallel over column blocks: each thread owns whole columns, so repeated ids never race and every
      // row's sum is taken in the order of the ids, whatever the thread count.
      constexpr int64_t kCols = 16;
      int64_t blocks = (C + kCols - 1) / kCols;
#pragma omp parallel for num_threads(team()) if (count * C >= kGrain) schedule(static)
      for (int64_t b = 0; b < blocks; ++b) {
        int64_t c0 = b * kCols, c1 = std::min(C, c0 + kCols);
        for (int64_t i = 0; i < count; ++i) {
          float* row = dw + int64_t{idx[i]} * C;
          for (int64_t c = c0; c < c1; ++c) row[c] += pdy[i * C + c];
        }
      }
    });
  }
  return y;
}

}  // namespace qkv
