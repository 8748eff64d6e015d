// GPT-2's byte-to-unicode table: how its vocabulary files write each byte of a token as a printable character.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qkv {

// NOTE [gpt2 bytes]: GPT-2's files (encoder.json, vocab.bpe, and Hugging Face's vocab.json, merges.txt and
// byte-level tokenizer.json) spell a token's bytes as characters: the 188 bytes that are printable Latin-1
// other than the space ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves, and the other 68
// (0x00-0x20, 0x7F-0xA0, 0xAD), in byte order, are U+0100, U+0101, ... so the space is 'Ġ' (U+0120). This
// order is also the order of GPT-2's ids 0-255, which is why its id 0 is '!'.

// The bytes a UTF-8 key spells, or nothing when it holds a character outside the table.
std::optional<std::string> gpt2_key_bytes(std::string_view key);

// The key that spells `bytes` (the inverse, for tests and writers of such files).
std::string gpt2_bytes_key(std::string_view bytes);

}  // namespace qkv
