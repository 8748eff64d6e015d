// What a Tensor handle points to: the shared float buffer, the shape, and the tensor's autograd state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"

namespace qkv {

// One recorded op. `backward` receives d(loss)/d(output) and adds into the gradients of `inputs`
// (through grad_buffer). It captures only what it needs, and never the output tensor itself (that would
// be a reference cycle); ops that need their output capture output.detach().
struct Node {
  const char* name;
  std::vector<Tensor> inputs;
  std::function<void(const Tensor& dout)> backward;
};

struct Storage {
  float* data = nullptr;
  int64_t n = 0;
  explicit Storage(int64_t n);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  bool requires_grad = false;
  bool graph_released = false;  // set on non-leaves once a backward pass went through them
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // the op that made this tensor; null for leaves
};

}  // namespace qkv
