#include "core/autograd.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "core/profile.h"
#include "core/shape.h"
#include "core/stop.h"
#include "core/threads.h"

namespace qkv {
namespace {
thread_local bool t_grad_enabled = true;

// Reverse topological order of the graph above `root` (root first), by an explicit-stack DFS so that
// deep graphs (hundreds of layers) cannot overflow the call stack.
std::vector<std::shared_ptr<TensorImpl>> reverse_topological(const std::shared_ptr<TensorImpl>& root) {
  std::vector<std::shared_ptr<TensorImpl>> postorder;
  std::unordered_set<TensorImpl*> visited{root.get()};
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    const Node* node = impl->grad_fn.get();
    if (node && next < node->inputs.size()) {
      const auto& child = node->inputs[next++].shared_impl();
      if (visited.insert(child.get()).second) stack.emplace_back(child, 0);
    } else {
      postorder.push_back(impl);
      stack.pop_back();
    }
  }
  return {postorder.rbegin(), postorder.rend()};
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }

NoGrad::NoGrad() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = previous_; }

void record(Tensor& out, const char* name, std::vector<Tensor> inputs, std::function<void(const Tensor&)> backward) {
  std::erase_if(inputs, [](const Tensor& t) { return !t.requires_grad(); });
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

Tensor& grad_buffer(const Tensor& t) {
  Tensor& g = t.impl()->grad;
  if (!g.defined()) g = Tensor::zeros(t.shape());
  return g;
}

float* grad_or_null(const Tensor& t) { return t.requires_grad() ? grad_buffer(t).data() : nullptr; }

Tensor& grad_buffer_for_overwrite(const Tensor& t, bool& fresh) {
  Tensor& g = t.impl()->grad;
  fresh = !g.defined();
  if (fresh) g = Tensor::empty(t.shape());
  return g;
}

void add_reduced(Tensor& dst, const Tensor& src) {
  float* pd = dst.data();
  const float* ps = src.data();
  if (dst.shape() == src.shape()) {
    int64_t n = src.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
    for (int64_t i = 0; i < n; ++i) pd[i] += ps[i];
    return;
  }
  QKV_CHECK(broadcast_shapes(dst.shape(), src.shape(), "add_reduced") == src.shape(), "add_reduced: shape ",
            str(dst.shape()), " does not broadcast to ", str(src.shape()));
  if (dst.dim() >= 1 && src.dim() >= 1 && dst.numel() == src.size(-1) && dst.size(-1) == src.size(-1)) {
    // A bias-like [..., n] summed over every leading dimension: threads split the columns, and each column
    // adds its rows in order, so the bits do not depend on the thread count.
    int64_t n = src.size(-1), rows = src.numel() / std::max<int64_t>(n, 1);
#pragma omp parallel for num_threads(team()) if (src.numel() >= kGrain) schedule(static)
    for (int64_t j0 = 0; j0 < n; j0 += 16)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = j0; j < std::min(n, j0 + 16); ++j) pd[j] += ps[r * n + j];
    return;
  }
  // Serial: several source rows add into the same destination row, and a fixed order keeps the bits fixed.
  const Shape& out = src.shape();
  std::vector<int64_t> sd = broadcast_strides(dst.shape(), out);
  int rank = static_cast<int>(out.size());
  int64_t n = out.back(), rows = src.numel() / std::max<int64_t>(n, 1);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, od = 0;
    for (int d = rank - 2; d >= 0; --d) {
      od += (rest % out[d]) * sd[d];
      rest /= out[d];
    }
    int64_t step = sd[rank - 1];
    for (int64_t j = 0; j < n; ++j) pd[od + j * step] += ps[r * n + j];
  }
}

void accumulate_grad(const Tensor& t, const Tensor& g) {
  Tensor& dst = t.impl()->grad;
  if (!dst.defined() && g.shape() == t.shape()) {
    // NOTE [gradient hand-over]: a gradient nobody else holds (a backward's temporary, or the dout the engine
    // drops after this node) becomes t's gradient as it is; otherwise it is copied. Either way no zeros
    // are written only to be added to.
    if (g.shared_impl().use_count() == 1 && g.impl()->storage.use_count() == 1 && !g.requires_grad()) {
      dst = g;
    } else {
      dst = Tensor::empty(t.shape());
      float* d = dst.data();
      const float* s = g.data();
      int64_t n = g.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
      for (int64_t i = 0; i < n; ++i) d[i] = s[i];
    }
    return;
  }
  add_reduced(grad_buffer(t), g);
}

void Tensor::backward() const {
  QKV_CHECK(defined(), "backward: the tensor is undefined");
  QKV_CHECK(numel() == 1, "backward: expected a scalar (one element) loss, got shape ", str(shape()));
  QKV_CHECK(!impl_->graph_released,
            "backward: the graph of this tensor was already released by an earlier "
            "backward pass (run the forward pass again)");
  QKV_CHECK(requires_grad(),
            "backward: the tensor does not require a gradient (no input requires one, or it "
            "was computed under NoGrad)");
  NoGrad no_grad;  // backward functions use ops too; they must not record
  std::vector<std::shared_ptr<TensorImpl>> order = reverse_topological(impl_);
  accumulate_grad(*this, Tensor::ones(shape()));
  for (auto& impl : order) {
    check_stop();  // NOTE [stop between ops]
    if (impl->grad_fn) {
      if (impl->grad.defined()) {
        ProfileScope profile(impl->grad_fn->name, /*backward=*/true);
        impl->grad_fn->backward(impl->grad);
      }
      // Release the graph as we go, so saved activations return to the allocator during backward.
      impl->grad_fn.reset();
      impl->graph_released = true;
      impl->grad = Tensor();  // gradients of non-leaves are not kept
    }
    impl.reset();
  }
}

}  // namespace qkv
