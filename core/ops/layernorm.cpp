// Forward and backward of layernorm, each one pass over the rows, as llm.c's layernorm_forward/_backward.
//
// Per row of C values:  mu = mean(x),  rstd = 1 / sqrt(mean((x - mu)^2) + eps),  xhat = (x - mu) rstd,
//                       y = xhat w + b
// Backward:             dw += dy xhat,  db += dy,  and with g = dy w:
//                       dx += rstd (g - mean(g) - xhat mean(g xhat))
#include "core/ops/layernorm.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

// x, y [rows, C]; w, b [C] or null; stats [rows, 2] receives (mu, rstd) of each row.
void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* stats, int64_t rows, int64_t C,
                       float eps) {
#pragma omp parallel for num_threads(team()) if (rows * C >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    // The simd reductions let the compiler vectorise the sums; their order is fixed by the vector width.
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += xr[c];
    float mu = static_cast<float>(sum / C);
    double var = 0.0;
#pragma omp simd reduction(+ : var)
    for (int64_t c = 0; c < C; ++c) var += (xr[c] - mu) * (xr[c] - mu);
    float rstd = static_cast<float>(1.0 / std::sqrt(var / C + eps));
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - mu) * rstd * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
    stats[2 * r] = mu;
    stats[2 * r + 1] = rstd;
  }
}

// dx [rows, C], dw and db [C] may each be null (not wanted). Adds into them.
void layernorm_backward(const float* dy, const float* x, const float* w, const float* stats, float* dx, float* dw,
                        float* db, int64_t rows, int64_t C) {
  // dw and db sum over rows: each fixed block of rows fills a partial row, and the partials are added in
  // order afterwards, so the bits do not depend on the thread count.
  constexpr int64_t kRows = 32;
  int64_t blocks = (rows + kRows - 1) / kRows;
  bool params = dw || db;
  std::vector<float> partial(params ? blocks * 2 * C : 0, 0.0f);  // [blocks, (dw, db), C]
#pragma omp parallel for num_threads(team()) if (rows * C >= kGrain) schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    float* pw = params ? partial.data() + blk * 2 * C : nullptr;
    for (int64_t r = blk * kRows; r < std::min(rows, (blk + 1) * kRows); ++r) {
      const float *xr = x + r * C, *dyr = dy + r * C;
      float mu = stats[2 * r], rstd = stats[2 * r + 1];
      double g_mean = 0.0, gx_mean = 0.0;
#pragma omp simd reduction(+ : g_mean, gx_mean)
      for (int64_t c = 0; c < C; ++c) {
        float xhat = (xr[c] - mu) * rstd, g = dyr[c] * (w ? w[c] : 1.0f);
        g_mean += g;
        gx_mean += g * xhat;
        if (pw) {
          pw[c] += dyr[c] * xhat;
          pw[C + c] += dyr[c];
        }
      }
      if (!dx) continue;
      float gm = static_cast<float>(g_mean / C), gxm = static_cast<float>(gx_mean / C);
      for (int64_t c = 0; c < C; ++c) {
        float xhat = (xr[c] - mu) * rstd, g = dyr[c] * (w ? w[c] : 1.0f);
        dx[r * C + c] += rstd * (g - gm - xhat * gxm);
      }
    }
  }
  for (int64_t blk = 0; blk < blocks && params; ++blk)
    for (int64_t c = 0; c < C; ++c) {
      if (dw) dw[c] += partial[blk * 2 * C + c];
      if (db) db[c] += partial[blk * 2 * C + C + c];
    }
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

}  // namespace

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  ProfileScope profile("layernorm");
  QKV_CHECK(x.dim() >= 1, "layernorm: expected a tensor of rank >= 1, got a scalar");
  int64_t C = x.size(-1);
  QKV_CHECK(C > 0, "layernorm: the last axis of ", str(x.shape()), " is empty");
  int64_t rows = x.numel() / C;
  for (const Tensor* p : {&weight, &bias})
    QKV_CHECK(!p->defined() || p->shape() == Shape{C}, "layernorm: expected ", (p == &weight ? "weight" : "bias"),
              " of shape [", C, "] for input ", str(x.shape()), ", got ", str(p->shape()));
  Tensor y = Tensor::empty(x.shape());
  Tensor stats = Tensor::empty({rows, 2});  // (mu, rstd) per row, saved for backward
  layernorm_forward(x.data(), data_or_null(weight), data_or_null(bias), y.data(), stats.data(), rows, C, eps);
  if (needs_grad(x, weight, bias)) {
    record(y, "layernorm", {x, weight, bias}, [x, weight, bias, stats, rows, C](const Tensor& dy) {
      layernorm_backward(dy.data(), x.data(), data_or_null(weight), stats.data(), grad_or_null(x), grad_or_null(weight),
                         grad_or_null(bias), rows, C);
    });
  }
  return y;
}

}  // namespace qkv
