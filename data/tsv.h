// Two-column TSV lines (label<TAB>text, source<TAB>target) with errors naming the file and line.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace qkv {

struct TsvRow {
  std::string_view left, right;  // views into the parsed text
  int64_t line;                  // 1-based
};

// Splits each line at its first tab (later tabs belong to the right column). Blank lines are skipped and
// a trailing '\r' is dropped. A line without a tab, or with an empty column, is an error naming `source`,
// the line and the column (`left_name`, `right_name`: "label", "text"). The text must be valid UTF-8.
std::vector<TsvRow> parse_tsv(std::string_view text, std::string_view source, const char* left_name,
                              const char* right_name);

}  // namespace qkv
