// Writing SVG by hand, shared by `qkv plot` and `qkv attention`: escaped text and exact, locale-free numbers, so
// the same input always gives the same bytes.
#pragma once

#include <string>
#include <string_view>

namespace qkv::cli {

// Text made safe for XML: & < > " ' as entities, control characters and bytes that are not UTF-8 as '?'.
std::string xml_escape(std::string_view text);

// An SVG coordinate with at most two decimals ("12.5", "300", "-0.07"), clamped to +-1e7.
std::string svg_number(double v);

// An SVG body built element by element.
class Svg {
 public:
  std::string out;
  void line(double x1, double y1, double x2, double y2, const std::string& attrs);
  void text(double x, double y, const std::string& s, const std::string& attrs);  // s is escaped here
  void circle(double x, double y, const std::string& colour);                     // a 3px point marker
};

}  // namespace qkv::cli
