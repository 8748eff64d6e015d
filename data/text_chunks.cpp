#include "data/text_chunks.h"

#include <filesystem>

#include "core/error.h"

namespace qkv {
namespace {

bool graphic(char c) { return c > ' ' && c < 0x7f; }
bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

size_t last_safe_cut(std::string_view text) {
  for (size_t p = text.size() < 2 ? 0 : text.size() - 2; p > 0; --p)
    if ((text[p] == ' ' || text[p] == '\n') && graphic(text[p - 1]) && letter(text[p + 1])) return p;
  return 0;
}

TextChunks::TextChunks(const std::string& path, size_t bytes)
    : path_(path), in_(path, std::ios::binary), bytes_(bytes) {
  std::error_code ec;
  QKV_CHECK(std::filesystem::is_regular_file(path, ec), path,
            std::filesystem::exists(path, ec) ? ": is not a regular file" : ": no such file");
  QKV_CHECK(in_.good(), path, ": cannot be read");
  size_ = std::filesystem::file_size(path, ec);
  QKV_CHECK(!ec, path, ": cannot be read: ", ec.message());
}

void TextChunks::read_more() {
  const size_t had = buffer_.size();
  buffer_.resize(had + bytes_);
  in_.read(buffer_.data() + had, static_cast<std::streamsize>(bytes_));
  buffer_.resize(had + static_cast<size_t>(in_.gcount()));
  if (!in_) {
    QKV_CHECK(in_.eof(), path_, ": read failed");
    done_ = true;
  }
}

bool TextChunks::next(std::string& chunk) {
  if (buffer_.size() < bytes_ && !done_) read_more();
  size_t cut = done_ ? buffer_.size() : last_safe_cut(buffer_);
  while (cut == 0 && !done_) {
    const size_t seen = buffer_.size() < 2 ? 0 : buffer_.size() - 2;  // no cut before here: scan only the rest
    read_more();
    const size_t found = last_safe_cut(std::string_view(buffer_).substr(seen));
    cut = done_ ? buffer_.size() : found == 0 ? 0 : seen + found;
  }
  if (buffer_.empty()) return false;
  chunk.assign(buffer_, 0, cut);
  buffer_.erase(0, cut);
  return true;
}

}  // namespace qkv
