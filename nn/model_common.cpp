#include "nn/model_common.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qkv {

ModelBase::ModelBase(const ModelConfig& config) : config_(config), context_(std::make_shared<DropoutContext>()) {
  config_.validate();
}

Mask padding_mask(const Ids& idx, int32_t pad_id) {
  Mask m(std::vector<uint8_t>(idx.data.size()), idx.shape);
  for (size_t i = 0; i < idx.data.size(); ++i) m.data[i] = pad_id >= 0 && idx.data[i] == pad_id;
  return m;
}

void init_gpt_style(Module& model, Rng& rng, int64_t n_layer, float std) {
  float proj_std = std / std::sqrt(2.0f * static_cast<float>(n_layer));
  for (auto& [name, p] : model.named_parameters()) {
    bool is_norm = name.find("ln_") != std::string::npos;
    bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      std::fill_n(p.data(), p.numel(), is_bias ? 0.0f : 1.0f);
    } else if (is_bias || p.dim() < 2) {
      std::fill_n(p.data(), p.numel(), 0.0f);
    } else {
      bool residual = name.size() >= 13 && name.compare(name.size() - 13, 13, "c_proj.weight") == 0;
      Tensor init = Tensor::randn(p.shape(), rng, residual ? proj_std : std);
      std::copy_n(init.data(), p.numel(), p.data());
    }
  }
}

}  // namespace qkv
