// Reads GPT-2's tokenizer as it is distributed: encoder.json + vocab.bpe (OpenAI), vocab.json + merges.txt and
// tokenizer.json (Hugging Face), or a tiktoken rank file, into a checked qkv tokenizer.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace qkv {

struct TokenizerImport {
  // The split to use with files that name none (a tiktoken file): GPT-2's only when the user says so.
  std::optional<Pretokenizer> pattern;
  std::vector<std::string> specials;  // texts of special tokens to add after the file's own
};

// NOTE [tokenizer import]: the files are told apart by their content, not their names: a JSON object with a
// "model" is a tokenizer.json, any other JSON object a vocabulary (token -> id); a text file whose first line
// is base64 and a number is a tiktoken rank file, any other a merge list. One tokenizer.json, one rank file,
// or a vocabulary and a merge list (in either order) make a tokenizer. The vocabulary's tokens after the merged
// ones (GPT-2's "<|endoftext|>" = 50256) become named specials. Every error names the file and what is wrong.
Tokenizer import_tokenizer(const std::vector<std::string>& paths, const TokenizerImport& options);

// GPT-2's vocab.json and merges.txt (Hugging Face's names) for a tokenizer with GPT-2's split: each token
// spelled with GPT-2's byte table (NOTE [gpt2 bytes]), specials by their text. import_tokenizer reads them back
// to the same tokenizer. Throws for a tokenizer those files cannot hold (char, or qkv's own split).
struct VocabFiles {
  std::string vocab_json, merges_txt;
};
VocabFiles to_vocab_files(const Tokenizer& t);

// The parts, on file contents (tests and the fuzzer use them without files).
BpeVocab read_vocab_and_merges(std::string_view vocab_json, const std::string& vocab_path, std::string_view merges,
                               const std::string& merges_path);
BpeVocab read_tiktoken(std::string_view text, const std::string& path);
// Merge lines ("#version" first, then "left right"), with their keys as in the file (GPT-2's spelling).
std::vector<std::pair<std::string, std::string>> read_merge_lines(std::string_view text, const std::string& path);

// A BpeVocab from a GPT-2-spelled vocabulary (key -> id, a JSON object) and merges: ids below 256 + merges are
// the ordinary tokens, the rest specials in id order; `added` lists (text, id) of specials the vocabulary may
// lack (tokenizer.json's added tokens).
BpeVocab vocab_from_keys(const nlohmann::json& vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                         const std::vector<std::pair<std::string, int64_t>>& added, const std::string& source);

}  // namespace qkv
