// `qkv logits`: a GPT checkpoint's logits for given tokens, as safetensors, to compare with another framework.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "train/cli/commands.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

struct LogitsArgs {
  std::string ckpt, ids, text, out;
};

std::vector<int32_t> parse_ids(const std::string& s, int32_t vocab) {
  std::istringstream in(s);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long v = std::strtol(word.c_str(), &end, 10);
    QKV_CHECK(*end == '\0' && v >= 0 && v < vocab, "logits: --ids holds '", word, "', expected token ids in [0, ",
              vocab, ")");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

void cmd_logits(const LogitsArgs& a) {
  QKV_CHECK(a.ids.empty() != a.text.empty(), "logits: give either --ids or --text");
  LoadedCheckpoint c = load_model(a.ckpt, ModelKind::Gpt, "logits");
  std::vector<int32_t> ids = a.text.empty() ? parse_ids(a.ids, c.tokenizer->size()) : c.tokenizer->encode(a.text);
  const auto T = static_cast<int64_t>(ids.size());
  QKV_CHECK(T > 0 && T <= c.config.model.block_size, "logits: ", T, " tokens, expected 1 to block_size ",
            c.config.model.block_size);
  NoGrad no_grad;
  ModelOutput o = c.model.gpt().forward(Ids(ids, {1, T}));
  SafeTensorsFile f;
  f.tensors.emplace_back("ids", SafeTensor::of_i32({1, T}, ids));
  f.tensors.emplace_back("logits", SafeTensor::of_f32(o.logits.shape(), o.logits.to_vector()));
  write_safetensors(a.out, f);
  std::printf("wrote %s: logits [1, %lld, %lld]\n", a.out.c_str(), static_cast<long long>(T),
              static_cast<long long>(o.logits.shape()[2]));
}

}  // namespace

void add_logits(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "a GPT checkpoint's logits for given tokens, as safetensors");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--ids", a->ids, "token ids, space-separated");
  cmd->add_option("--text", a->text, "text, encoded with the checkpoint's tokenizer");
  cmd->add_option("--out", a->out, "safetensors file to write (ids [1, T], logits [1, T, V])")->required();
  ctx.on(cmd, [a] {
    cmd_logits(*a);
    return 0;
  });
}

}  // namespace qkv::cli
