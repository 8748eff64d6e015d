// `qkv tokenizer`: train a tokenizer on a text file, import GPT-2's or take a checkpoint's, encode and decode.
#include "data/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/text_file.h"
#include "train/checkpoint.h"
#include "train/cli/commands.h"
#include "train/formats/bpe_vocab_files.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

void cmd_tokenizer_train(const std::string& data, const std::string& type, int32_t vocab_size,
                         const std::vector<std::string>& specials, const std::string& out) {
  std::string text = read_text(data);
  std::optional<TokenizerKind> kind = parse_enum(kTokenizerKinds, type);
  QKV_CHECK(kind.has_value(), "tokenizer train: --type must be char or bpe, got '", type, "'");
  Tokenizer t = *kind == TokenizerKind::Bpe ? Tokenizer::train_bpe(text, vocab_size, specials)
                                            : Tokenizer::train_char(text, specials);
  t.save(out);
  std::printf("wrote %s: %s tokenizer, %d tokens\n", out.c_str(), name(t.kind()), t.size());
}

void cmd_tokenizer_import(const std::vector<std::string>& files, const std::string& pattern,
                          const std::vector<std::string>& specials, const std::string& out) {
  TokenizerImport options;
  if (!pattern.empty()) options.pattern = parse_enum(kPretokenizers, pattern);
  options.specials = specials;
  Tokenizer t = import_tokenizer(files, options);
  t.save(out);
  std::printf("wrote %s: %s tokenizer, %s pre-tokenizer, %d tokens (%zu merges, %zu specials)\n", out.c_str(),
              name(t.kind()), name(t.pretokenizer()), t.size(), t.merges().size(), t.specials().size());
}

// The tokenizer a checkpoint was trained with (or imported with), for `encode`/`decode` and other tools.
void cmd_tokenizer_extract(const std::string& ckpt, const std::string& out) {
  Tokenizer t = checkpoint_tokenizer(load_checkpoint(ckpt), ckpt);
  t.save(out);
  std::printf("wrote %s: %s tokenizer of %s, %d tokens\n", out.c_str(), name(t.kind()), ckpt.c_str(), t.size());
}

struct EncodeOptions {
  bool whole = false;          // all of stdin as one text
  bool allow_special = false;  // specials' texts in the input become their ids
  bool time = false;           // the encoding time on stderr
};

// Token ids, space-separated, one line per stdin line; `whole`: all of stdin as one text (newlines are tokens
// too, as a training corpus is encoded) on one line.
void cmd_tokenizer_encode(const std::string& tokenizer, std::istream& in, const EncodeOptions& o) {
  Tokenizer t = Tokenizer::load(tokenizer);
  const SpecialText specials = o.allow_special ? SpecialText::kRecognise : SpecialText::kPlain;
  auto print = [](const std::vector<int32_t>& ids) {
    std::string line;
    for (int32_t id : ids) {
      if (!line.empty()) line += ' ';
      line += std::to_string(id);
    }
    std::printf("%s\n", line.c_str());
  };
  if (o.whole) {
    const std::string text(std::istreambuf_iterator<char>(in), {});
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = t.encode(text, specials);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print(ids);
    // For comparing encoders: the time of encode() alone, without loading, reading or printing.
    if (o.time)
      std::fprintf(stderr, "encoded %zu bytes into %zu tokens in %.4f s (%.2f MB/s)\n", text.size(), ids.size(), s,
                   static_cast<double>(text.size()) / 1e6 / s);
    return;
  }
  for (std::string line; std::getline(in, line);) print(t.encode(line, specials));
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
    std::string data, type = "bpe", out, tokenizer, pattern, ckpt;
    int32_t vocab_size = 512;
    std::vector<std::string> files, specials;
    EncodeOptions encode;
  };
  auto a = std::make_shared<Args>();
  CLI::App* tok = app.add_subcommand("tokenizer", "train, import or extract a tokenizer, encode or decode with one");
  tok->require_subcommand(1);
  CLI::App* train = tok->add_subcommand("train", "train a tokenizer on a text file");
  train->add_option("--data", a->data, "text file")->required();
  train->add_option("--type", a->type, "char or bpe");
  train->add_option("--vocab-size", a->vocab_size, "BPE vocabulary size")->check(CLI::Range(256, 1 << 20));
  train->add_option(
      "--special", a->specials,
      "a special token to add after the trained ones: a role (EOS) or its text (<|endoftext|>); repeatable");
  train->add_option("--out", a->out, "tokenizer file to write")->required();
  ctx.on(train, [a] {
    cmd_tokenizer_train(a->data, a->type, a->vocab_size, a->specials, a->out);
    return 0;
  });
  CLI::App* import = tok->add_subcommand(
      "import",
      "GPT-2's tokenizer from encoder.json + vocab.bpe, vocab.json + merges.txt, tokenizer.json or .tiktoken");
  import->add_option("files", a->files, "the tokenizer's files (told apart by their content)")->required();
  import->add_option("--pattern", a->pattern, "the split for files that name none (tiktoken): gpt2")
      ->check(CLI::IsMember({"gpt2"}));
  import->add_option("--special", a->specials, "the text of a special token to add after the file's own (repeatable)");
  import->add_option("--out", a->out, "tokenizer file to write")->required();
  ctx.on(import, [a] {
    cmd_tokenizer_import(a->files, a->pattern, a->specials, a->out);
    return 0;
  });
  CLI::App* extract = tok->add_subcommand("extract", "write a checkpoint's tokenizer to a tokenizer file");
  extract->add_option("ckpt", a->ckpt, "checkpoint")->required();
  extract->add_option("--out", a->out, "tokenizer file to write")->required();
  ctx.on(extract, [a] {
    cmd_tokenizer_extract(a->ckpt, a->out);
    return 0;
  });
  CLI::App* encode = tok->add_subcommand("encode", "stdin lines to token ids");
  encode->add_option("tokenizer", a->tokenizer, "tokenizer file")->required();
  encode->add_flag("--whole", a->encode.whole, "encode all of stdin as one text (newlines too), ids on one line");
  encode->add_flag("--allow-special", a->encode.allow_special,
                   "turn the text of a special token (<|endoftext|>) into its id; by default it is plain text");
  encode->add_flag("--time", a->encode.time, "with --whole: print the time encoding took to stderr");
  ctx.on(encode, [a] {
    cmd_tokenizer_encode(a->tokenizer, std::cin, a->encode);
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
