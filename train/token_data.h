// The LM data files of a run that are token files (NOTE [token files]): memory-mapped, and checked against the
// run's tokenizer through the meta.json beside them.
#pragma once

#include <memory>
#include <string>

#include "data/token_corpus.h"
#include "data/tokenizer.h"
#include "train/config.h"

namespace qkv {

// The token files `path` names (the file of config key `key`), with ids checked against `tokenizer` as they
// are read. A meta.json beside them must record the vocabulary size of `tokenizer` (or of it without the task's
// specials, which are appended after a file's ids) and, when `tokenizer_file` is not empty (the tokenizer was
// read from it), that file's sha256. Errors name the key and the file.
std::shared_ptr<const TokenCorpus> open_token_data(const char* key, const std::string& path, const Tokenizer& tokenizer,
                                                   Task task, const std::string& tokenizer_file);

// "2 llm.c shards, memory-mapped" and the like, for the start-up lines.
std::string describe(const TokenCorpus& corpus);

}  // namespace qkv
