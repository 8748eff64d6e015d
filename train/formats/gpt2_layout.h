// GPT-2's tensors in qkv's terms, shared by the Hugging Face and llm.c formats: which models GPT-2's
// architecture can express, and their parameters as GPT-2's complete set.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/config.h"

namespace qkv {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// NOTE [gpt2 layout]: qkv's GPT uses nanoGPT's names, which are GPT2LMHeadModel's: transformer.wte.weight
// [V, C], transformer.wpe.weight [T, C], per layer transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
// mlp.c_fc, mlp.c_proj}.{weight, bias}, transformer.ln_f.{weight, bias}; the LM head is wte (tied). qkv's
// linear weights are [out, in] (nn.Linear's); Hugging Face stores GPT-2's as Conv1D, [in, out]. c_attn's
// output is q, k, v one after the other, each split into heads the same way in all three projects.

// Throws qkv::Error naming the first thing `format` cannot hold: another model kind, RoPE or sinusoids,
// post-norm, local or linear attention (and for llm.c, any activation but gelu_tanh or d_ff other than 4C).
void check_gpt2_expressible(const ModelConfig& m, const std::string& format);

// The model's parameters under their names, with zero biases where a model without biases has none:
// GPT-2's formats always hold biases, and zeros compute the same.
std::map<std::string, Tensor> gpt2_tensor_set(const ModelConfig& m, const NamedTensors& params);

// "transformer.h.3.mlp.c_fc.weight" and the like: a linear weight inside a layer (Conv1D in Hugging Face).
bool is_layer_linear_weight(const std::string& name);

}  // namespace qkv
