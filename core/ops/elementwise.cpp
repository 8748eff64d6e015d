// Forward and backward of the elementwise ops. Calculus in the comment above each op.
#include "core/ops/elementwise.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {
namespace {

// Calls row(out_offset, a_offset, b_offset, a_step, b_step, n) for every innermost row of the broadcast
// output. Rows are independent, so they run in parallel.
template <class Row>
void for_each_broadcast_row(const Shape& out, const Shape& a, const Shape& b, Row row) {
  if (out.empty()) return row(0, 0, 0, 0, 0, 1);
  std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  int rank = static_cast<int>(out.size());
  int64_t n = out.back(), rows = numel(out) / std::max<int64_t>(n, 1);
#pragma omp parallel for num_threads(team()) if (rows * n >= kGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, oa = 0, ob = 0;
    for (int d = rank - 2; d >= 0; --d) {
      int64_t i = rest % out[d];
      rest /= out[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    row(r * n, oa, ob, sa[rank - 1], sb[rank - 1], n);
  }
}

template <class F>
Tensor binary_forward(const Tensor& a, const Tensor& b, const char* name, F f) {
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name));
  const float *pa = a.data(), *pb = b.data();
  float* po = out.data();
  if (a.shape() == b.shape()) {
    int64_t n = out.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  for_each_broadcast_row(out.shape(), a.shape(), b.shape(),
                         [&](int64_t o, int64_t ia, int64_t ib, int64_t sa, int64_t sb, int64_t n) {
                           for (int64_t j = 0; j < n; ++j) po[o + j] = f(pa[ia + j * sa], pb[ib + j * sb]);
                         });
  return out;
}

// y = f(x) elementwise; dx += dy * df(x, y).
template <class F, class DF>
Tensor unary(const Tensor& x, const char* name, F f, DF df) {
  ProfileScope profile(name);
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  int64_t n = x.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  if (needs_grad(x)) {
    record(y, name, {x}, [x, y = y.detach(), df](const Tensor& dy) {
      bool fresh = false;
      float* dx = grad_buffer_for_overwrite(x, fresh).data();
      const float *xs = x.data(), *ys = y.data(), *dys = dy.data();
      int64_t count = x.numel();
      if (fresh) {  // two loops, so that each vectorises
#pragma omp parallel for num_threads(team()) if (count >= kGrain) schedule(static)
        for (int64_t i = 0; i < count; ++i) dx[i] = dys[i] * df(xs[i], ys[i]);
      } else {
#pragma omp parallel for num_threads(team()) if (count >= kGrain) schedule(static)
        for (int64_t i = 0; i < count; ++i) dx[i] += dys[i] * df(xs[i], ys[i]);
      }
    });
  }
  return y;
}

}  // namespace

// out = a + b;  da += dout,  db += dout (each summed over its broadcast dimensions)
Tensor add(const Tensor& a, const Tensor& b) {
  ProfileScope profile("add");
  Tensor out = binary_forward(a, b, "add", [](float x, float y) { return x + y; });
  if (needs_grad(a, b)) {
    record(out, "add", {a, b}, [a, b](const Tensor& dout) {
      if (a.requires_grad()) accumulate_grad(a, dout);
      if (b.requires_grad()) accumulate_grad(b, dout);
    });
  }
  return out;
}

// out = a - b;  da += dout,  db -= dout
Tensor sub(const Tensor& a, const Tensor& b) {
  ProfileScope profile("sub");
  Tensor out = binary_forward(a, b, "sub", [](float x, float y) { return x - y; });
  if (needs_grad(a, b)) {
    record(out, "sub", {a, b}, [a, b](const Tensor& dout) {
      if (a.requires_grad()) accumulate_grad(a, dout);
      if (b.requires_grad()) accumulate_grad(b, neg(dout));
    });
  }
  return out;
}

// out = a * b;  da += dout * b,  db += dout * a
Tensor mul(const Tensor& a, const Tensor& b) {
  ProfileScope profile("mul");
  Tensor out = binary_forward(a, b, "mul", [](float x, float y) { return x * y; });
  if (needs_grad(a, b)) {
    record(out, "mul", {a, b}, [a, b](const Tensor& dout) {
      if (a.requires_grad()) accumulate_grad(a, mul(dout, b));
      if (b.requires_grad()) accumulate_grad(b, mul(dout, a));
    });
  }
  return out;
}

// out = a / b;  da += dout / b,  db -= dout * a / b^2 = dout * out / b
Tensor div(const Tensor& a, const Tensor& b) {
  ProfileScope profile("div");
  Tensor out = binary_forward(a, b, "div", [](float x, float y) { return x / y; });
  if (needs_grad(a, b)) {
    record(out, "div", {a, b}, [a, b, out = out.detach()](const Tensor& dout) {
      if (a.requires_grad()) accumulate_grad(a, div(dout, b));
      if (b.requires_grad()) accumulate_grad(b, neg(div(mul(dout, out), b)));
    });
  }
  return out;
}

// y = x + s;  dx += dy
Tensor add(const Tensor& a, float s) {
  return unary(
      a, "add_scalar", [s](float x) { return x + s; }, [](float, float) { return 1.0f; });
}

// y = x * s;  dx += dy * s
Tensor mul(const Tensor& a, float s) {
  return unary(
      a, "mul_scalar", [s](float x) { return x * s; }, [s](float, float) { return s; });
}

// y = -x;  dx -= dy
Tensor neg(const Tensor& x) {
  return unary(
      x, "neg", [](float v) { return -v; }, [](float, float) { return -1.0f; });
}

// y = e^x;  dx += dy * y
Tensor exp(const Tensor& x) {
  return unary(
      x, "exp", [](float v) { return fast_exp(v); }, [](float, float y) { return y; });
}

// y = ln x;  dx += dy / x
Tensor log(const Tensor& x) {
  return unary(
      x, "log", [](float v) { return std::log(v); }, [](float v, float) { return 1.0f / v; });
}

// y = sqrt x;  dx += dy / (2 y)
Tensor sqrt(const Tensor& x) {
  return unary(
      x, "sqrt", [](float v) { return std::sqrt(v); }, [](float, float y) { return 0.5f / y; });
}

// y = tanh x;  dx += dy (1 - y^2)
Tensor tanh(const Tensor& x) {
  return unary(
      x, "tanh", [](float v) { return std::tanh(v); }, [](float, float y) { return 1.0f - y * y; });
}

// y = 1 / (1 + e^-x);  dx += dy y (1 - y)
Tensor sigmoid(const Tensor& x) {
  return unary(
      x, "sigmoid", [](float v) { return 1.0f / (1.0f + fast_exp(-v)); },
      [](float, float y) { return y * (1.0f - y); });
}

// y = max(x, 0);  dx += dy [x > 0]
Tensor relu(const Tensor& x) {
  return unary(
      x, "relu", [](float v) { return v > 0.0f ? v : 0.0f; }, [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
}

// y = x Phi(x);  dx += dy (Phi(x) + x phi(x)), Phi the standard normal CDF and phi its density.
// Backward reads Phi(x) back as y / x instead of computing erf again (Phi(0) = 1/2).
Tensor gelu(const Tensor& x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
  return unary(
      x, "gelu", [](float v) { return 0.5f * v * (1.0f + fast_erf(v * kInvSqrt2)); },
      [](float v, float y) { return (v != 0.0f ? y / v : 0.5f) + v * kInvSqrt2Pi * fast_exp(-0.5f * v * v); });
}

// y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
// dx += dy (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2))
Tensor gelu_tanh(const Tensor& x) {
  constexpr float kC = 0.79788456080286536f, kA = 0.044715f;
  return unary(
      x, "gelu_tanh", [](float v) { return 0.5f * v * (1.0f + std::tanh(kC * (v + kA * v * v * v))); },
      [](float v, float) {
        float t = std::tanh(kC * (v + kA * v * v * v));
        return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kC * (1.0f + 3.0f * kA * v * v);
      });
}

}  // namespace qkv
