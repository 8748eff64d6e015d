// `qkv attention`: a model's attention weights over one text, drawn as heatmaps in a standalone HTML page or SVG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace qkv {
class AnyModel;
class Tokenizer;
}  // namespace qkv

namespace qkv::cli {

// One head of one layer: row i is what query token i attends to over the keys, so each row sums to 1.
struct AttentionMap {
  std::string kind;  // "self" (GPT, Encoder, the seq2seq encoder), "decoder-self" or "cross"
  int64_t layer = 0, head = 0;
  std::vector<std::string> queries, keys;  // the tokens' strings as the tokenizer holds them
  std::vector<float> weights;              // [queries.size(), keys.size()], row-major
};

// One map per head from each layer's weights [1, NH, Tq, Tk] (layers in order).
std::vector<AttentionMap> split_heads(const std::vector<Tensor>& layers, const std::string& kind,
                                      const std::vector<std::string>& queries, const std::vector<std::string>& keys);

// Puts the model in eval mode and runs it without gradients over `text`: every layer's and head's maps. A GPT
// or Encoder gives its self-attention (an encoder classifier sees CLS first, as in training); a Seq2Seq its
// encoder's over `text` as the source, and with a `target` the decoder's self- and cross-attention, teacher
// forced on BOS + target. A text (or BOS + target) longer than block_size is a qkv::Error naming both lengths.
std::vector<AttentionMap> attention_maps(AnyModel& model, const Tokenizer& tokenizer, const std::string& text,
                                         const std::string& target = "");

// The page: a heading, a colour scale from 0 to 1, and one table per map grouped by kind and layer. Every
// cell carries data-w (its weight, 6 significant digits) and a title; every table data-kind, data-layer and
// data-head. Same maps, same bytes.
std::string attention_html(const std::vector<AttentionMap>& maps, const std::string& title);

// One map as an SVG: a <rect> per cell with the same data-w, labels as <text>, the scale below.
std::string attention_svg(const AttentionMap& map, const std::string& title);

}  // namespace qkv::cli
