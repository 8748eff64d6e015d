// `qkv prepare`: tokenize text files once into token files (nanoGPT's train.bin / val.bin, or llm.c's shards)
// that `qkv train` memory-maps, for corpora larger than memory.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "data/prepare_corpus.h"
#include "train/cli/commands.h"

namespace qkv::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int cmd_prepare(PrepareOptions o, const std::string& tokenizer_path, const std::string& format, int threads) {
  if (threads > 0) set_threads(threads);
  o.tokenizer_file = tokenizer_path;
  o.llmc = format == "llmc";
  if (o.name.empty()) o.name = std::filesystem::path(o.inputs.front()).stem().string();
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_path);
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  const bool tty = isatty(STDERR_FILENO) != 0;
  // At most one progress line a second; on a terminal each replaces the one before.
  auto progress = [&](const PrepareProgress& p) {
    if (seconds_since(last) < 1.0 && p.bytes < p.total_bytes) return;
    last = std::chrono::steady_clock::now();
    std::fprintf(stderr, "%sprepare: %.1f of %.1f MB (%.0f%%), %lld tokens, %.1f MB/s%s", tty ? "\r" : "",
                 static_cast<double>(p.bytes) / 1e6, static_cast<double>(p.total_bytes) / 1e6,
                 p.total_bytes > 0 ? 100.0 * static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes) : 100.0,
                 static_cast<long long>(p.tokens), static_cast<double>(p.bytes) / 1e6 / seconds_since(start),
                 tty ? "" : "\n");
  };
  const PrepareResult r = prepare_corpus(tokenizer, o, progress);
  if (tty) std::fprintf(stderr, "\n");
  for (const auto& [path, count] : r.files)
    std::printf("wrote %s: %lld tokens\n", path.c_str(), static_cast<long long>(count));
  const std::string eot = r.meta.eot >= 0 ? ", end-of-text " + std::to_string(r.meta.eot) : ", no end-of-text id";
  std::printf(
      "wrote %s/meta.json: %s, %s, vocabulary %lld%s; %lld train and %lld val tokens from %zu file%s in %.1f s\n",
      o.out.c_str(), r.meta.format.c_str(), name(r.meta.dtype), static_cast<long long>(r.meta.vocab_size), eot.c_str(),
      static_cast<long long>(r.train_tokens), static_cast<long long>(r.val_tokens), o.inputs.size(),
      o.inputs.size() == 1 ? "" : "s", seconds_since(start));
  return 0;
}

}  // namespace

void add_prepare(CLI::App& app, Context& ctx) {
  struct Args {
    PrepareOptions options;
    std::string tokenizer, format = "nanogpt";
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  PrepareOptions& o = a->options;
  o.name.clear();
  CLI::App* cmd = app.add_subcommand(
      "prepare",
      "tokenize text files once into token files (nanoGPT's train.bin/val.bin or llm.c's shards) to train on");
  cmd->add_option("text", o.inputs, "text files, one document each")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "the .tok file to encode with (qkv tokenizer train or import)")
      ->required();
  cmd->add_option("--out", o.out, "the folder to write train.bin, val.bin and meta.json (or the shards) into")
      ->required();
  cmd->add_option("--val-fraction", o.val_fraction,
                  "the last documents' share for val.bin, or the tail of a single document")
      ->check(CLI::Range(0.0, 0.999999));
  cmd->add_option("--format", a->format, "nanogpt (train.bin, val.bin) or llmc (headered shards)")
      ->check(CLI::IsMember({"nanogpt", "llmc"}));
  cmd->add_option("--shard-tokens", o.shard_tokens, "llmc: tokens per shard")->check(CLI::PositiveNumber);
  cmd->add_option("--name", o.name, "llmc: the shards' NAME in NAME_train_000001.bin (default: the first file's stem)");
  cmd->add_option("--chunk-bytes", o.chunk_bytes, "text encoded per task (cut where the ids cannot change)")
      ->check(CLI::Range(size_t{16}, size_t{1} << 30));
  cmd->add_option("--threads", a->threads, "threads encoding the text (0: all cores)")->check(CLI::NonNegativeNumber);
  ctx.on(cmd, [a] { return cmd_prepare(a->options, a->tokenizer, a->format, a->threads); });
}

}  // namespace qkv::cli
