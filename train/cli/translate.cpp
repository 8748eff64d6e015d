// `qkv translate`: a seq2seq checkpoint translates stdin line by line (greedy or beam search).
#include <cstdio>
#include <iostream>
#include <string>

#include "data/utf8.h"
#include "nn/generate.h"
#include "train/cli/commands.h"
#include "train/cli/precision_option.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void cmd_translate(const std::string& ckpt, int64_t beam, const std::string& precision, std::istream& in) {
  LoadedCheckpoint c = load_model(ckpt, ModelKind::Seq2Seq, "translate");
  use_precision(precision, c.config.train.precision);
  DecodeOptions o;
  o.beam = beam;
  o.bos_id = c.tokenizer->special("BOS");
  o.eos_id = c.tokenizer->special("EOS");
  int64_t max_src = c.config.model.block_size;
  for (std::string line; std::getline(in, line);) {
    std::vector<int32_t> src = c.tokenizer->encode(line);
    if (static_cast<int64_t>(src.size()) > max_src) src.resize(max_src);  // longer sources are cut to the block
    // Valid UTF-8 whatever the model makes: bytes that form no character become U+FFFD.
    std::printf("%s\n",
                src.empty() ? "" : valid_utf8(c.tokenizer->decode(translate(c.model.seq2seq(), src, o), true)).c_str());
  }
}

}  // namespace

void add_translate(CLI::App& app, Context& ctx) {
  auto ckpt = std::make_shared<std::string>();
  auto beam = std::make_shared<int64_t>(1);
  auto precision = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("translate", "translate stdin line by line with a seq2seq checkpoint");
  cmd->add_option("ckpt", *ckpt, "checkpoint")->required();
  cmd->add_option("--beam", *beam, "beam width (1: greedy)")->check(CLI::Range(int64_t{1}, int64_t{64}));
  add_precision_option(cmd, *precision);
  ctx.on(cmd, [ckpt, beam, precision] {
    cmd_translate(*ckpt, *beam, *precision, std::cin);
    return 0;
  });
}

}  // namespace qkv::cli
