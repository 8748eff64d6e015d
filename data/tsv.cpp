#include "data/tsv.h"

#include "core/error.h"
#include "data/utf8.h"

namespace qkv {

std::vector<TsvRow> parse_tsv(std::string_view text, std::string_view source, const char* left_name,
                              const char* right_name) {
  check_utf8(text, source);
  std::vector<TsvRow> rows;
  int64_t line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view row = text.substr(start, end - start);
    start = end + 1;
    ++line;
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (row.empty()) continue;
    const size_t tab = row.find('\t');
    QKV_CHECK(tab != std::string_view::npos, source, ":", line, ": no tab; expected ", left_name, "<TAB>", right_name);
    TsvRow r{row.substr(0, tab), row.substr(tab + 1), line};
    QKV_CHECK(!r.left.empty(), source, ":", line, ": empty ", left_name, " before the tab");
    QKV_CHECK(!r.right.empty(), source, ":", line, ": empty ", right_name, " after the tab");
    rows.push_back(r);
  }
  QKV_CHECK(!rows.empty(), source, ": no ", left_name, "<TAB>", right_name, " lines");
  return rows;
}

}  // namespace qkv
