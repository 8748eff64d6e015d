// Forward and backward of softmax, log_softmax and masked_fill. Rows of the last axis are independent.
#include "core/ops/softmax.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

// Writes softmax (or log-softmax) of each row of length n.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_space) {
#pragma omp parallel for if (rows * n >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = row_max(xr, n);
    if (m == -INFINITY) m = 0.0f;  // a fully masked row: avoid inf - inf
    // e^(x - m) goes into y first.
    double z = exp_shifted(xr, m, yr, n);
    if (log_space) {
      float log_z = m + static_cast<float>(std::log(z));
      for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] - log_z;
    } else {
      float inv = static_cast<float>(1.0 / z);
      for (int64_t j = 0; j < n; ++j) yr[j] *= inv;
    }
  }
}

int64_t last_dim(const Tensor& x, const char* op) {
  QKV_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  return x.size(-1);
}

}  // namespace

// y = e^x / sum e^x;  dx += y (dy - sum(dy y))
Tensor softmax(const Tensor& x) {
  ProfileScope profile("softmax");
  int64_t n = last_dim(x, "softmax"), rows = n ? x.numel() / n : 0;
  Tensor y = Tensor::empty(x.shape());
  softmax_rows(x.data(), y.data(), rows, n, false);
  if (needs_grad(x)) {
    record(y, "softmax", {x}, [x, y = y.detach(), rows, n](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      const float *py = y.data(), *pdy = dy.data();
#pragma omp parallel for if (rows * n >= kGrain) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const float *yr = py + r * n, *dyr = pdy + r * n;
        double dot = 0.0;
        for (int64_t j = 0; j < n; ++j) dot += dyr[j] * yr[j];
        for (int64_t j = 0; j < n; ++j) dx[r * n + j] += yr[j] * (dyr[j] - static_cast<float>(dot));
      }
    });
  }
  return y;
}

// y = x - log sum e^x;  dx += dy - e^y sum(dy)
Tensor log_softmax(const Tensor& x) {
  ProfileScope profile("log_softmax");
  int64_t n = last_dim(x, "log_softmax"), rows = n ? x.numel() / n : 0;
  Tensor y = Tensor::empty(x.shape());
  softmax_rows(x.data(), y.data(), rows, n, true);
  if (needs_grad(x)) {
    record(y, "log_softmax", {x}, [x, y = y.detach(), rows, n](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      const float *py = y.data(), *pdy = dy.data();
#pragma omp parallel for if (rows * n >= kGrain) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const float *yr = py + r * n, *dyr = pdy + r * n;
        double total = 0.0;
        for (int64_t j = 0; j < n; ++j) total += dyr[j];
        for (int64_t j = 0; j < n; ++j) dx[r * n + j] += dyr[j] - fast_exp(yr[j]) * static_cast<float>(total);
      }
    });
  }
  return y;
}

// y = mask ? value : x;  dx += mask ? 0 : dy
Tensor masked_fill(const Tensor& x, const Mask& mask, float value) {
  ProfileScope profile("masked_fill");
  QKV_CHECK(mask.numel() == numel(mask.shape), "masked_fill: mask holds ", mask.numel(), " values for shape ",
            str(mask.shape));
  QKV_CHECK(broadcast_shapes(x.shape(), mask.shape, "masked_fill") == x.shape(), "masked_fill: mask of shape ",
            str(mask.shape), " does not broadcast to the tensor's shape ", str(x.shape()));
  // Expand the mask once so the forward and backward loops are flat.
  std::vector<uint8_t> full(x.numel());
  std::vector<int64_t> sm = broadcast_strides(mask.shape, x.shape());
  const Shape& s = x.shape();
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t rest = i, offset = 0;
    for (size_t d = s.size(); d-- > 0;) {
      offset += (rest % s[d]) * sm[d];
      rest /= s[d];
    }
    full[i] = mask.data[offset] != 0;
  }
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = full[i] ? value : px[i];
  if (needs_grad(x)) {
    record(y, "masked_fill", {x}, [x, full = std::move(full)](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      for (int64_t i = 0; i < x.numel(); ++i)
        if (!full[i]) dx[i] += dy.data()[i];
    });
  }
  return y;
}

}  // namespace qkv
