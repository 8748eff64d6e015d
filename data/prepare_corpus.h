// `qkv prepare`: text files tokenized once into token files (nanoGPT's train.bin / val.bin, or llm.c's shards)
// that training memory-maps, streaming the text so that a corpus may be larger than memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/token_meta.h"
#include "data/tokenizer.h"

namespace qkv {

struct PrepareOptions {
  std::vector<std::string> inputs;  // text files, one document each
  std::string tokenizer_file;       // the .tok the tokenizer was loaded from: its name and sha256 go to meta.json
  std::string out;                  // the folder to write
  double val_fraction = 0.1;        // in [0, 1)
  bool llmc = false;                // llm.c shards instead of train.bin / val.bin
  int64_t shard_tokens = 100'000'000;
  std::string name = "corpus";   // llm.c shards: NAME_val_000000.bin, NAME_train_000001.bin, ...
  size_t chunk_bytes = 1 << 20;  // text encoded per task
};

struct PrepareProgress {
  uint64_t bytes = 0, total_bytes = 0;  // text read so far, of all inputs
  int64_t tokens = 0;
};

struct PrepareResult {
  TokenMeta meta;                                      // as written to OUT/meta.json
  std::vector<std::pair<std::string, int64_t>> files;  // paths written, with their token counts
  int64_t train_tokens = 0, val_tokens = 0;
};

// The end-of-text id that follows each document: the special <|endoftext|>, else EOS; -1 when it has neither.
int32_t end_of_text(const Tokenizer& tokenizer);

// NOTE [prepare]: each input is a document, encoded as plain text (special tokens' texts stay text) in chunks cut
// where the ids cannot change (NOTE [safe cuts]), on all threads, and followed by the end-of-text id when the
// tokenizer has one. The val split is the last documents whose bytes come nearest val_fraction of all (at least
// one, never all), or, for a single input, the tail of its tokens from int(n * (1 - val_fraction)) as nanoGPT's
// prepare.py cuts its one text (the end-of-text id goes with the tail). Tokens are uint16, or uint32 when the
// vocabulary has more than 65,536 ids. Everything is first streamed to one temporary file in OUT, then split into
// the files, which appear only when complete. `progress` is called after each batch of chunks.
PrepareResult prepare_corpus(const Tokenizer& tokenizer, const PrepareOptions& options,
                             const std::function<void(const PrepareProgress&)>& progress);

}  // namespace qkv
