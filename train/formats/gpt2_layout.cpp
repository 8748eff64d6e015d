#include "train/formats/gpt2_layout.h"

#include "core/error.h"

namespace qkv {

void check_gpt2_expressible(const ModelConfig& m, const std::string& format) {
  auto refuse = [&](const std::string& what) {
    QKV_FAIL(format, " holds GPT-2's architecture only, and this model has ", what);
  };
  if (m.kind != ModelKind::Gpt) refuse(std::string("kind ") + name(m.kind) + " (expected gpt)");
  if (m.positions != Positions::Learned)
    refuse(std::string("model.positions ") + enum_name(kPositions, m.positions) + " (expected learned)");
  if (m.norm != Norm::Pre) refuse("model.norm post (expected pre)");
  if (m.attention != AttentionKind::Full)
    refuse(std::string("model.attention ") + enum_name(kAttentionKinds, m.attention) + " (expected full)");
  if (format == "llm.c" && m.activation != Activation::GeluTanh)
    refuse(std::string("model.activation ") + enum_name(kActivations, m.activation) + " (llm.c has gelu_tanh only)");
  if (format == "llm.c" && m.ff() != 4 * m.d_model)
    refuse("model.d_ff " + std::to_string(m.ff()) + " (llm.c has 4 x d_model only)");
}

bool is_layer_linear_weight(const std::string& name) {
  if (name.rfind("transformer.h.", 0) != 0) return false;
  for (const char* part : {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"}) {
    const std::string p(part);
    if (name.size() > p.size() && name.compare(name.size() - p.size(), p.size(), p) == 0) return true;
  }
  return false;
}

std::map<std::string, Tensor> gpt2_tensor_set(const ModelConfig& m, const NamedTensors& params) {
  std::map<std::string, Tensor> set(params.begin(), params.end());
  const int64_t C = m.d_model;
  auto ensure_bias = [&](const std::string& name, int64_t n) {
    if (!set.count(name)) set.emplace(name, Tensor::zeros({n}));
  };
  for (int64_t i = 0; i < m.n_layer; ++i) {
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    ensure_bias(h + "ln_1.bias", C);
    ensure_bias(h + "attn.c_attn.bias", 3 * C);
    ensure_bias(h + "attn.c_proj.bias", C);
    ensure_bias(h + "ln_2.bias", C);
    ensure_bias(h + "mlp.c_fc.bias", m.ff());
    ensure_bias(h + "mlp.c_proj.bias", C);
  }
  ensure_bias("transformer.ln_f.bias", C);
  return set;
}

}  // namespace qkv
