// `qkv sample`: a GPT checkpoint continues a prompt.
#include <cstdio>
#include <string>

#include "core/error.h"
#include "data/utf8.h"
#include "nn/generate.h"
#include "train/cli/commands.h"
#include "train/cli/precision_option.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

struct SampleArgs {
  std::string ckpt, prompt;
  int64_t tokens = 200, top_k = 0;
  float temperature = 1.0f, top_p = 1.0f;
  uint64_t seed = 1337;
  std::string precision;
};

void cmd_sample(const SampleArgs& a) {
  LoadedCheckpoint c = load_model(a.ckpt, ModelKind::Gpt, "sample");
  use_precision(a.precision, c.config.train.precision);
  std::vector<int32_t> prompt = c.tokenizer->encode(a.prompt.empty() ? "\n" : a.prompt);
  QKV_CHECK(!prompt.empty(), "sample: the prompt encodes to no tokens");
  SampleOptions o;
  o.max_new_tokens = a.tokens;
  o.temperature = a.temperature;
  o.top_k = a.top_k;
  o.top_p = a.top_p;
  o.seed = a.seed;
  // Printed as the tokens come, as valid UTF-8: a character split over two tokens waits for its second.
  Utf8Stream text;
  auto put = [](const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  };
  put(text.push(c.tokenizer->decode(prompt)));
  o.on_token = [&](int32_t id) { put(text.push(c.tokenizer->decode(std::span<const int32_t>(&id, 1)))); };
  generate(c.model.gpt(), prompt, o);
  put(text.finish() + "\n");
}

}  // namespace

void add_sample(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand("sample", "generate text from a GPT checkpoint");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--prompt", a->prompt, "text to continue (empty: a newline)");
  cmd->add_option("--tokens", a->tokens, "new tokens")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--temperature", a->temperature, "0 is greedy")->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", a->top_k, "keep the k most likely tokens (0: off)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", a->top_p, "nucleus sampling mass (1: off)")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--seed", a->seed, "random seed");
  add_precision_option(cmd, a->precision);
  ctx.on(cmd, [a] {
    cmd_sample(*a);
    return 0;
  });
}

}  // namespace qkv::cli
