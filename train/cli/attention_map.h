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
  std::vector<uint8_t> masked;             // as weights: 1 where the query may not see the key; empty: none

  bool is_masked(size_t q, size_t k) const { return !masked.empty() && masked[q * keys.size() + k] != 0; }
};

// One map per head from each layer's weights [1, NH, Tq, Tk] (layers in order).
std::vector<AttentionMap> split_heads(const std::vector<Tensor>& layers, const std::string& kind,
                                      const std::vector<std::string>& queries, const std::vector<std::string>& keys);

// Marks the cells a query may not see: keys after it (causal) and keys `window` or more positions away (> 0:
// local attention), with queries and keys at the same positions.
void mark_masked(AttentionMap& map, bool causal, int64_t window);

// Puts the model in eval mode and runs it without gradients over `text`: every layer's and head's maps. A GPT
// or Encoder gives its self-attention (an encoder classifier sees CLS first, as in training); a Seq2Seq its
// encoder's over `text` as the source, and with a `target` the decoder's self- and cross-attention, teacher
// forced on BOS + target. A text (or BOS + target) longer than block_size is a qkv::Error naming both lengths.
// Causal and local self-attention maps mark their masked cells.
std::vector<AttentionMap> attention_maps(AnyModel& model, const Tokenizer& tokenizer, const std::string& text,
                                         const std::string& target = "");

}  // namespace qkv::cli
