// Token files opened as one memory-mapped stream: a nanoGPT .bin, an llm.c shard, or a glob of shards.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "data/token_file.h"
#include "data/token_meta.h"
#include "data/token_source.h"

namespace qkv {

// The files a data path names: the path itself, or the sorted matches of a glob ("shards/x_train_*.bin"); a
// glob that matches nothing is a qkv::Error.
std::vector<std::string> token_paths(const std::string& path);

// The meta.json in the folder of `file`, when there is one.
std::optional<TokenMeta> meta_beside(const std::string& file);

class TokenCorpus : public TokenSource {
 public:
  // Maps the files of `path` (token_paths) in order as one stream (NOTE [token files]); raw files take the
  // dtype of a meta.json beside them, else uint16. Ids are checked against `vocab` as windows are read.
  TokenCorpus(const std::string& path, int64_t vocab);

  int64_t size() const override { return total_; }
  void copy(int64_t begin, int64_t count, int32_t* out) const override;

  const std::vector<std::string>& paths() const { return paths_; }
  const std::optional<TokenMeta>& meta() const { return meta_; }  // beside the first file
  bool llmc() const { return !layouts_.empty() && layouts_.front().llmc; }

 private:
  std::vector<std::string> paths_;
  std::vector<MappedFile> files_;
  std::vector<TokenLayout> layouts_;
  std::vector<int64_t> starts_;  // the stream offset of each file's first token
  int64_t total_ = 0, vocab_ = 0;
  std::optional<TokenMeta> meta_;
};

}  // namespace qkv
