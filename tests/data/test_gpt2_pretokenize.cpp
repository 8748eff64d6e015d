// GPT-2's pre-tokenizer by hand: each alternative of the pattern, the white-space look-ahead, Unicode classes,
// and the pieces it makes of bytes that are not UTF-8. Every expected split is what the regex gives.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data/gpt2_pretokenize.h"

using namespace qkv;

namespace {

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  Gpt2Pretokens pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) out.emplace_back(piece);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("gpt2 pre-tokens: words, numbers, punctuation, and the space that joins what follows it") {
  CHECK(split("").empty());
  CHECK(split("Hello world") == V{"Hello", " world"});
  CHECK(split("x 123 4567 3.14") == V{"x", " 123", " 4567", " 3", ".", "14"});
  CHECK(split("hello!!! ...?") == V{"hello", "!!!", " ...?"});
  CHECK(split("a1b2") == V{"a", "1", "b", "2"});
  CHECK(split("f(x) = y_1;") == V{"f", "(", "x", ")", " =", " y", "_", "1", ";"});
  CHECK(split(std::string(1000, 'a')) == V{std::string(1000, 'a')});  // no cap on a piece's length
}

TEST_CASE("gpt2 pre-tokens: contractions are lower-case and only where a piece starts") {
  CHECK(split("I'm he's they'll we've you're I'd don't") ==
        V{"I", "'m", " he", "'s", " they", "'ll", " we", "'ve", " you", "'re", " I", "'d", " don", "'t"});
  CHECK(split("IT'S") == V{"IT", "'", "S"});
  CHECK(split("x 's") == V{"x", " '", "s"});
  CHECK(split("!!'s") == V{"!!'", "s"});
  CHECK(split("'sa 'lll") == V{"'s", "a", " '", "lll"});
  CHECK(split("'") == V{"'"});
}

TEST_CASE("gpt2 pre-tokens: a white-space run gives its last character to the piece after it") {
  CHECK(split("a  b") == V{"a", " ", " b"});
  CHECK(split("a   \n\nb") == V{"a", "   \n", "\n", "b"});
  CHECK(split("a\tb") == V{"a", "\t", "b"});
  CHECK(split("a  ") == V{"a", "  "});
  CHECK(split(" \n ") == V{" \n "});
  CHECK(split("  !") == V{" ", " !"});
  CHECK(split("\n\n1") == V{"\n", "\n", "1"});
}

TEST_CASE("gpt2 pre-tokens: Unicode letters, numbers and spaces") {
  CHECK(split("\xC3\xA9 caf\xC3\xA9") == V{"\xC3\xA9", " caf\xC3\xA9"});
  CHECK(split("e\xCC\x81t\xC3\xA9") == V{"e", "\xCC\x81", "t\xC3\xA9"});  // a combining acute is no letter
  CHECK(split("\xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96") == V{"\xE4\xBD\xA0\xE5\xA5\xBD", " \xE4\xB8\x96"});
  CHECK(split("\xE2\x85\xAB \xC2\xB2") == V{"\xE2\x85\xAB", " \xC2\xB2"});  // Nl and No are numbers
  CHECK(split("a\xC2\xA0"
              "b") == V{"a", "\xC2\xA0", "b"});  // NBSP is no ' '
  CHECK(split("a\xE3\x80\x80\xE3\x80\x80"
              "b") == V{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"});
  CHECK(split("a \x1C"
              "b") == V{"a", " \x1C", "b"});  // U+001C is not White_Space
  CHECK(split("\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89 ok") == V{"\xF0\x9F\x8E\x89\xF0\x9F\x8E\x89", " ok"});
}

TEST_CASE("gpt2 pre-tokens: a byte that starts no UTF-8 sequence is a piece of its own") {
  CHECK(split("ab\xFF\xFE"
              "cd") == V{"ab", "\xFF", "\xFE", "cd"});
  CHECK(split(" \xFF") == V{" ", "\xFF"});
  CHECK(split("!!\xFF!!") == V{"!!", "\xFF", "!!"});
  CHECK(split("  \xFF") == V{" ", " ", "\xFF"});
  CHECK(split("x\xE4\xBD") == V{"x", "\xE4", "\xBD"});        // a cut-off character
  CHECK(split("\xED\xA0\x80") == V{"\xED", "\xA0", "\x80"});  // an encoded surrogate
}
