// The class of a code point as GPT-2's pre-tokenizer pattern sees it: letter (\p{L}), number (\p{N}), white
// space (\s) or other, from the generated tables of data/unicode_class_ranges.h.
#pragma once

#include <cstdint>

namespace qkv {

enum class CharClass : uint8_t { Other = 0, Letter = 1, Number = 2, Space = 3 };

// \s is the White_Space property, as in the regex engines of tiktoken (Rust's regex) and Python's `regex`;
// Python's str.isspace() differs (it also counts U+001C..U+001F). Unassigned code points are Other.
CharClass unicode_class(uint32_t code_point);

// The Unicode version the tables were made from ("15.0.0").
const char* unicode_tables_version();

}  // namespace qkv
