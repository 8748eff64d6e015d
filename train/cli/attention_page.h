// The attention page: every map of a model over one text in one standalone HTML file, with an index.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "train/cli/attention_map.h"

namespace qkv::cli {

// How big the maps are drawn so that several fit side by side on a laptop screen.
struct PageLayout {
  int cell = 14;      // px per cell, square
  int font = 11;      // px of the token labels: no taller than a cell, so column labels do not overlap
  int per_row = 1;    // maps side by side in a window `width` px wide
  int map_width = 0;  // px of one map with its row labels
};

// Maps of `keys` columns side by side in a window `width` px wide (the body's margins taken off): all the
// heads of a layer in one row when they fit (at most 4), else 3, else 2, with cells of at least 7 px and at
// most 14; one map a row, at 4 px or more, only when two cannot fit. `label_chars`: the longest row label in
// characters.
PageLayout page_layout(size_t keys, size_t label_chars, int heads, int width = 1280);

// The page: a heading, the legend (the colour scale, and the hatching of masked cells: keys the query may
// not see), an index of layer x head linking to each map, then one table per map grouped by kind and layer
// (each titled by its id, "self-l0-h1"). Every cell carries data-w (its weight, 6 significant digits) and a
// title; masked cells the class "m"; every table data-kind, data-layer and data-head. Same maps, same bytes.
std::string attention_html(const std::vector<AttentionMap>& maps, const std::string& title);

// The anchor of a map on the page: "self-l0-h1", "cross-l2-h0".
std::string map_id(const AttentionMap& m);

}  // namespace qkv::cli
