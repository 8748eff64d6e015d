// A stream of token ids that language-model windows are copied from: in memory, or memory-mapped token files.
#pragma once

#include <cstdint>
#include <vector>

namespace qkv {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual int64_t size() const = 0;
  // Tokens [begin, begin + count) into out; the caller keeps the range inside [0, size()). A source that
  // reads from files checks each id as it reads it (a qkv::Error naming the file and the offset).
  virtual void copy(int64_t begin, int64_t count, int32_t* out) const = 0;
};

// A tokenized text, held in memory.
class InMemoryTokens : public TokenSource {
 public:
  explicit InMemoryTokens(std::vector<int32_t> tokens) : tokens_(std::move(tokens)) {}
  int64_t size() const override { return static_cast<int64_t>(tokens_.size()); }
  void copy(int64_t begin, int64_t count, int32_t* out) const override {
    for (int64_t i = 0; i < count; ++i) out[i] = tokens_[static_cast<size_t>(begin + i)];
  }
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  std::vector<int32_t> tokens_;
};

}  // namespace qkv
