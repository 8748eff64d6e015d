// Reads a Hugging Face tokenizer.json that holds GPT-2's byte-level BPE; any other model or split is refused.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "data/tokenizer.h"

namespace qkv {

// GPT-2's pre-tokenizer pattern as Hugging Face and OpenAI write it, and tiktoken's equivalent form.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kGpt2PatternTiktoken =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";

// NOTE [tokenizer.json]: accepted when model.type is "BPE" with nothing that changes how it merges
// (byte_fallback, ignore_merges, a subword prefix or suffix, dropout), there is no normalizer, and the
// pre-tokenizer is GPT-2's: ByteLevel with its regex and no prefix space, or a Split on GPT-2's pattern
// followed by ByteLevel without regex. Added tokens become named specials; a non-special added token is refused,
// since Hugging Face matches it in all text and qkv only where asked. Everything else is refused with one line
// naming it: a WordPiece or Unigram model, another pattern (Llama 3, Qwen), a normalizer.
BpeVocab read_tokenizer_json(const nlohmann::json& j, const std::string& path);

}  // namespace qkv
