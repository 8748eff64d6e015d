#include "train/cli/attention_page.h"

#include <algorithm>
#include <sstream>

#include "train/cli/attention_draw.h"
#include "train/cli/svg.h"

namespace qkv::cli {
namespace {

constexpr int kMargin = 24, kGap = 20, kCharWidth = 7;  // body margin, space between maps, px of a label character

// Characters, not bytes.
size_t chars(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// The longest label a map's rows carry, in characters as shown (whitespace stand-ins are one character).
size_t longest_label(const std::vector<AttentionMap>& maps) {
  size_t n = 1;
  for (const AttentionMap& m : maps)
    for (const std::string& q : m.queries) n = std::max(n, chars(q));
  return n;
}

const char* const kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:20px 0 8px}
.legend{display:flex;align-items:center;gap:8px;margin:12px 0;flex-wrap:wrap}
.bar{display:inline-block;width:240px;height:14px;border:1px solid #999;background:linear-gradient(to right,%STOPS%)}
.swatch{display:inline-block;width:14px;height:14px;border:1px solid #999;margin:0 4px 0 16px;vertical-align:-3px}
.m,.swatch{background:repeating-linear-gradient(45deg,#a0a0a0 0 1.5px,#f2f2f2 1.5px 4px)}
nav table{border-collapse:collapse;font-size:13px}nav th,nav td{padding:2px 8px;text-align:left}
nav th{font-weight:600}nav a{color:#08306b}
.layer{display:flex;flex-wrap:wrap;gap:%GAP%px;align-items:flex-start}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}figcaption a{font-weight:normal;font-size:12px;color:#777}
table.map{border-collapse:collapse;font:%FONT%px monospace}
.map td{width:%CELL%px;min-width:%CELL%px;height:%CELL%px;padding:0;border:1px solid #fff}
.map td:hover{outline:2px solid #d62728}
.map th{font-weight:normal;padding:0 3px;white-space:pre;line-height:1}
.map thead th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:3px 0}
.map tbody th{text-align:right}
)";

void replace(std::string& s, const std::string& what, const std::string& with) {
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + with.size()))
    s.replace(p, what.size(), with);
}

std::string style(const PageLayout& at) {
  std::string s = kStyle;
  replace(s, "%STOPS%", colour(0.0f) + "," + colour(0.5f) + "," + colour(1.0f));
  replace(s, "%GAP%", std::to_string(kGap));
  replace(s, "%FONT%", std::to_string(at.font));
  replace(s, "%CELL%", std::to_string(at.cell));
  return s;
}

void html_table(std::ostringstream& o, const AttentionMap& m) {
  o << "<figure id=\"" << map_id(m) << "\"><figcaption>head " << m.head
    << " <a href=\"#index\">index</a></figcaption>\n<table class=\"map\"" << data_attributes(m) << ">\n";
  o << "<thead><tr><th></th>";
  for (const std::string& k : m.keys) o << "<th>" << label(k) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  for (size_t q = 0; q < m.queries.size(); ++q) {
    o << "<tr><th>" << label(m.queries[q]) << "</th>";
    for (size_t k = 0; k < m.keys.size(); ++k) {
      float w = m.weights[q * m.keys.size() + k];
      std::string text = weight_text(w);
      o << "<td";
      if (m.is_masked(q, k))
        o << " class=\"m\"";
      else
        o << " style=\"background:" << colour(w) << "\"";
      o << " data-w=\"" << text << "\" title=\"" << cell_title(m, q, k, text) << "\"></td>";
    }
    o << "</tr>\n";
  }
  o << "</tbody></table></figure>\n";
}

// Rows of kind and layer, a column per head, each cell a link to its map.
void index(std::ostringstream& o, const std::vector<AttentionMap>& maps) {
  int64_t heads = 0;
  for (const AttentionMap& m : maps) heads = std::max(heads, m.head + 1);
  o << "<nav id=\"index\"><table>\n<tr><th>map</th>";
  for (int64_t h = 0; h < heads; ++h) o << "<th>head " << h << "</th>";
  o << "</tr>\n";
  for (size_t i = 0; i < maps.size(); ++i) {
    const AttentionMap& m = maps[i];
    if (i == 0 || maps[i - 1].kind != m.kind || maps[i - 1].layer != m.layer)
      o << "<tr><th>layer " << m.layer << ", " << describe(m.kind) << "</th>";
    o << "<td><a href=\"#" << map_id(m) << "\">" << m.head << "</a></td>";
    if (i + 1 == maps.size() || maps[i + 1].kind != m.kind || maps[i + 1].layer != m.layer) o << "</tr>\n";
  }
  o << "</table></nav>\n";
}

}  // namespace

std::string map_id(const AttentionMap& m) {
  return m.kind + "-l" + std::to_string(m.layer) + "-h" + std::to_string(m.head);
}

PageLayout page_layout(size_t keys, size_t label_chars, int heads, int width) {
  const int usable = width - 2 * kMargin;
  const int labels = static_cast<int>(label_chars) * kCharWidth + 8;
  const int n = static_cast<int>(std::max<size_t>(keys, 1));
  // Collapsed borders: each column is its cell and one px of white.
  auto cell_for = [&](int per_row) {
    return std::min(14, ((usable - (per_row - 1) * kGap) / per_row - labels) / n - 1);
  };
  PageLayout at;
  at.cell = std::clamp(cell_for(1), 4, 14);
  for (int per_row = std::clamp(heads, 2, 4); per_row >= 2; --per_row)
    if (cell_for(per_row) >= 7) {
      at.cell = cell_for(per_row);
      at.per_row = per_row;
      break;
    }
  at.font = std::clamp(at.cell, 7, 11);
  at.map_width = labels + n * (at.cell + 1);
  return at;
}

std::string attention_html(const std::vector<AttentionMap>& maps, const std::string& title) {
  size_t keys = 0;
  int64_t heads = 1;
  for (const AttentionMap& m : maps) keys = std::max(keys, m.keys.size()), heads = std::max(heads, m.head + 1);
  const PageLayout at = page_layout(keys, longest_label(maps), static_cast<int>(heads));
  bool any_masked = std::any_of(maps.begin(), maps.end(), [](const AttentionMap& m) { return !m.masked.empty(); });
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>qkv attention: "
    << xml_escape(title) << "</title>\n<style>\n"
    << style(at) << "</style>\n</head>\n<body>\n<h1>" << xml_escape(title) << "</h1>\n"
    << "<p>Each row is a query token, each column a key; a row's weights sum to 1. Hover over a cell for its "
       "weight. \u2423 is a space, \u21b5 a newline.</p>\n"
    << "<div class=\"legend\">weight 0 <span class=\"bar\"></span> 1";
  if (any_masked) o << "<span><span class=\"swatch\"></span> " << kMaskedMeaning << "</span>";
  o << "</div>\n";
  index(o, maps);
  for (size_t i = 0; i < maps.size(); ++i) {
    const AttentionMap& m = maps[i];
    bool first = i == 0 || maps[i - 1].kind != m.kind || maps[i - 1].layer != m.layer;
    if (first) o << "<section>\n<h2>layer " << m.layer << ": " << describe(m.kind) << "</h2>\n<div class=\"layer\">\n";
    html_table(o, m);
    bool last = i + 1 == maps.size() || maps[i + 1].kind != m.kind || maps[i + 1].layer != m.layer;
    if (last) o << "</div>\n</section>\n";
  }
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace qkv::cli
