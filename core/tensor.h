// Tensor: a cheap, shared handle to a contiguous row-major float32 buffer with a shape and autograd state.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <vector>

#include "core/shape.h"

namespace qkv {

class Rng;
struct Node;
struct TensorImpl;

// NOTE [tensor]: every tensor is float32, contiguous and row-major. Copying a Tensor copies the handle,
// not the data; reshape shares the buffer, transpose/permute make a contiguous copy (matmul uses BLAS
// transpose flags instead). Gradients accumulate with += into .grad(); zeroing them is an explicit
// zero_grad(), as in llm.c's backward functions.
class Tensor {
 public:
  Tensor() = default;  // an undefined tensor; defined() is false

  static Tensor empty(const Shape& shape);  // uninitialised values
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);  // rank 0
  static Tensor randn(const Shape& shape, Rng& rng, float std = 1.0f);
  static Tensor uniform(const Shape& shape, Rng& rng, float low, float high);
  static Tensor arange(int64_t n);  // 0, 1, ..., n-1
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int dim() const { return static_cast<int>(shape().size()); }
  int64_t size(int axis) const;  // negative axes count from the end
  int64_t numel() const;

  float* data();
  const float* data() const;
  float item() const;                                    // the value of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;  // bounds-checked element read
  std::vector<float> to_vector() const;

  Tensor reshape(const Shape& shape) const;  // shares the buffer; one dimension may be -1
  Tensor detach() const;                     // shares the buffer, without autograd history
  Tensor clone() const;                      // a copy of the values, without autograd history
  // Entries `rows` of axis 0, copied in that order (repeats allowed), without autograd history: the beams of a
  // decoding cache.
  Tensor select_rows(const std::vector<int64_t>& rows) const;

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);  // only on leaves
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this tensor
  void zero_grad();     // sets .grad() to zeros in place, allocating it for a tensor that requires grad
  void backward() const;

  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& shared_impl() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Integer and boolean buffers that travel beside tensors: token ids, targets, masks. No gradients.
template <class T>
struct Buffer {
  Shape shape;
  std::vector<T> data;
  Buffer() = default;
  Buffer(std::vector<T> values, Shape s) : shape(std::move(s)), data(std::move(values)) {}
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};
using Ids = Buffer<int32_t>;   // token ids and class targets
using Mask = Buffer<uint8_t>;  // 1 = selected (for masked_fill: filled)

}  // namespace qkv
