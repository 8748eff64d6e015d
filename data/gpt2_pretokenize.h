// GPT-2's pre-tokenizer, exactly, without a regex library: the pieces of text that its merges may not cross.
#pragma once

#include <cstdint>
#include <string_view>

namespace qkv {

// NOTE [gpt2 pre-tokens]: the pieces GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// finds, matched by hand: at each position the first alternative that matches, each as long as it can be.
// The classes are Unicode's (data/unicode_classes.h). The contractions are case-sensitive, as in GPT-2. A run
// of white space followed by more text gives back its last character, which then starts the next piece
// (" word" or a lone "\n"). Nothing bounds a piece's length: a cut would change the ids.
// Text that is not UTF-8 (GPT-2 and tiktoken take only Unicode strings): each byte that does not start a
// well-formed sequence is a piece of its own, and counts as a non-space character that is neither letter nor
// number for its neighbours; it encodes to its byte token, so decoding gives back the same bytes.
class Gpt2Pretokens {
 public:
  explicit Gpt2Pretokens(std::string_view text) : text_(text) {}
  // The next pre-token, or false at the end of the text.
  bool next(std::string_view& piece);

 private:
  std::string_view text_;
  uint64_t pos_ = 0;
};

}  // namespace qkv
