// `qkv attention`: a checkpoint's attention over one text, drawn as heatmaps in an HTML page or one SVG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace qkv::cli {

struct AttentionArgs {
  std::string ckpt, text, target, out;
  std::optional<int64_t> layer, head;  // none: every layer or head (--svg: 0)
  std::string kind;                    // "": every kind (--svg: the first one)
  bool svg = false;
};

// The subcommand: loads the checkpoint, checks the selection against the model (a bad layer, head or kind
// is a qkv::Error naming it and what exists), writes the page (or SVG) atomically, prints "wrote OUT ...".
void cmd_attention(const AttentionArgs& a);

}  // namespace qkv::cli
