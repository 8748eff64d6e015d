// The qkv subcommands other than train: each reads its inputs, prints its result, and throws qkv::Error on
// bad input (main turns that into one line on stderr and exit code 2).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "train/comm.h"

namespace qkv {

struct SampleArgs {
  std::string ckpt, prompt;
  int64_t tokens = 200, top_k = 0;
  float temperature = 1.0f, top_p = 1.0f;
  uint64_t seed = 1337;
};
void cmd_sample(const SampleArgs& a);                                         // prompt + continuation
void cmd_translate(const std::string& ckpt, int64_t beam, std::istream& in);  // one line out per line in
void cmd_classify(const std::string& ckpt, std::istream& in);                 // one label per line
void cmd_eval(const std::string& ckpt, const std::string& data, bool json);   // loss, perplexity, ...
void cmd_init(const std::string& config, const std::vector<std::string>& overrides, const std::string& out);
void cmd_info(const std::string& ckpt, bool json);
void cmd_export(const std::string& ckpt, const std::string& out);
void cmd_import(const std::string& file, const std::string& config, const std::string& out);
// The checkpoint's next `steps` training updates, exactly as `qkv train` would do them; writes the first
// step's batch (I32), logits, every parameter's gradient (grad.<name>, before clipping) and each step's loss;
// the batches of later steps go under "step<s>." (and "micro<m>." with gradient accumulation). Under mpirun
// each rank takes batch_size rows of the global batch, and rank 0 writes its rows and the summed gradients.
void cmd_step(const std::string& ckpt, const std::string& out, int64_t steps, Comm& comm);
void cmd_tokenizer_train(const std::string& data, const std::string& type, int32_t vocab_size, const std::string& out);
// Token ids, space-separated, one line per stdin line; `whole`: all of stdin as one text (newlines are tokens
// too, as a training corpus is encoded) on one line.
void cmd_tokenizer_encode(const std::string& tokenizer, std::istream& in, bool whole);
void cmd_tokenizer_decode(const std::string& tokenizer, std::istream& in);

}  // namespace qkv
