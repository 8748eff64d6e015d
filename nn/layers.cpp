#include "nn/layers.h"

#include "core/ops.h"

namespace qkv {

Linear::Linear(int64_t in, int64_t out, bool has_bias) {
  weight = register_parameter("weight", Tensor::zeros({out, in}));
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

Embedding::Embedding(int64_t num, int64_t dim) { weight = register_parameter("weight", Tensor::zeros({num, dim})); }

Tensor Embedding::forward(const Ids& ids) const { return embedding(weight, ids); }

LayerNorm::LayerNorm(int64_t dim, bool has_bias) {
  weight = register_parameter("weight", Tensor::ones({dim}));
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({dim}));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layernorm(x, weight, bias, 1e-5f); }

Tensor Dropout::forward(const Tensor& x) const {
  if (!training() || p_ == 0.0f) return x;
  return dropout(x, p_, context_->seed, context_->next_stream());
}

}  // namespace qkv
