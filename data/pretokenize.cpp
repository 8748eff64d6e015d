#include "data/pretokenize.h"

#include <algorithm>
#include <array>

namespace qkv {

namespace {

enum CharClass : uint8_t { kLetter, kDigit, kSpace, kOther };

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80) {
      c[b] = kLetter;
    } else if (b >= '0' && b <= '9') {
      c[b] = kDigit;
    } else if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f') {
      c[b] = kSpace;
    } else {
      c[b] = kOther;
    }
  }
  return c;
}
constexpr std::array<uint8_t, 256> kClasses = make_classes();

uint8_t class_of(char c) { return kClasses[static_cast<unsigned char>(c)]; }

}  // namespace

bool Pretokens::next(std::string_view& piece) {
  const uint64_t n = text_.size();
  if (pos_ >= n) return false;
  const uint64_t start = pos_;
  const uint64_t limit = std::min(n, start + kMaxPretoken);
  uint8_t cls = class_of(text_[start]);
  uint64_t end = start + 1;
  if (text_[start] == ' ' && end < n && class_of(text_[end]) == kLetter) cls = kLetter;  // " word"
  while (end < limit && class_of(text_[end]) == cls) ++end;
  // Leave the last space of a whitespace run for the word that follows it.
  if (cls == kSpace && end < n && end - start > 1 && text_[end - 1] == ' ' && class_of(text_[end]) == kLetter) --end;
  piece = text_.substr(start, end - start);
  pos_ = end;
  return true;
}

}  // namespace qkv
