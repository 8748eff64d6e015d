#include "train/cli/attention_svg.h"

#include <algorithm>
#include <sstream>

#include "train/cli/attention_draw.h"
#include "train/cli/svg.h"

namespace qkv::cli {
namespace {

constexpr int kCell = 16, kChar = 7, kPad = 8;

// Characters, not bytes: UTF-8 lead bytes. Labels are monospace, so this gives their width.
int chars(const std::string& s) {
  return static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Where the parts of one map go: row labels left of the grid, column labels above it, the scale below.
struct SvgLayout {
  int left = 0, top = 0, width = 0, height = 0, legend_y = 0;
  int x(size_t key) const { return left + static_cast<int>(key) * kCell; }
  int y(size_t query) const { return top + static_cast<int>(query) * kCell; }
};

SvgLayout svg_layout(const AttentionMap& m, const std::string& heading) {
  int query_w = 0, key_h = 0;
  for (const std::string& q : m.queries) query_w = std::max(query_w, chars(label(q)) * kChar);
  for (const std::string& k : m.keys) key_h = std::max(key_h, chars(label(k)) * kChar);
  SvgLayout at;
  at.left = kPad + query_w + kPad;
  at.top = 28 + key_h + kPad;
  at.legend_y = at.y(m.queries.size()) + 16;
  const int heading_w = kPad + chars(heading) * 8;  // sans-serif at 13px: a generous 8px a character
  at.width = std::max({at.x(m.keys.size()) + kPad, heading_w, m.masked.empty() ? 320 : 520});
  at.height = at.legend_y + 34;
  return at;
}

// The scale, and a hatched swatch for masked cells when the map has them (a path, so that the rects stay
// one per cell plus the background and the scale).
void svg_legend(std::ostringstream& o, int y, bool masked) {
  o << "<defs><linearGradient id=\"scale\"><stop offset=\"0\" stop-color=\"" << colour(0.0f)
    << "\"/><stop offset=\"0.5\" stop-color=\"" << colour(0.5f) << "\"/><stop offset=\"1\" stop-color=\""
    << colour(1.0f) << "\"/></linearGradient>"
    << "<pattern id=\"masked\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><path d=\"M0 0H4V4H0Z\" fill=\"#f2f2f2\"/><path d=\"M0 0V4\" "
       "stroke=\"#a0a0a0\" stroke-width=\"1.5\"/></pattern></defs>\n<text x=\""
    << kPad << "\" y=\"" << y + 11 << "\">weight 0</text>\n<rect x=\"" << kPad + 64 << "\" y=\"" << y
    << "\" width=\"200\" height=\"12\" fill=\"url(#scale)\" stroke=\"#999\"/>\n<text x=\"" << kPad + 272 << "\" y=\""
    << y + 11 << "\">1</text>\n";
  if (masked)
    o << "<path d=\"M" << kPad + 300 << " " << y << "h12v12h-12Z\" fill=\"url(#masked)\" stroke=\"#999\"/>\n<text x=\""
      << kPad + 318 << "\" y=\"" << y + 11 << "\">masked (cannot be seen)</text>\n";
}

}  // namespace

std::string attention_svg(const AttentionMap& m, const std::string& title) {
  const std::string heading = xml_escape(title) + " \u2014 layer " + std::to_string(m.layer) + ", head " +
                              std::to_string(m.head) + ", " + describe(m.kind);
  const SvgLayout at = svg_layout(m, heading);
  const size_t nk = m.keys.size();
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << at.width << "\" height=\"" << at.height
    << "\" viewBox=\"0 0 " << at.width << " " << at.height << "\" font-family=\"monospace\" font-size=\"11\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
    << "<text x=\"" << kPad << "\" y=\"18\" font-family=\"sans-serif\" font-size=\"13\">" << heading << "</text>\n";
  for (size_t k = 0; k < nk; ++k)  // keys across, read bottom to top
    o << "<text transform=\"translate(" << at.x(k) + kCell / 2 + 4 << "," << at.top - 4 << ") rotate(-90)\">"
      << label(m.keys[k]) << "</text>\n";
  o << "<g class=\"map\"" << data_attributes(m) << ">\n";
  for (size_t q = 0; q < m.queries.size(); ++q) {
    o << "<text x=\"" << at.left - 4 << "\" y=\"" << at.y(q) + 12 << "\" text-anchor=\"end\">" << label(m.queries[q])
      << "</text>\n";
    for (size_t k = 0; k < nk; ++k) {
      float w = m.weights[q * nk + k];
      std::string text = weight_text(w);
      o << "<rect x=\"" << at.x(k) << "\" y=\"" << at.y(q) << "\" width=\"" << kCell - 1 << "\" height=\"" << kCell - 1
        << "\" fill=\"" << (m.is_masked(q, k) ? "url(#masked)" : colour(w)) << "\" data-w=\"" << text << "\"><title>"
        << cell_title(m, q, k, text) << "</title></rect>\n";
    }
  }
  o << "</g>\n";
  svg_legend(o, at.legend_y, !m.masked.empty());
  o << "</svg>\n";
  return o.str();
}

}  // namespace qkv::cli
