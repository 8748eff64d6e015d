// llm.c's GPT-2 checkpoint (gpt2_124M.bin and the files its trainer writes): read into, and written from, qkv's GPT.
#pragma once

#include <string>
#include <string_view>

#include "nn/config.h"
#include "train/formats/gpt2_layout.h"

namespace qkv {

// NOTE [llm.c checkpoint]: 256 little-endian int32 (magic 20240326, version 3 = fp32, maxT, V, L, NH, C,
// padded Vp, the rest 0), then fp32 tensors: wte [Vp, C] (rows from V on are padding), wpe [maxT, C], then
// each of ln1w [L, C], ln1b, qkvw [L, 3C, C], qkvb [L, 3C], attprojw [L, C, C], attprojb [L, C], ln2w, ln2b,
// fcw [L, 4C, C], fcb [L, 4C], fcprojw [L, C, 4C], fcprojb [L, C] stacked over the layers, then lnfw [C],
// lnfb [C]. Weights are [out, in], like qkv's; GELU is the tanh form; the LM head is wte. Version 5 (bf16)
// is refused. Vp is V rounded up to a multiple of 128 when qkv writes one, as llm.c does.
constexpr int32_t kLlmcCheckpointMagic = 20240326;

struct LlmcModel {
  ModelConfig model;    // gpt, biases, gelu_tanh, learned positions, block_size maxT, vocab_size V
  NamedTensors params;  // qkv's names (NOTE [gpt2 layout])
};

// Whether the bytes start like an llm.c checkpoint (the magic), so `qkv import` can tell it from other files.
bool is_llmc_checkpoint(std::string_view head);
// Every mistake is a qkv::Error naming `source`: magic, version, header sizes, a length that does not match.
LlmcModel parse_llmc(std::string_view bytes, const std::string& source);
// The file's bytes; the model must be expressible in llm.c (check_gpt2_expressible).
std::string to_llmc_bytes(const ModelConfig& m, const NamedTensors& params);

}  // namespace qkv
