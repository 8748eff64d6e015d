#include "data/token_file.h"

#include "core/error.h"

namespace qkv {
namespace {

uint32_t le32(const uint8_t* p) { return load_token(p, 4); }

}  // namespace

TokenLayout token_layout(std::span<const uint8_t> head, uint64_t size, TokenDtype raw_dtype, const std::string& file) {
  TokenLayout l;
  if (head.size() >= 4 && static_cast<int32_t>(le32(head.data())) == kLlmcShardMagic) {
    QKV_CHECK(size >= kLlmcHeaderBytes && head.size() >= kLlmcHeaderBytes, file, ": ", size,
              " bytes, shorter than llm.c's header of ", kLlmcHeaderBytes);
    const auto version = static_cast<int32_t>(le32(head.data() + 4));
    QKV_CHECK(version == kLlmcVersion, file, ": llm.c shard of version ", version, ", expected ", kLlmcVersion,
              " (uint16 tokens)");
    const auto count = static_cast<int32_t>(le32(head.data() + 8));
    QKV_CHECK(count >= 0, file, ": llm.c header gives ", count, " tokens, expected a count >= 0");
    const uint64_t want = kLlmcHeaderBytes + 2 * static_cast<uint64_t>(count);
    QKV_CHECK(size == want, file, ": ", size, " bytes do not match the llm.c header's ", count, " tokens (expected ",
              want, " bytes: ", kLlmcHeaderBytes, " of header and 2 per token)");
    l.llmc = true;
    l.offset = kLlmcHeaderBytes;
    l.count = static_cast<uint64_t>(count);
    return l;
  }
  l.dtype = raw_dtype;
  const auto width = static_cast<uint64_t>(token_bytes(raw_dtype));
  QKV_CHECK(size % width == 0, file, ": ", size, " bytes, not a whole number of ", name(raw_dtype), " tokens (", width,
            " bytes each)");
  l.count = size / width;
  return l;
}

void read_tokens(const uint8_t* bytes, const TokenLayout& layout, uint64_t begin, uint64_t count, int64_t vocab,
                 int32_t* out, const std::string& file) {
  QKV_CHECK(begin <= layout.count && count <= layout.count - begin, file, ": tokens [", begin, ", ", begin + count,
            ") of ", layout.count);
  const int width = token_bytes(layout.dtype);
  const uint8_t* p = bytes + layout.offset + begin * static_cast<uint64_t>(width);
  for (uint64_t i = 0; i < count; ++i, p += width) {
    const uint32_t id = load_token(p, width);
    if (id >= vocab)
      QKV_FAIL(file, ": token id ", id, " at token ", begin + i, " (byte ", layout.offset + (begin + i) * width,
               ") is outside the vocabulary of ", vocab, " ids");
    out[i] = static_cast<int32_t>(id);
  }
}

bool is_token_path(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0;
}

}  // namespace qkv
