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

// x, y [rows, n]: y = softmax(x) = e^x / sum e^x, or with log_space log_softmax(x) = x - log sum e^x, per row.
void softmax_forward(const float* x, float* y, int64_t rows, int64_t n, bool log_space) {
#pragma omp parallel for num_threads(team()) if (rows * n >= kGrain) schedule(static)
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

// dy, y, dx [rows, n], y the forward's output; adds into dx. Per row:
//   softmax:      dx += y (dy - sum(dy y))
//   log_softmax:  dx += dy - e^y sum(dy)
void softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t n, bool log_space) {
#pragma omp parallel for num_threads(team()) if (rows * n >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float *yr = y + r * n, *dyr = dy + r * n;
    float* dxr = dx + r * n;
    double total = 0.0;  // sum(dy y), or sum(dy) in log space
    if (log_space) {
      for (int64_t j = 0; j < n; ++j) total += dyr[j];
      for (int64_t j = 0; j < n; ++j) dxr[j] += dyr[j] - fast_exp(yr[j]) * static_cast<float>(total);
    } else {
      for (int64_t j = 0; j < n; ++j) total += dyr[j] * yr[j];
      for (int64_t j = 0; j < n; ++j) dxr[j] += yr[j] * (dyr[j] - static_cast<float>(total));
    }
  }
}

int64_t last_dim(const Tensor& x, const char* op) {
  QKV_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  return x.size(-1);
}

// softmax or, with log_space, log_softmax over the last axis of x, recorded under `name`.
Tensor softmax_op(const Tensor& x, const char* name, bool log_space) {
  ProfileScope profile(name);
  int64_t n = last_dim(x, name), rows = n ? x.numel() / n : 0;
  Tensor y = Tensor::empty(x.shape());
  softmax_forward(x.data(), y.data(), rows, n, log_space);
  if (needs_grad(x)) {
    record(y, name, {x}, [x, y = y.detach(), rows, n, log_space](const Tensor& dy) {
      softmax_backward(dy.data(), y.data(), grad_buffer(x).data(), rows, n, log_space);
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_op(x, "softmax", false); }
Tensor log_softmax(const Tensor& x) { return softmax_op(x, "log_softmax", true); }

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
