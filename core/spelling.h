// Suggestions for a misspelt name: the closest of the valid ones, for "did you mean ...?" in error messages.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace qkv {

// The Levenshtein distance: insertions, deletions and substitutions of one character.
size_t edit_distance(const std::string& a, const std::string& b);

// The name in `names` closest to `wrong` (the first of equals); "" when `names` is empty.
std::string closest(const std::string& wrong, const std::vector<std::string>& names);

}  // namespace qkv
