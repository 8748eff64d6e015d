#include "data/gpt2_pretokenize.h"

#include <array>

#include "data/unicode_classes.h"
#include "data/utf8.h"

namespace qkv {

namespace {

// A byte that does not start a well-formed UTF-8 sequence; never part of a run (NOTE [gpt2 pre-tokens]).
constexpr uint8_t kInvalid = 4;

constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> c{};
  for (int b = 0; b < 128; ++b) {
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) {
      c[b] = static_cast<uint8_t>(CharClass::Letter);
    } else if (b >= '0' && b <= '9') {
      c[b] = static_cast<uint8_t>(CharClass::Number);
    } else if (b == ' ' || (b >= '\t' && b <= '\r')) {
      c[b] = static_cast<uint8_t>(CharClass::Space);
    } else {
      c[b] = static_cast<uint8_t>(CharClass::Other);
    }
  }
  return c;
}
constexpr std::array<uint8_t, 128> kAsciiClasses = make_ascii_classes();

struct Char {
  uint8_t cls;
  uint8_t len;
};

Char char_at(std::string_view text, uint64_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  if (b < 0x80) return {kAsciiClasses[b], 1};
  uint32_t cp = 0;
  const int len = utf8_decode(text, i, &cp);
  if (len == 0) return {kInvalid, 1};
  return {static_cast<uint8_t>(unicode_class(cp)), static_cast<uint8_t>(len)};
}

constexpr auto kSpace = static_cast<uint8_t>(CharClass::Space);

// The length of the contraction ('s 't 're 've 'm 'll 'd) at text[i] == '\'', or 0.
uint64_t contraction(std::string_view text, uint64_t i) {
  const uint64_t left = text.size() - i;
  if (left >= 2) {
    const char c = text[i + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
  }
  if (left >= 3) {
    const std::string_view two = text.substr(i + 1, 2);
    if (two == "re" || two == "ve" || two == "ll") return 3;
  }
  return 0;
}

}  // namespace

bool Gpt2Pretokens::next(std::string_view& piece) {
  const uint64_t n = text_.size();
  const uint64_t start = pos_;
  if (start >= n) return false;
  uint64_t end = start;
  const Char first = char_at(text_, start);
  if (text_[start] == '\'' && (end = start + contraction(text_, start)) > start) {
    // 's|'t|'re|'ve|'m|'ll|'d
  } else if (first.cls == kInvalid) {
    end = start + 1;
  } else {
    // " ?X+" for the letter, number and other classes: an optional space, then a run of one class.
    uint64_t run = start;
    uint8_t cls = first.cls;
    if (text_[start] == ' ' && start + 1 < n) {
      const Char second = char_at(text_, start + 1);
      if (second.cls != kSpace && second.cls != kInvalid) run = start + 1, cls = second.cls;
    }
    if (cls != kSpace) {
      end = run;
      while (end < n) {
        const Char c = char_at(text_, end);
        if (c.cls != cls) break;
        end += c.len;
      }
    } else {
      // \s+(?!\S)|\s+ : the whole run when it ends the text or is one character; else all but its last
      // character, which is followed by a non-space.
      uint64_t last = start;
      end = start;
      while (end < n) {
        const Char c = char_at(text_, end);
        if (c.cls != kSpace) break;
        last = end;
        end += c.len;
      }
      if (end < n && last > start) end = last;
    }
  }
  piece = text_.substr(start, end - start);
  pos_ = end;
  return true;
}

}  // namespace qkv
