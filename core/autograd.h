// Define-by-run reverse-mode autograd: recording ops (grad mode, NoGrad), gradient buffers, the backward pass.
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"
#include "core/tensor_impl.h"

namespace qkv {

// NOTE [grad mode]: whether ops record a graph is per thread, as in PyTorch; this is one of the two kinds of
// global state qkv has (the other is the thread and RNG settings).
bool grad_enabled();

// RAII guard: no graph is recorded while it lives (evaluation, generation).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of the tensors requires a gradient: the op must record a node.
template <class... Ts>
bool needs_grad(const Ts&... ts) {
  return grad_enabled() && (ts.requires_grad() || ...);
}

// Attaches a node to `out`, making it require a gradient. Only inputs that require a gradient are kept.
void record(Tensor& out, const char* name, std::vector<Tensor> inputs, std::function<void(const Tensor&)> backward);

// The gradient buffer of `t`, allocated as zeros on first use; backward functions add into it.
Tensor& grad_buffer(const Tensor& t);

// grad_buffer(t) when t requires a gradient, else null: where a backward function writes t's gradient, if at all.
float* grad_or_null(const Tensor& t);

// Like grad_buffer, but a first contribution gets an uninitialised buffer and `fresh` = true: the caller must
// then overwrite all of it (BLAS with beta 0), which saves writing zeros only to add to them.
Tensor& grad_buffer_for_overwrite(const Tensor& t, bool& fresh);

// Adds `g` into t's gradient, summing over the dimensions t was broadcast along (for backward functions
// whose gradient is already a whole tensor). A first contribution of t's shape is taken over, not added.
void accumulate_grad(const Tensor& t, const Tensor& g);

// Adds `src` into `dst`, summing over the dimensions where dst's shape broadcasts to src's (the
// gradient of broadcasting). No autograd; used by backward functions.
void add_reduced(Tensor& dst, const Tensor& src);

}  // namespace qkv
