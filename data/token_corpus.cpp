#include "data/token_corpus.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "core/archive.h"
#include "core/error.h"

namespace qkv {

std::vector<std::string> token_paths(const std::string& path) {
  if (path.find_first_of("*?[") == std::string::npos) return {path};
  glob_t g{};
  const int rc = ::glob(path.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  QKV_CHECK(!out.empty(), path, ": matches no file");
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<TokenMeta> meta_beside(const std::string& file) {
  const std::filesystem::path meta = std::filesystem::path(file).parent_path() / "meta.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(meta, ec)) return std::nullopt;
  return parse_token_meta(read_file(meta.string()), meta.string());
}

TokenCorpus::TokenCorpus(const std::string& path, int64_t vocab) : paths_(token_paths(path)), vocab_(vocab) {
  meta_ = meta_beside(paths_.front());
  const TokenDtype raw = meta_ ? meta_->dtype : TokenDtype::U16;
  for (const std::string& p : paths_) {
    MappedFile& f = files_.emplace_back(p);
    const std::span<const uint8_t> head(f.data(), std::min<uint64_t>(f.size(), kLlmcHeaderBytes));
    const TokenLayout& l = layouts_.emplace_back(token_layout(head, f.size(), raw, p));
    // One kind throughout: the meta.json's format, else the first file's. A shard whose magic is wrong would
    // otherwise be read as raw tokens, its header as ids.
    const bool want_llmc = meta_ ? meta_->format == "llmc" : layouts_.front().llmc;
    if (l.llmc != want_llmc)
      QKV_FAIL(p, want_llmc
                      ? ": starts with " + std::to_string(head.size() >= 4 ? load_token(head.data(), 4) : 0) +
                            ", not llm.c's magic " + std::to_string(kLlmcShardMagic) +
                            (meta_ ? " (its meta.json says llmc)" : " (as " + paths_.front() + " does)")
                      : std::string(": starts with llm.c's magic, but ") +
                            (meta_ ? "its meta.json says raw nanoGPT tokens" : paths_.front() + " is raw tokens"));
    if (meta_) {  // a count recorded for this file must be its count now
      auto it = meta_->files.find(std::filesystem::path(p).filename().string());
      QKV_CHECK(it == meta_->files.end() || static_cast<uint64_t>(it->second) == l.count, p, ": holds ", l.count,
                " tokens, but the meta.json beside it records ", it->second);
    }
    starts_.push_back(total_);
    total_ += static_cast<int64_t>(l.count);
  }
}

void TokenCorpus::copy(int64_t begin, int64_t count, int32_t* out) const {
  QKV_CHECK(begin >= 0 && count >= 0 && begin + count <= total_, paths_.front(), ": tokens [", begin, ", ",
            begin + count, ") of ", total_);
  // The file holding `begin`, then on through the next ones: a window may cross from one shard into the next.
  auto i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin() - 1);
  while (count > 0) {
    const int64_t in_file = begin - starts_[i];
    const int64_t n = std::min(count, static_cast<int64_t>(layouts_[i].count) - in_file);
    read_tokens(files_[i].data(), layouts_[i], static_cast<uint64_t>(in_file), static_cast<uint64_t>(n), vocab_, out,
                paths_[i]);
    out += n;
    begin += n;
    count -= n;
    ++i;
  }
}

}  // namespace qkv
