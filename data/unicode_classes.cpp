#include "data/unicode_classes.h"

#include <algorithm>
#include <iterator>

#include "data/unicode_class_ranges.h"

namespace qkv {

CharClass unicode_class(uint32_t cp) {
  // The last range start at or below cp; entries sort by code point since the class sits in the low bits.
  const uint32_t key = (cp << 2) | 3u;
  const uint32_t* it = std::upper_bound(std::begin(kUnicodeClassStarts), std::end(kUnicodeClassStarts), key);
  return static_cast<CharClass>(*(it - 1) & 3u);
}

const char* unicode_tables_version() { return kUnicodeVersion; }

}  // namespace qkv
