// `qkv classify`: an encoder classifier labels stdin line by line.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "train/cli/commands.h"
#include "train/cli/precision_option.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void cmd_classify(const std::string& ckpt, const std::string& precision, std::istream& in) {
  LoadedCheckpoint c = load_model(ckpt, ModelKind::Encoder, "classify");
  use_precision(precision, c.config.train.precision);
  QKV_CHECK(c.config.model.n_classes > 0 && !c.labels.empty(), "classify: ", ckpt, " has no classification head");
  NoGrad no_grad;
  int32_t cls = c.tokenizer->special("CLS");
  for (std::string line; std::getline(in, line);) {
    std::vector<int32_t> ids{cls};
    for (int32_t id : c.tokenizer->encode(line)) ids.push_back(id);
    if (static_cast<int64_t>(ids.size()) > c.config.model.block_size) ids.resize(c.config.model.block_size);
    int64_t T = static_cast<int64_t>(ids.size());
    Tensor logits = c.model.encoder().classify(Ids(ids, {1, T}), nullptr).logits;
    const float* row = logits.data();
    std::printf("%s\n", c.labels[std::max_element(row, row + logits.numel()) - row].c_str());
  }
}

}  // namespace

void add_classify(CLI::App& app, Context& ctx) {
  auto ckpt = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("classify", "label stdin line by line with an encoder classifier");
  auto precision = std::make_shared<std::string>();
  cmd->add_option("ckpt", *ckpt, "checkpoint")->required();
  add_precision_option(cmd, *precision);
  ctx.on(cmd, [ckpt, precision] {
    cmd_classify(*ckpt, *precision, std::cin);
    return 0;
  });
}

}  // namespace qkv::cli
