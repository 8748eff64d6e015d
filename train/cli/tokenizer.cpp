// `qkv tokenizer`: train a tokenizer on a text file, or encode and decode with one.
#include "data/tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/text_file.h"
#include "train/cli/commands.h"

namespace qkv::cli {
namespace {

void cmd_tokenizer_train(const std::string& data, const std::string& type, int32_t vocab_size, const std::string& out) {
  std::string text = read_text(data);
  std::optional<TokenizerKind> kind = parse_enum(kTokenizerKinds, type);
  QKV_CHECK(kind.has_value(), "tokenizer train: --type must be char or bpe, got '", type, "'");
  Tokenizer t = *kind == TokenizerKind::Bpe ? Tokenizer::train_bpe(text, vocab_size) : Tokenizer::train_char(text);
  t.save(out);
  std::printf("wrote %s: %s tokenizer, %d tokens\n", out.c_str(), name(t.kind()), t.size());
}

// Token ids, space-separated, one line per stdin line; `whole`: all of stdin as one text (newlines are tokens
// too, as a training corpus is encoded) on one line.
void cmd_tokenizer_encode(const std::string& tokenizer, std::istream& in, bool whole) {
  Tokenizer t = Tokenizer::load(tokenizer);
  auto print = [](const std::vector<int32_t>& ids) {
    std::string line;
    for (int32_t id : ids) {
      if (!line.empty()) line += ' ';
      line += std::to_string(id);
    }
    std::printf("%s\n", line.c_str());
  };
  if (whole) {
    print(t.encode(std::string(std::istreambuf_iterator<char>(in), {})));
    return;
  }
  for (std::string line; std::getline(in, line);) print(t.encode(line));
}

void cmd_tokenizer_decode(const std::string& tokenizer, std::istream& in) {
  Tokenizer t = Tokenizer::load(tokenizer);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<int32_t> ids;
    std::string word;
    while (ss >> word) {
      char* end = nullptr;
      long v = std::strtol(word.c_str(), &end, 10);
      QKV_CHECK(*end == '\0' && v >= INT32_MIN && v <= INT32_MAX, "tokenizer decode: '", word, "' is not a token id");
      ids.push_back(static_cast<int32_t>(v));
    }
    std::printf("%s\n", t.decode(ids).c_str());
  }
}

}  // namespace

void add_tokenizer(CLI::App& app, Context& ctx) {
  struct Args {
    std::string data, type = "bpe", out, tokenizer;
    int32_t vocab_size = 512;
    bool whole = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* tok = app.add_subcommand("tokenizer", "train a tokenizer, encode or decode with one");
  tok->require_subcommand(1);
  CLI::App* train = tok->add_subcommand("train", "train a tokenizer on a text file");
  train->add_option("--data", a->data, "text file")->required();
  train->add_option("--type", a->type, "char or bpe");
  train->add_option("--vocab-size", a->vocab_size, "BPE vocabulary size")->check(CLI::Range(256, 1 << 20));
  train->add_option("--out", a->out, "tokenizer file to write")->required();
  ctx.on(train, [a] {
    cmd_tokenizer_train(a->data, a->type, a->vocab_size, a->out);
    return 0;
  });
  CLI::App* encode = tok->add_subcommand("encode", "stdin lines to token ids");
  encode->add_option("tokenizer", a->tokenizer, "tokenizer file")->required();
  encode->add_flag("--whole", a->whole, "encode all of stdin as one text (newlines too), ids on one line");
  ctx.on(encode, [a] {
    cmd_tokenizer_encode(a->tokenizer, std::cin, a->whole);
    return 0;
  });
  CLI::App* decode = tok->add_subcommand("decode", "stdin lines of token ids to text");
  decode->add_option("tokenizer", a->tokenizer, "tokenizer file")->required();
  ctx.on(decode, [a] {
    cmd_tokenizer_decode(a->tokenizer, std::cin);
    return 0;
  });
}

}  // namespace qkv::cli
