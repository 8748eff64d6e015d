#include "data/utf8.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace qkv {

int utf8_decode(std::string_view text, uint64_t offset, uint32_t* code_point) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + offset;
  const uint64_t left = text.size() - offset;
  const unsigned char b0 = s[0];
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  }
  // The lead byte gives the length and the smallest code point that length may encode (which rules out
  // overlong forms); continuation bytes are 10xxxxxx.
  int n;
  uint32_t cp, min_cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1F, min_cp = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0F, min_cp = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07, min_cp = 0x10000;
  } else {
    return 0;
  }
  if (left < static_cast<uint64_t>(n)) return 0;
  for (int i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return n;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// The length of the sequence lead byte b0 starts (0: it starts none), and the range its second byte must be
// in: the narrower ranges after E0, ED, F0 and F4 rule out overlong forms, surrogates and > U+10FFFF.
struct Lead {
  int length;
  unsigned char low, high;
};
Lead lead_of(unsigned char b0) {
  if (b0 >= 0xC2 && b0 <= 0xDF) return {2, 0x80, 0xBF};
  if (b0 == 0xE0) return {3, 0xA0, 0xBF};
  if (b0 == 0xED) return {3, 0x80, 0x9F};
  if (b0 >= 0xE1 && b0 <= 0xEF) return {3, 0x80, 0xBF};
  if (b0 == 0xF0) return {4, 0x90, 0xBF};
  if (b0 >= 0xF1 && b0 <= 0xF3) return {4, 0x80, 0xBF};
  if (b0 == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Appends the valid text of `bytes` to `out`; returns where an unfinished character starts (bytes.size()
// when none), unless `at_end`, where that too becomes U+FFFD.
size_t convert(std::string_view bytes, std::string& out, bool at_end) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) {
    if (s[i] < 0x80) {
      out += static_cast<char>(s[i++]);
      continue;
    }
    const Lead lead = lead_of(s[i]);
    if (lead.length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t j = 1;  // bytes of the sequence that fit so far
    for (; j < static_cast<size_t>(lead.length) && i + j < bytes.size(); ++j) {
      const unsigned char low = j == 1 ? lead.low : 0x80, high = j == 1 ? lead.high : 0xBF;
      if (s[i + j] < low || s[i + j] > high) break;
    }
    if (j == static_cast<size_t>(lead.length)) {
      out.append(bytes.substr(i, j));
    } else if (i + j == bytes.size() && !at_end) {
      return i;  // a character the next piece may complete
    } else {
      out += kReplacement;  // the maximal subpart; the byte that broke it starts afresh
    }
    i += j;
  }
  return bytes.size();
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
  held_.append(bytes);
  std::string out;
  size_t used = convert(held_, out, false);
  held_.erase(0, used);
  return out;
}

std::string Utf8Stream::finish() {
  std::string out;
  convert(held_, out, true);
  held_.clear();
  return out;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  convert(bytes, out, true);
  return out;
}

int64_t line_of_offset(std::string_view text, uint64_t offset) {
  offset = std::min<uint64_t>(offset, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

void check_utf8(std::string_view text, std::string_view source) {
  uint64_t i = 0;
  const uint64_t n = text.size();
  while (i < n) {
    // ASCII fast path: most corpora are mostly ASCII.
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    int len = utf8_decode(text, i, &cp);
    QKV_CHECK(len > 0, source, ": invalid UTF-8 at byte offset ", i, " (line ", line_of_offset(text, i), "): byte ",
              describe_byte(static_cast<unsigned char>(text[i])),
              " does not start a well-formed sequence; expected UTF-8 text");
    i += static_cast<uint64_t>(len);
  }
}

std::string describe_byte(unsigned char byte) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(byte));
  return hex;
}

std::string describe_code_point(uint32_t cp) {
  std::string shown;
  switch (cp) {
    case '\n':
      shown = "\\n";
      break;
    case '\t':
      shown = "\\t";
      break;
    case '\r':
      shown = "\\r";
      break;
    case '\'':
      shown = "\\'";
      break;
    case '\\':
      shown = "\\\\";
      break;
    default:
      // Control characters (C0, DEL, C1) and non-characters would garble a terminal: show only the number.
      if (cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0) && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF))
        utf8_append(shown, cp);
  }
  char num[16];
  std::snprintf(num, sizeof num, "U+%04X", static_cast<unsigned>(cp));
  if (shown.empty()) return num;
  return "'" + shown + "' (" + num + ")";
}

}  // namespace qkv
