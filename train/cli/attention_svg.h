// One attention map (one layer and head) as a standalone SVG.
#pragma once

#include <string>

#include "train/cli/attention_map.h"

namespace qkv::cli {

// A <rect> per cell with its weight in data-w (hatched where masked), labels as <text>, the scale below.
std::string attention_svg(const AttentionMap& map, const std::string& title);

}  // namespace qkv::cli
