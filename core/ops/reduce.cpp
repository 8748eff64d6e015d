// Forward and backward of the reductions. Sums accumulate in double in a fixed order (see kReduceChunk),
// so their bits do not depend on the thread count.
#include "core/ops/reduce.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

Shape reduced_shape(const Shape& shape, int axis, bool keepdim) {
  Shape out = shape;
  if (keepdim)
    out[axis] = 1;
  else
    out.erase(out.begin() + axis);
  return out;
}

// y = scale * sum(x);  dx += dy * scale
Tensor scaled_sum(const Tensor& x, float scale, const char* name) {
  ProfileScope profile(name);
  const float* px = x.data();
  int64_t n = x.numel(), chunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<double> partial(chunks, 0.0);
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    double acc = 0.0;
    for (int64_t i = c * kReduceChunk, end = std::min(n, i + kReduceChunk); i < end; ++i) acc += px[i];
    partial[c] = acc;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  Tensor y = Tensor::scalar(static_cast<float>(total * scale));
  if (needs_grad(x)) {
    record(y, name, {x}, [x, scale](const Tensor& dy) {
      float g = dy.item() * scale, *dx = grad_buffer(x).data();
      int64_t count = x.numel();
#pragma omp parallel for num_threads(team()) if (count >= kGrain) schedule(static)
      for (int64_t i = 0; i < count; ++i) dx[i] += g;
    });
  }
  return y;
}

// y[o, i] = scale * sum_k x[o, k, i];  dx[o, k, i] += dy[o, i] * scale
Tensor scaled_sum_axis(const Tensor& x, int axis, bool keepdim, float scale, const char* name) {
  ProfileScope profile(name);
  AxisSplit s = split_at(x.shape(), axis);
  Tensor y = Tensor::empty(reduced_shape(x.shape(), axis, keepdim));
  const float* px = x.data();
  float* py = y.data();
  int64_t outputs = s.outer * s.inner;
#pragma omp parallel for num_threads(team()) if (outputs * s.size >= kGrain) schedule(static)
  for (int64_t j = 0; j < outputs; ++j) {
    int64_t o = j / s.inner, i = j % s.inner;
    const float* row = px + o * s.size * s.inner + i;
    double acc = 0.0;
    for (int64_t k = 0; k < s.size; ++k) acc += row[k * s.inner];
    py[j] = static_cast<float>(acc * scale);
  }
  if (needs_grad(x)) {
    record(y, name, {x}, [x, s, scale](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      const float* pdy = dy.data();
      int64_t count = s.outer * s.inner;
#pragma omp parallel for num_threads(team()) if (count * s.size >= kGrain) schedule(static)
      for (int64_t j = 0; j < count; ++j) {
        int64_t o = j / s.inner, i = j % s.inner;
        float g = pdy[j] * scale, *row = dx + o * s.size * s.inner + i;
        for (int64_t k = 0; k < s.size; ++k) row[k * s.inner] += g;
      }
    });
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum(x, 1.0f, "sum"); }

Tensor mean(const Tensor& x) {
  QKV_CHECK(x.numel() > 0, "mean: the tensor of shape ", str(x.shape()), " has no elements");
  return scaled_sum(x, 1.0f / static_cast<float>(x.numel()), "mean");
}

Tensor sum(const Tensor& x, int axis, bool keepdim) {
  return scaled_sum_axis(x, normalize_axis(axis, x.dim(), "sum"), keepdim, 1.0f, "sum_axis");
}

Tensor mean(const Tensor& x, int axis, bool keepdim) {
  int a = normalize_axis(axis, x.dim(), "mean");
  QKV_CHECK(x.shape()[a] > 0, "mean: axis ", axis, " of shape ", str(x.shape()), " is empty");
  return scaled_sum_axis(x, a, keepdim, 1.0f / static_cast<float>(x.shape()[a]), "mean_axis");
}

// y[o, i] = max_k x[o, k, i] at k* = argmax;  dx[o, k*, i] += dy[o, i]
MaxResult max(const Tensor& x, int axis, bool keepdim) {
  ProfileScope profile("max");
  int a = normalize_axis(axis, x.dim(), "max");
  AxisSplit s = split_at(x.shape(), a);
  QKV_CHECK(s.size > 0, "max: axis ", axis, " of shape ", str(x.shape()), " is empty");
  Shape out_shape = reduced_shape(x.shape(), a, keepdim);
  MaxResult r{Tensor::empty(out_shape), Ids(std::vector<int32_t>(numel(out_shape)), out_shape)};
  const float* px = x.data();
  float* py = r.values.data();
  int32_t* pi = r.indices.data.data();
  int64_t outputs = s.outer * s.inner;
#pragma omp parallel for num_threads(team()) if (outputs * s.size >= kGrain) schedule(static)
  for (int64_t j = 0; j < outputs; ++j) {
    const float* row = px + (j / s.inner) * s.size * s.inner + j % s.inner;
    int64_t best = 0;
    for (int64_t k = 1; k < s.size; ++k)
      if (row[k * s.inner] > row[best * s.inner]) best = k;
    py[j] = row[best * s.inner];
    pi[j] = static_cast<int32_t>(best);
  }
  if (needs_grad(x)) {
    record(r.values, "max", {x}, [x, s, idx = r.indices.data](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      const float* pdy = dy.data();
      for (int64_t j = 0; j < s.outer * s.inner; ++j)
        dx[(j / s.inner) * s.size * s.inner + idx[j] * s.inner + j % s.inner] += pdy[j];
    });
  }
  return r;
}

}  // namespace qkv
