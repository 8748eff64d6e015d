// Token files as nanoGPT and llm.c write them: where the tokens of a file are, and reading them checked.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace qkv {

// NOTE [token files]: nanoGPT's train.bin / val.bin are raw little-endian uint16 tokens (uint32 when the
// vocabulary has more than 65,536 ids, recorded in a meta.json beside them); llm.c's shards start with a
// header of 256 little-endian int32 (magic 20240520, version 1, the token count, the rest 0) followed by
// uint16 tokens. A file is an llm.c shard when its first four bytes are the magic, else raw tokens.
enum class TokenDtype { U16, U32 };
inline int token_bytes(TokenDtype d) { return d == TokenDtype::U16 ? 2 : 4; }
inline const char* name(TokenDtype d) { return d == TokenDtype::U16 ? "uint16" : "uint32"; }

// The id stored little-endian at p in `width` bytes (2 or 4).
inline uint32_t load_token(const uint8_t* p, int width) {
  uint32_t v = uint32_t{p[0]} | uint32_t{p[1]} << 8;
  return width == 2 ? v : v | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

inline constexpr int32_t kLlmcShardMagic = 20240520;
inline constexpr int32_t kLlmcVersion = 1;
inline constexpr uint64_t kLlmcHeaderBytes = 256 * 4;

struct TokenLayout {
  bool llmc = false;    // an llm.c shard (else raw tokens)
  uint64_t offset = 0;  // the first token's byte
  uint64_t count = 0;   // tokens
  TokenDtype dtype = TokenDtype::U16;
};

// The layout of a token file of `size` bytes whose first bytes are `head` (at least the header's 1024 when
// the file has them): an llm.c shard when it starts with the magic, else raw tokens of `raw_dtype`. A wrong
// version, a size that does not match the header, or a byte count that is no whole number of tokens is a
// qkv::Error naming `name`.
TokenLayout token_layout(std::span<const uint8_t> head, uint64_t size, TokenDtype raw_dtype, const std::string& name);

// Tokens [begin, begin + count) of a file laid out as `layout` whose bytes are `bytes` (the whole file), as
// int32 into out. An id at or above `vocab` is a qkv::Error naming `name`, the id and its token offset.
void read_tokens(const uint8_t* bytes, const TokenLayout& layout, uint64_t begin, uint64_t count, int64_t vocab,
                 int32_t* out, const std::string& name);

// Whether a data path names token files rather than text: it ends in ".bin" (a glob of shards too).
bool is_token_path(const std::string& path);

}  // namespace qkv
