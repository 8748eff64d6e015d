// What the attention page and the attention SVG draw alike: the colour scale, labels, weights and titles.
#pragma once

#include <cstddef>
#include <string>

#include "train/cli/attention_map.h"

namespace qkv::cli {

// A token as a label: whitespace as visible stand-ins (space, newline, tab), escaped for HTML and XML.
std::string label(const std::string& token);

// Six significant digits: enough to check a page against the model to 1e-5, short enough for big pages.
std::string weight_text(float w);

// White to navy (the ends and middle of ColorBrewer's Blues): zero is white; weights outside [0, 1] clamp.
std::string colour(float w);

// "bank (3) → the (0): 0.25", the hover text of a cell; masked cells say so.
std::string cell_title(const AttentionMap& m, size_t q, size_t k, const std::string& w);

// "self-attention", "decoder self-attention", "cross-attention (target queries, source keys)"
std::string describe(const std::string& kind);

// ` data-kind="self" data-layer="0" data-head="1"`: where a table or group says which map it is.
std::string data_attributes(const AttentionMap& m);

// What a masked cell means, for the legends.
extern const char* const kMaskedMeaning;

}  // namespace qkv::cli
