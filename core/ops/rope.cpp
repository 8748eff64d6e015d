// Forward and backward of RoPE. Each pair is a 2-D rotation, so the backward rotates by the opposite angle:
//   y1 = x1 cos - x2 sin,  y2 = x2 cos + x1 sin;   dx1 = dy1 cos + dy2 sin,  dx2 = dy2 cos - dy1 sin
#include "core/ops/rope.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

// Rotates rows of x [rows, T, W] (heads of hs side by side in W) into y by +angle (sign 1) or -angle
// (sign -1), adding when `add`.
void rotate(const float* x, float* y, int64_t rows, int64_t T, int64_t W, int64_t hs, const std::vector<float>& cos_t,
            const std::vector<float>& sin_t, float sign, bool add) {
  int64_t half = hs / 2;
#pragma omp parallel for num_threads(team()) if (rows * T * W >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t th = 0; th < T * (W / hs); ++th) {
      int64_t t = th / (W / hs);
      const float* xr = x + (r * T * W) + th * hs;
      float* yr = y + (r * T * W) + th * hs;
      for (int64_t i = 0; i < half; ++i) {
        float c = cos_t[t * half + i], s = sign * sin_t[t * half + i];
        float y1 = xr[i] * c - xr[i + half] * s, y2 = xr[i + half] * c + xr[i] * s;
        yr[i] = add ? yr[i] + y1 : y1;
        yr[i + half] = add ? yr[i + half] + y2 : y2;
      }
    }
}

}  // namespace

Tensor rope(const Tensor& x, int64_t offset, float base, int64_t head_size) {
  ProfileScope profile("rope");
  QKV_CHECK(x.dim() >= 2, "rope: expected [..., T, width], got ", str(x.shape()));
  int64_t T = x.size(-2), W = x.size(-1), hs = head_size > 0 ? head_size : W, half = hs / 2;
  QKV_CHECK(hs % 2 == 0 && hs > 0, "rope: head size ", hs, " must be even and positive");
  QKV_CHECK(W % hs == 0, "rope: head size ", hs, " does not divide the last dimension of ", str(x.shape()));
  QKV_CHECK(offset >= 0, "rope: negative position offset ", offset);
  int64_t rows = T && W ? x.numel() / (T * W) : 0;
  std::vector<float> cos_t(T * half), sin_t(T * half);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      double angle = static_cast<double>(offset + t) * std::pow(static_cast<double>(base), -2.0 * i / hs);
      cos_t[t * half + i] = static_cast<float>(std::cos(angle));
      sin_t[t * half + i] = static_cast<float>(std::sin(angle));
    }
  Tensor y = Tensor::empty(x.shape());
  rotate(x.data(), y.data(), rows, T, W, hs, cos_t, sin_t, 1.0f, false);
  if (needs_grad(x)) {
    record(y, "rope", {x}, [x, rows, T, W, hs, cos_t = std::move(cos_t), sin_t = std::move(sin_t)](const Tensor& dy) {
      rotate(dy.data(), grad_buffer(x).data(), rows, T, W, hs, cos_t, sin_t, -1.0f, true);
    });
  }
  return y;
}

}  // namespace qkv
