// Hugging Face's GPT-2 model folders (config.json, model.safetensors or its shards, tokenizer files) read
// into, and written from, qkv's GPT.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "data/tokenizer.h"
#include "nn/config.h"
#include "train/formats/gpt2_layout.h"
#include "train/formats/safetensors.h"

namespace qkv {

// NOTE [hugging face gpt2]: GPT2LMHeadModel saves its tensors as transformer.h.0.attn.c_attn.weight ...; the
// hub's original gpt2 is a GPT2Model, saved without "transformer." and with each layer's attn.bias (and in
// older files attn.masked_bias) mask buffers, which are skipped. lm_head.weight, when present, is the tied
// wte and skipped too. Linear weights are Conv1D's [in, out] and are transposed. F32, F16 and BF16 read
// exactly into floats; qkv writes F32. From config.json: n_embd, n_layer, n_head, n_positions (the block
// size), vocab_size, n_inner (null: 4 x n_embd), activation_function (gelu_new and gelu_pytorch_tanh are
// gelu_tanh; gelu and relu are themselves); a layer_norm_epsilon other than 1e-5, untied embeddings, cross
// attention or attention scaled by the layer index are refused, since qkv's GPT does not compute them.

struct HfModel {
  ModelConfig model;
  NamedTensors params;                 // qkv's names and layouts
  std::optional<Tokenizer> tokenizer;  // from vocab.json + merges.txt or tokenizer.json, when the folder has them
  std::string dtypes;                  // the tensors' dtypes as read, e.g. "F16"
  std::string weights;                 // the weight files read, for messages
};

ModelConfig model_from_hf_config(const nlohmann::json& config, const std::string& source);
nlohmann::json hf_config_of(const ModelConfig& m, const Tokenizer& tokenizer);

// Either layout's tensors in qkv's names; unknown names pass through (the model's loader names them).
NamedTensors params_from_hf(SafeTensorsFile file, const std::string& source);
// GPT2LMHeadModel's tensors (F32, Conv1D layout, biases always), with the metadata transformers expects.
SafeTensorsFile hf_safetensors_of(const ModelConfig& m, const NamedTensors& params);

// A folder as Hugging Face writes it; every problem is a qkv::Error naming the folder or file (a folder
// with only pytorch_model.bin is told to convert it: a pickle can run code, and qkv does not read it).
HfModel read_hf_folder(const std::string& dir);
// config.json, model.safetensors, and vocab.json + merges.txt when the tokenizer is GPT-2's kind.
void write_hf_folder(const std::string& dir, const ModelConfig& m, const NamedTensors& params,
                     const Tokenizer& tokenizer);

}  // namespace qkv
