// Forward and backward of y = x W^T + b over the rows of x (all leading dimensions folded into M):
//   forward:   y rows start as b, then y += x W^T (one GEMM with beta 1: no separate pass adds the bias)
//   backward:  dx = dy W,  dW += dy^T x,  db += the column sums of dy
#include "core/ops/linear.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/elementwise.h"
#include "core/ops/matmul.h"
#include "core/profile.h"
#include "core/threads.h"

namespace qkv {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  ProfileScope profile("linear");
  QKV_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1),
            "linear: expected x [..., K] and "
            "weight [N, K], got ",
            str(x.shape()), " and ", str(weight.shape()));
  const int64_t K = weight.size(1), N = weight.size(0), M = x.numel() / std::max<int64_t>(K, 1);
  QKV_CHECK(!bias.defined() || bias.shape() == Shape{N}, "linear: expected a bias of shape [", N, "], got ",
            str(bias.shape()));
  QKV_CHECK(x.numel() < (int64_t{1} << 31) && weight.numel() < (int64_t{1} << 31), "linear: operands ", str(x.shape()),
            " and ", str(weight.shape()), " exceed the 2^31 elements BLAS indexes");
  Shape shape = x.shape();
  shape.back() = N;
  Tensor y = Tensor::empty(shape);
  float* py = y.data();
  if (bias.defined()) {
    const float* pb = bias.data();
#pragma omp parallel for num_threads(team()) if (M * N >= kGrain) schedule(static)
    for (int64_t r = 0; r < M; ++r) std::copy_n(pb, N, py + r * N);
  }
  gemm(false, true, M, N, K, x.data(), weight.data(), bias.defined() ? 1.0f : 0.0f, py);
  if (needs_grad(x, weight, bias)) {
    record(y, "linear", {x, weight, bias}, [x, weight, bias, M, N, K](const Tensor& dy) {
      if (x.requires_grad()) {  // dx[M, K] = dy[M, N] W[N, K]
        bool fresh = false;
        float* dx = grad_buffer_for_overwrite(x, fresh).data();
        gemm(false, false, M, K, N, dy.data(), weight.data(), fresh ? 0.0f : 1.0f, dx);
      }
      if (weight.requires_grad())  // dW[N, K] += dy^T x
        gemm(true, false, N, K, M, dy.data(), x.data(), 1.0f, grad_buffer(weight).data());
      if (bias.defined() && bias.requires_grad()) add_reduced(grad_buffer(bias), dy);  // db += column sums
    });
  }
  return y;
}

}  // namespace qkv
