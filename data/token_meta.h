// meta.json beside token files: their dtype, token counts, vocabulary size and the tokenizer they came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "data/token_file.h"

namespace qkv {

// What `qkv prepare` records beside the files it writes (NOTE [token files]), so that qkv reads them with
// their dtype and checks that a run's tokenizer is the one they were made with. Only "dtype" is required
// of a meta.json written by hand; a key left out is not checked.
struct TokenMeta {
  std::string format = "nanogpt";        // "nanogpt" (train.bin, val.bin) or "llmc" (shards)
  TokenDtype dtype = TokenDtype::U16;    // of the raw files
  int64_t vocab_size = 0;                // 0: not recorded
  std::string tokenizer;                 // the tokenizer file's name as given to prepare (for people)
  std::string tokenizer_sha256;          // "": not recorded
  int32_t eot = -1;                      // the id that follows each document; -1: none
  int64_t documents = 0;                 // input files
  std::map<std::string, int64_t> files;  // file name (no folder) -> tokens
};

// Errors name `source` and the key: a wrong type, an unknown dtype, a negative count.
TokenMeta parse_token_meta(std::string_view json, const std::string& source);
std::string token_meta_json(const TokenMeta& meta);

}  // namespace qkv
