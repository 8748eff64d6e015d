#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <ostream>

#include "core/allocator.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor_impl.h"

namespace qkv {

Storage::Storage(int64_t count) : n(count) {
  data = static_cast<float*>(alloc_buffer(static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float)));
}
Storage::~Storage() { free_buffer(data, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)); }

namespace {
const TensorImpl& checked(const TensorImpl* impl, const char* what) {
  QKV_CHECK(impl != nullptr, what, ": the tensor is undefined");
  return *impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape) {
  for (int64_t d : shape) QKV_CHECK(d >= 0, "Tensor: negative dimension in shape ", str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(qkv::numel(shape));
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::randn(const Shape& shape, Rng& rng, float std) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std * rng.normal();
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, float low, float high) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + (high - low) * rng.uniform();
  return t;
}

Tensor Tensor::arange(int64_t n) {
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  QKV_CHECK(static_cast<int64_t>(values.size()) == qkv::numel(shape), "from_vector: ", values.size(),
            " values cannot fill shape ", str(shape), " (", qkv::numel(shape), " elements)");
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

const Shape& Tensor::shape() const { return checked(impl_.get(), "shape").shape; }

int64_t Tensor::size(int axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }

int64_t Tensor::numel() const { return qkv::numel(shape()); }

float* Tensor::data() { return checked(impl_.get(), "data").storage->data; }
const float* Tensor::data() const { return checked(impl_.get(), "data").storage->data; }

float Tensor::item() const {
  QKV_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", str(shape()));
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  QKV_CHECK(static_cast<int>(index.size()) == dim(), "at: ", index.size(), " indices for a tensor of shape ",
            str(shape()));
  int64_t offset = 0, axis = 0;
  for (int64_t i : index) {
    int64_t d = shape()[axis];
    QKV_CHECK(i >= 0 && i < d, "at: index ", i, " out of range [0, ", d, ") on axis ", axis, " of shape ",
              str(shape()));
    offset = offset * d + i;
    ++axis;
  }
  return data()[offset];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel()); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked(impl_.get(), "detach").storage;
  impl->shape = impl_->shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  std::memcpy(t.data(), data(), sizeof(float) * numel());
  return t;
}

Tensor Tensor::select_rows(const std::vector<int64_t>& rows) const {
  QKV_CHECK(dim() >= 1, "select_rows: expected a tensor of rank >= 1, got a scalar");
  for (int64_t r : rows)
    QKV_CHECK(r >= 0 && r < size(0), "select_rows: row ", r, " is out of range [0, ", size(0), ")");
  Shape s = shape();
  int64_t row = s[0] ? numel() / s[0] : 0;
  s[0] = static_cast<int64_t>(rows.size());
  Tensor t = empty(s);
  for (size_t i = 0; i < rows.size(); ++i) std::memcpy(t.data() + i * row, data() + rows[i] * row, sizeof(float) * row);
  return t;
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  QKV_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad (this one was made by ",
            impl_->grad_fn ? impl_->grad_fn->name : "an op whose graph is released", ")");
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  const TensorImpl& impl = checked(impl_.get(), "is_leaf");
  return !impl.grad_fn && !impl.graph_released;
}

Tensor Tensor::grad() const { return checked(impl_.get(), "grad").grad; }

void Tensor::zero_grad() {
  checked(impl_.get(), "zero_grad");
  Tensor& g = impl_->grad;
  if (g.defined())
    std::fill_n(g.data(), g.numel(), 0.0f);
  else if (impl_->requires_grad)
    g = zeros(impl_->shape);  // allocated now, so a training loop's first step already holds every buffer
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << str(t.shape()) << ", [";
  int64_t n = t.numel(), shown = std::min<int64_t>(n, 16);
  for (int64_t i = 0; i < shown; ++i) os << (i ? ", " : "") << std::setprecision(6) << t.data()[i];
  if (shown < n) os << ", ... (" << n - shown << " more)";
  os << "]" << (t.requires_grad() ? ", requires_grad" : "") << ")";
  return os;
}

}  // namespace qkv
