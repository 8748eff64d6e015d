// Forward and backward of dropout.
#include "core/ops/dropout.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/elementwise.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/threads.h"

namespace qkv {

void apply_dropout_mask(float p, float keep, uint64_t seed, uint64_t stream, uint64_t first, const float* src,
                        float* dst, int64_t n) {
  constexpr int64_t kChunk = 256;
  uint32_t words[kChunk];
  for (int64_t at = 0; at < n; at += kChunk) {
    int64_t len = std::min(kChunk, n - at);
    philox_words(seed, stream, first + static_cast<uint64_t>(at), len, words);
    float* d = dst + at;
    if (src) {
      const float* s = src + at;
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) d[e] = to_unit_float(words[e]) < p ? 0.0f : s[e] * keep;
    } else {
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) d[e] = to_unit_float(words[e]) < p ? 0.0f : keep;
    }
  }
}

// y = x * m, m = [u >= p] / (1 - p);  dx += dy * m
Tensor dropout(const Tensor& x, float p, uint64_t seed, uint64_t stream) {
  ProfileScope profile("dropout");
  QKV_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability ", p, " is outside [0, 1]");
  if (p == 0.0f) return x;
  Tensor m = Tensor::empty(x.shape());
  float* pm = m.data();
  float keep = p == 1.0f ? 0.0f : 1.0f / (1.0f - p);
  constexpr int64_t kPart = 4096;  // elements per parallel task
  int64_t n = x.numel(), parts = (n + kPart - 1) / kPart;
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t part = 0; part < parts; ++part) {
    int64_t at = part * kPart;
    apply_dropout_mask(p, keep, seed, stream, static_cast<uint64_t>(at), nullptr, pm + at, std::min(kPart, n - at));
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
