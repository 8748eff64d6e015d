// Pre-tokenization for byte-level BPE: the pieces of text that merges may not cross.
#pragma once

#include <cstdint>
#include <string_view>

namespace qkv {

// NOTE [pre-tokens]: roughly GPT-2's split, without regular expressions. A pre-token is a maximal run of
// one class: letters (ASCII letters and every byte >= 0x80, so UTF-8 letters stay together), digits,
// whitespace, or other symbols. A single space right before a letter run joins it (" the"), so a run
// of spaces before a word keeps all but its last space. Runs are cut every kMaxPretoken bytes, which
// bounds the work per pre-token in training and encoding on text without spaces.
class Pretokens {
 public:
  static constexpr uint64_t kMaxPretoken = 128;

  explicit Pretokens(std::string_view text) : text_(text) {}
  // The next pre-token, or false at the end of the text.
  bool next(std::string_view& piece);

 private:
  std::string_view text_;
  uint64_t pos_ = 0;
};

}  // namespace qkv
