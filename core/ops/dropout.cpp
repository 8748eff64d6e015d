// Forward and backward of dropout.
#include "core/ops/dropout.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/elementwise.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/threads.h"

namespace qkv {

// y = x * m, m = [u >= p] / (1 - p);  dx += dy * m
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint64_t stream) {
  ProfileScope profile("dropout");
  QKV_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability ", p, " is outside [0, 1]");
  if (p == 0.0f) return x;
  Tensor m = Tensor::empty(x.shape());
  float* pm = m.data();
  float keep = p == 1.0f ? 0.0f : 1.0f / (1.0f - p);
  int64_t n = x.numel(), groups = (n + 3) / 4;
#pragma omp parallel for if (n >= kGrain) schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    auto r = philox(seed, stream, static_cast<uint64_t>(g));
    for (int64_t k = 0; k < 4 && g * 4 + k < n; ++k) pm[g * 4 + k] = to_unit_float(r[k]) < p ? 0.0f : keep;
  }
  Tensor y;
  {
    NoGrad no_grad;  // the mask multiply is recorded below as dropout's own node
    y = mul(x, m);
  }
  if (needs_grad(x)) {
    record(y, "dropout", {x}, [x, m](const Tensor& dy) { accumulate_grad(x, mul(dy, m)); });
  }
  return y;
}

}  // namespace qkv
