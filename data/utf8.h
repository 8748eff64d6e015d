// UTF-8 decoding for the tokenizers and corpus checks: one code point at a time, with exact byte offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qkv {

// The length in bytes (1 to 4) of the well-formed UTF-8 sequence at text[offset], storing its code point;
// 0 when the bytes there are not well-formed (overlong forms, surrogates, > U+10FFFF and truncated
// sequences included, as RFC 3629 defines it). `offset` must be < text.size().
int utf8_decode(std::string_view text, uint64_t offset, uint32_t* code_point);

// Appends the UTF-8 encoding of a valid code point.
void utf8_append(std::string& out, uint32_t code_point);

// Throws qkv::Error naming `source`, the byte offset, the line and the offending byte of the first
// ill-formed sequence in `text`.
void check_utf8(std::string_view text, std::string_view source);

// Turns bytes that arrive in pieces cut anywhere (one token's bytes at a time: a byte-level BPE may split an
// emoji or a CJK character over two tokens) into valid UTF-8. The bytes of a character not yet complete are
// held until the piece that completes it; bytes that cannot become a character are written as U+FFFD, one for
// each maximal ill-formed subsequence, as the Unicode standard recommends for conversion.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);  // the text these bytes complete
  std::string finish();                      // the end: held bytes of an unfinished character become U+FFFD

 private:
  std::string held_;
};

// All of `bytes` as valid UTF-8, with U+FFFD for what cannot be decoded.
std::string valid_utf8(std::string_view bytes);

// A character for an error message: 'a' (U+0061), '\n' (U+000A), 'é' (U+00E9).
std::string describe_code_point(uint32_t code_point);

// A byte for an error message: 0xFF.
std::string describe_byte(unsigned char byte);

// The 1-based line holding byte `offset` of `text`.
int64_t line_of_offset(std::string_view text, uint64_t offset);

}  // namespace qkv
