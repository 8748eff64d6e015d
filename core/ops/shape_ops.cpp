// Forward and backward of the shape ops. Each backward is the inverse movement of the gradient.
#include "core/ops/shape_ops.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/elementwise.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {

// y = x viewed with a new shape;  dx += dy viewed with x's shape
Tensor reshape(const Tensor& x, const Shape& shape) {
  ProfileScope profile("reshape");
  Shape out = shape;
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      QKV_CHECK(inferred < 0, "reshape: more than one -1 in ", str(shape));
      inferred = static_cast<int64_t>(i);
    } else {
      QKV_CHECK(out[i] >= 0, "reshape: negative dimension in ", str(shape));
      known *= out[i];
    }
  }
  if (inferred >= 0) {
    QKV_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", str(x.shape()), " into ", str(shape));
    out[inferred] = x.numel() / known;
  }
  QKV_CHECK(numel(out) == x.numel(), "reshape: cannot reshape ", str(x.shape()), " (", x.numel(), " elements) into ",
            str(shape), " (", numel(out), " elements)");
  Tensor y = x.detach();
  y.impl()->shape = out;
  if (needs_grad(x)) {
    record(y, "reshape", {x}, [x](const Tensor& dy) { accumulate_grad(x, dy.reshape(x.shape())); });
  }
  return y;
}

Tensor Tensor::reshape(const Shape& shape) const { return qkv::reshape(*this, shape); }

namespace {
// Copies src into the layout where output axis i is input axis dims[i]; with `add`, adds the gradient back.
void permute_copy(const float* src, float* dst, const Shape& in, const std::vector<int>& dims, bool add) {
  int rank = static_cast<int>(in.size());
  Shape out(rank);
  std::vector<int64_t> in_strides(rank, 1), strides(rank);  // strides[i]: input stride of output axis i
  for (int i = rank - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * in[i + 1];
  for (int i = 0; i < rank; ++i) {
    out[i] = in[dims[i]];
    strides[i] = in_strides[dims[i]];
  }
  int64_t n = rank ? out[rank - 1] : 1, rows = numel(out) / std::max<int64_t>(n, 1);
  int64_t step = rank ? strides[rank - 1] : 1;
#pragma omp parallel for num_threads(team()) if (rows * n >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, offset = 0;
    for (int d = rank - 2; d >= 0; --d) {
      offset += (rest % out[d]) * strides[d];
      rest /= out[d];
    }
    // Forward writes the output contiguously; backward reads the gradient contiguously and scatters back.
    if (add)
      for (int64_t j = 0; j < n; ++j) dst[offset + j * step] += src[r * n + j];
    else
      for (int64_t j = 0; j < n; ++j) dst[r * n + j] = src[offset + j * step];
  }
}
}  // namespace

// y = x with axes reordered: y.shape[i] = x.shape[dims[i]];  dx += dy with the axes put back
Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  ProfileScope profile("permute");
  int rank = x.dim();
  QKV_CHECK(static_cast<int>(dims.size()) == rank, "permute: ", dims.size(), " dims for a tensor of shape ",
            str(x.shape()));
  std::vector<int> d(rank);
  std::vector<bool> seen(rank, false);
  for (int i = 0; i < rank; ++i) {
    d[i] = normalize_axis(dims[i], rank, "permute");
    QKV_CHECK(!seen[d[i]], "permute: axis ", dims[i], " appears twice");
    seen[d[i]] = true;
  }
  Shape out(rank);
  for (int i = 0; i < rank; ++i) out[i] = x.shape()[d[i]];
  Tensor y = Tensor::empty(out);
  permute_copy(x.data(), y.data(), x.shape(), d, false);
  if (needs_grad(x)) {
    record(y, "permute", {x},
           [x, d](const Tensor& dy) { permute_copy(dy.data(), grad_buffer(x).data(), x.shape(), d, true); });
  }
  return y;
}

Tensor transpose(const Tensor& x, int a, int b) {
  std::vector<int> dims(x.dim());
  for (int i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[normalize_axis(a, x.dim(), "transpose")], dims[normalize_axis(b, x.dim(), "transpose")]);
  return permute(x, dims);
}

// y = [x_0 | x_1 | ...] along axis;  dx_i += the slice of dy that x_i filled
Tensor concat(const std::vector<Tensor>& xs, int axis) {
  ProfileScope profile("concat");
  QKV_CHECK(!xs.empty(), "concat: no tensors given");
  const Shape& first = xs[0].shape();
  int a = normalize_axis(axis, static_cast<int>(first.size()), "concat");
  Shape out = first;
  out[a] = 0;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    QKV_CHECK(s.size() == first.size(), "concat: shapes ", str(first), " and ", str(s), " differ in rank");
    for (size_t i = 0; i < s.size(); ++i)
      QKV_CHECK(static_cast<int>(i) == a || s[i] == first[i], "concat: shapes ", str(first), " and ", str(s),
                " differ outside axis ", a);
    out[a] += s[a];
  }
  Tensor y = Tensor::empty(out);
  AxisSplit so = split_at(out, a);
  int64_t offset = 0;  // start of the current input's columns within an output row
  for (const Tensor& x : xs) {
    int64_t width = x.shape()[a] * so.inner;
    for (int64_t o = 0; o < so.outer; ++o)
      std::memcpy(y.data() + o * so.size * so.inner + offset, x.data() + o * width, sizeof(float) * width);
    offset += width;
  }
  if (std::any_of(xs.begin(), xs.end(), [](const Tensor& x) { return needs_grad(x); })) {
    record(y, "concat", xs, [xs, so, a](const Tensor& dy) {
      int64_t start = 0;
      for (const Tensor& x : xs) {
        int64_t width = x.shape()[a] * so.inner;
        if (x.requires_grad()) {
          float* dx = grad_buffer(x).data();
          for (int64_t o = 0; o < so.outer; ++o)
            for (int64_t j = 0; j < width; ++j) dx[o * width + j] += dy.data()[o * so.size * so.inner + start + j];
        }
        start += width;
      }
    });
  }
  return y;
}

// y = x[..., start:end, ...];  dx[..., start:end, ...] += dy
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
  ProfileScope profile("slice");
  int a = normalize_axis(axis, x.dim(), "slice");
  int64_t n = x.shape()[a];
  QKV_CHECK(0 <= start && start <= end && end <= n, "slice: range [", start, ", ", end, ") is not within [0, ", n,
            "] on axis ", axis, " of shape ", str(x.shape()));
  Shape out = x.shape();
  out[a] = end - start;
  AxisSplit s = split_at(x.shape(), a);
  int64_t width = (end - start) * s.inner, row = s.size * s.inner, skip = start * s.inner;
  Tensor y = Tensor::empty(out);
  for (int64_t o = 0; o < s.outer; ++o)
    std::memcpy(y.data() + o * width, x.data() + o * row + skip, sizeof(float) * width);
  if (needs_grad(x)) {
    record(y, "slice", {x}, [x, s, width, row, skip](const Tensor& dy) {
      float* dx = grad_buffer(x).data();
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t j = 0; j < width; ++j) dx[o * row + skip + j] += dy.data()[o * width + j];
    });
  }
  return y;
}

}  // namespace qkv
