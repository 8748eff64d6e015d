#include "train/cli/attention.h"

#include <cstdio>
#include <vector>

#include "core/archive.h"
#include "core/error.h"
#include "train/cli/attention_map.h"
#include "train/cli/attention_page.h"
#include "train/cli/attention_svg.h"
#include "train/cli/commands.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void check_index(const char* what, int64_t value, int64_t count) {
  QKV_CHECK(value >= 0 && value < count, "attention: --", what, " ", value, " is out of range: the model has ", what,
            "s 0 to ", count - 1);
}

std::vector<AttentionMap> select_maps(const std::vector<AttentionMap>& maps, const AttentionArgs& a) {
  std::string kind = a.kind.empty() && a.svg ? maps.front().kind : a.kind;
  std::optional<int64_t> layer = a.svg ? a.layer.value_or(0) : a.layer;
  std::optional<int64_t> head = a.svg ? a.head.value_or(0) : a.head;
  std::vector<AttentionMap> out;
  std::string kinds;  // for the message: the kinds there are, in order
  for (size_t i = 0; i < maps.size(); ++i) {
    const AttentionMap& m = maps[i];
    if (i == 0 || maps[i - 1].kind != m.kind) kinds += m.kind + " ";
    if ((kind.empty() || m.kind == kind) && (!layer || m.layer == *layer) && (!head || m.head == *head))
      out.push_back(m);
  }
  QKV_CHECK(!out.empty(), "attention: no ", kind, " maps from this model and input; it gives: ", kinds,
            "(cross and decoder-self need a seq2seq checkpoint and --target)");
  return out;
}

}  // namespace

void cmd_attention(const AttentionArgs& a) {
  QKV_CHECK(a.kind.empty() || a.kind == "self" || a.kind == "decoder-self" || a.kind == "cross",
            "attention: --kind must be self, decoder-self or cross, got '", a.kind, "'");
  LoadedCheckpoint c = load_model(a.ckpt);
  if (a.layer) check_index("layer", *a.layer, c.config.model.n_layer);
  if (a.head) check_index("head", *a.head, c.config.model.n_head);
  std::vector<AttentionMap> maps = select_maps(attention_maps(c.model, *c.tokenizer, a.text, a.target), a);
  std::string title = a.ckpt + ": \"" + a.text + "\"" + (a.target.empty() ? "" : " \u2192 \"" + a.target + "\"");
  write_file_atomic(a.out, a.svg ? attention_svg(maps.front(), title) : attention_html(maps, title));
  std::printf("wrote %s (%zu map%s)\n", a.out.c_str(), maps.size(), maps.size() == 1 ? "" : "s");
}

void add_attention(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<AttentionArgs>();
  CLI::App* cmd =
      app.add_subcommand("attention", "draw a checkpoint's attention over a text as heatmaps (HTML or SVG)");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--text", a->text, "the text (seq2seq: the source)")->required();
  cmd->add_option("--target", a->target, "seq2seq: a target, adding the decoder's self- and cross-attention");
  cmd->add_option("--layer", a->layer, "only this layer, from 0 (default: every layer; --svg: 0)");
  cmd->add_option("--head", a->head, "only this head, from 0 (default: every head; --svg: 0)");
  cmd->add_option("--kind", a->kind, "only self, decoder-self or cross maps (--svg default: the first kind)");
  cmd->add_flag("--svg", a->svg, "write one head as a standalone SVG instead of the HTML page");
  cmd->add_option("--out", a->out, "HTML (or SVG) file to write")->required();
  ctx.on(cmd, [a] {
    cmd_attention(*a);
    return 0;
  });
}

}  // namespace qkv::cli
