// Helpers shared by the nn tests: tiny configs and a finite-difference check over every parameter.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "nn/config.h"
#include "nn/module.h"

namespace qkv::testing {

inline ModelConfig tiny_config(ModelKind kind) {
  ModelConfig c;
  c.kind = kind;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 8;
  c.d_ff = 16;
  c.block_size = 8;
  c.vocab_size = 11;
  c.bias = true;
  c.pad_id = kind == ModelKind::Gpt ? -1 : 0;
  return c;
}

// Compares d(loss)/d(p) from backward with central differences for every element of every tensor in
// `params`. loss() must be deterministic. eps is small because LayerNorm of small-init embeddings is
// strongly curved (rstd ~ 1 / 0.02): at eps 1e-2 the central difference itself is 20% off.
// Fails naming the parameter and element that disagree.
inline void check_gradients(const std::vector<std::pair<std::string, Tensor>>& params,
                            const std::function<Tensor()>& loss, float eps = 1e-3f, float atol = 2e-3f,
                            float rtol = 2e-2f) {
  for (auto& [name, p] : params) {
    Tensor q = p;
    q.zero_grad();
  }
  loss().backward();
  NoGrad no_grad;
  // Not a structured binding: doctest's INFO captures `name` in a lambda, which clang 14 refuses for bindings.
  for (const auto& entry : params) {
    const std::string& name = entry.first;
    Tensor param = entry.second;
    std::vector<float> analytic = param.grad().to_vector();
    for (int64_t i = 0; i < param.numel(); ++i) {
      float saved = param.data()[i];
      param.data()[i] = saved + eps;
      double up = loss().item();
      param.data()[i] = saved - eps;
      double down = loss().item();
      param.data()[i] = saved;
      double numeric = (up - down) / (2.0 * eps);
      INFO(name, "[", i, "]: analytic ", analytic[i], " numeric ", numeric);
      REQUIRE(std::abs(analytic[i] - numeric) <= atol + rtol * std::abs(numeric));
    }
  }
}

inline Ids random_ids(Rng& rng, Shape shape, int32_t low, int32_t high) {
  std::vector<int32_t> v(numel(shape));
  for (auto& x : v) x = low + static_cast<int32_t>(rng.next_u32() % static_cast<uint32_t>(high - low));
  return Ids(v, shape);
}

}  // namespace qkv::testing
