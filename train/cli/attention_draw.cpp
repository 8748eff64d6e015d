#include "train/cli/attention_draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "train/cli/svg.h"

namespace qkv::cli {
namespace {

// Whitespace tokens would be invisible labels; these stand-ins keep them readable. Bytes of a split UTF-8
// character stay as they are and become '?' in xml_escape.
std::string visible(const std::string& token) {
  std::string out;
  for (char ch : token) {
    if (ch == ' ')
      out += "\u2423";  // open box
    else if (ch == '\n')
      out += "\u21b5";  // return arrow
    else if (ch == '\t')
      out += "\u21e5";  // tab arrow
    else
      out += ch;
  }
  return out;
}

// The ends and middle of ColorBrewer's Blues; the legends draw the same stops as gradients.
constexpr int kStops[3][3] = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};

}  // namespace

const char* const kMaskedMeaning =
    "masked: a key this query may not see (a later token, or one outside the local window): weight 0 by "
    "construction";

std::string label(const std::string& token) { return xml_escape(visible(token)); }

std::string weight_text(float w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(w));
  return buf;
}

std::string colour(float w) {
  double t = std::isfinite(w) ? std::clamp(static_cast<double>(w), 0.0, 1.0) * 2.0 : 0.0;
  int i = t >= 1.0 ? 1 : 0;
  double f = t - i;
  char buf[8];
  int c[3];
  for (int k = 0; k < 3; ++k)
    c[k] = static_cast<int>(std::lround(kStops[i][k] + f * (kStops[i + 1][k] - kStops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

std::string cell_title(const AttentionMap& m, size_t q, size_t k, const std::string& w) {
  return label(m.queries[q]) + " (" + std::to_string(q) + ") \u2192 " + label(m.keys[k]) + " (" + std::to_string(k) +
         "): " + (m.is_masked(q, k) ? "masked" : w);
}

std::string describe(const std::string& kind) {
  if (kind == "cross") return "cross-attention (target queries, source keys)";
  if (kind == "decoder-self") return "decoder self-attention";
  return "self-attention";
}

std::string data_attributes(const AttentionMap& m) {
  return " data-kind=\"" + m.kind + "\" data-layer=\"" + std::to_string(m.layer) + "\" data-head=\"" +
         std::to_string(m.head) + "\"";
}

}  // namespace qkv::cli
