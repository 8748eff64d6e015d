#include "core/spelling.h"

#include <algorithm>

namespace qkv {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest(const std::string& wrong, const std::vector<std::string>& names) {
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const std::string& n : names) {
    size_t d = edit_distance(wrong, n);
    if (!best || d < best_distance) best = &n, best_distance = d;
  }
  return best ? *best : "";
}

}  // namespace qkv
