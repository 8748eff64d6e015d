// A text file read in pieces that encode to the same ids as the whole text, so a corpus larger than memory can
// be tokenized piece by piece (and the pieces on several threads).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace qkv {

// NOTE [safe cuts]: the last place in `text` where it may be cut without changing its ids, or 0 when there is
// none. A cut goes right before a space or a newline that follows a printable ASCII character and precedes an
// ASCII letter ("end.| The", "end.|\nThe"). Every pre-tokenizer qkv has starts a piece there and nowhere looks
// back across it: GPT-2's pattern gives " The" (or a lone "\n") to the next piece and ends the one before at the
// cut whether or not text follows; qkv's own split does the same; a character tokenizer has no pieces at all.
// Specials are never recognised in a corpus's text, so none can straddle a cut.
size_t last_safe_cut(std::string_view text);

class TextChunks {
 public:
  // Chunks of about `bytes` each; errors name the path (missing, unreadable).
  TextChunks(const std::string& path, size_t bytes);
  // The next chunk, ending at a safe cut (or at the end of the file); false when the file is used up. A
  // stretch of text with no safe cut grows the chunk until one is found, so its ids still come out right.
  bool next(std::string& chunk);
  uint64_t size() const { return size_; }  // the file's bytes

 private:
  void read_more();

  std::string path_;
  std::ifstream in_;
  size_t bytes_;
  uint64_t size_ = 0;
  bool done_ = false;  // the file is read to its end
  std::string buffer_;
};

}  // namespace qkv
