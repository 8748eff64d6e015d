#include "train/token_data.h"

#include <algorithm>

#include "core/error.h"
#include "core/sha256.h"
#include "train/data_files.h"
#include "train/model_io.h"

namespace qkv {
namespace {

// Whether ids [recorded, tokenizer.size()) are all specials the task appended (NOTE [file tokenizer specials]).
bool only_task_specials_after(const Tokenizer& tokenizer, int64_t recorded, Task task) {
  if (recorded > tokenizer.size()) return false;
  std::vector<int32_t> added;
  for (const std::string& s : task_specials(task)) added.push_back(tokenizer.special(s));
  for (int64_t id = recorded; id < tokenizer.size(); ++id)
    if (std::find(added.begin(), added.end(), id) == added.end()) return false;
  return true;
}

}  // namespace

std::shared_ptr<const TokenCorpus> open_token_data(const char* key, const std::string& path, const Tokenizer& tokenizer,
                                                   Task task, const std::string& tokenizer_file) {
  return with_key(key, [&] {
    auto corpus = std::make_shared<const TokenCorpus>(path, tokenizer.size());
    if (!corpus->meta()) return corpus;
    const TokenMeta& m = *corpus->meta();
    const std::string where = path + ": the meta.json beside it";
    QKV_CHECK(m.vocab_size == 0 || only_task_specials_after(tokenizer, m.vocab_size, task), where,
              " records a vocabulary of ", m.vocab_size, " ids, but the model's tokenizer has ", tokenizer.size(),
              ": give the tokenizer the files were prepared with");
    if (!tokenizer_file.empty() && !m.tokenizer_sha256.empty()) {
      const std::string sha = sha256_file(tokenizer_file);
      QKV_CHECK(sha == m.tokenizer_sha256, where, " records tokenizer ", m.tokenizer, " with sha256 ",
                m.tokenizer_sha256.substr(0, 16), "..., but data.tokenizer ", tokenizer_file, " has sha256 ",
                sha.substr(0, 16), "...: give the tokenizer the files were prepared with, or prepare them again");
    }
    return corpus;
  });
}

std::string describe(const TokenCorpus& corpus) {
  const size_t n = corpus.paths().size();
  const std::string dtype = corpus.llmc() ? "uint16" : name(corpus.meta() ? corpus.meta()->dtype : TokenDtype::U16);
  return std::to_string(n) + (corpus.llmc() ? " llm.c shard" : " nanoGPT token file") + (n == 1 ? "" : "s") + " (" +
         dtype + "), memory-mapped";
}

}  // namespace qkv
