#include "train/cli/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace qkv::cli {
namespace {

// The length of the well-formed UTF-8 sequence at s[i] that XML allows, or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
  unsigned c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    // E0 needs A0.. (no overlong forms); ED stops at 9F (no surrogates); U+FFFE and U+FFFF are not XML characters.
    bool ok = cont(1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && cont(2);
    bool nonchar = c == 0xEF && byte(1) == 0xBF && byte(2) >= 0xBE;
    return ok && !nonchar ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4)
    return cont(1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t n = utf8_length(text, i);
      out += n ? std::string(text.substr(i, n)) : "?";
      i += n ? n : 1;
      continue;
    }
    ++i;
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else if (c == '\'')
      out += "&apos;";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += '?';  // XML 1.0 has no escape for most control characters
    else
      out += c;
  }
  return out;
}

std::string svg_number(double v) {
  long long c = std::llround(std::clamp(v, -1e7, 1e7) * 100);
  std::string s = c < 0 ? "-" : "";
  c = std::llabs(c);
  s += std::to_string(c / 100);
  if (c % 100 != 0) {
    s += '.';
    s += static_cast<char>('0' + c % 100 / 10);
    if (c % 10 != 0) s += static_cast<char>('0' + c % 10);
  }
  return s;
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  out += "<line x1=\"" + svg_number(x1) + "\" y1=\"" + svg_number(y1) + "\" x2=\"" + svg_number(x2) + "\" y2=\"" +
         svg_number(y2) + "\" " + attrs + "/>\n";
}

void Svg::text(double x, double y, const std::string& s, const std::string& attrs) {
  out += "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" " + attrs + ">" + xml_escape(s) + "</text>\n";
}

void Svg::circle(double x, double y, const std::string& colour) {
  out += "<circle cx=\"" + svg_number(x) + "\" cy=\"" + svg_number(y) + "\" r=\"3\" fill=\"" + colour +
         "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
}

}  // namespace qkv::cli
