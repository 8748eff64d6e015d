#include "data/token_writer.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace qkv {

TokenWriter::TokenWriter(const std::string& path, TokenDtype dtype, bool llmc)
    : path_(path), f_(std::fopen(path.c_str(), "wb")), dtype_(dtype), llmc_(llmc) {
  QKV_CHECK(f_ != nullptr, path, ": cannot be written: ", std::strerror(errno));
  QKV_CHECK(!llmc || dtype == TokenDtype::U16, path, ": llm.c shards hold uint16 tokens");
  if (llmc_) {
    const std::string header(kLlmcHeaderBytes, '\0');
    put(header.data(), header.size());
  }
}

TokenWriter::~TokenWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

void TokenWriter::put(const void* bytes, size_t n) {
  QKV_CHECK(std::fwrite(bytes, 1, n, f_) == n, path_, ": write failed: ", std::strerror(errno));
}

void TokenWriter::write(std::span<const int32_t> ids) {
  const int width = token_bytes(dtype_);
  scratch_.resize(ids.size() * static_cast<size_t>(width));
  auto* p = reinterpret_cast<uint8_t*>(scratch_.data());
  for (int32_t id : ids) {
    const auto v = static_cast<uint32_t>(id);
    for (int b = 0; b < width; ++b) *p++ = static_cast<uint8_t>(v >> (8 * b));  // little-endian on any host
  }
  put(scratch_.data(), scratch_.size());
  count_ += ids.size();
}

void TokenWriter::close() {
  if (llmc_) {
    QKV_CHECK(count_ <= INT32_MAX, path_, ": ", count_, " tokens, more than an llm.c header can count");
    uint8_t header[12];
    const uint32_t values[3] = {static_cast<uint32_t>(kLlmcShardMagic), static_cast<uint32_t>(kLlmcVersion),
                                static_cast<uint32_t>(count_)};
    for (int i = 0; i < 12; ++i) header[i] = static_cast<uint8_t>(values[i / 4] >> (8 * (i % 4)));
    QKV_CHECK(std::fseek(f_, 0, SEEK_SET) == 0, path_, ": seek failed: ", std::strerror(errno));
    put(header, sizeof header);
  }
  const bool ok = std::fflush(f_) == 0;
  const int err = errno;
  std::fclose(f_);
  f_ = nullptr;
  QKV_CHECK(ok, path_, ": write failed: ", std::strerror(err));
}

void copy_tokens(const std::string& from, TokenDtype dtype, uint64_t begin, uint64_t count, TokenWriter& to) {
  std::FILE* f = std::fopen(from.c_str(), "rb");
  QKV_CHECK(f != nullptr, from, ": cannot be read: ", std::strerror(errno));
  const int width = token_bytes(dtype);
  std::vector<uint8_t> bytes;
  std::vector<int32_t> ids;
  const bool seeked = std::fseek(f, static_cast<long>(begin * static_cast<uint64_t>(width)), SEEK_SET) == 0;
  constexpr uint64_t kPiece = 1 << 20;
  while (seeked && count > 0) {
    const uint64_t n = std::min(count, kPiece);
    bytes.resize(n * static_cast<uint64_t>(width));
    if (std::fread(bytes.data(), 1, bytes.size(), f) != bytes.size()) break;
    ids.resize(n);
    for (uint64_t i = 0; i < n; ++i)
      ids[i] = static_cast<int32_t>(load_token(bytes.data() + i * static_cast<uint64_t>(width), width));
    to.write(ids);
    count -= n;
  }
  std::fclose(f);
  QKV_CHECK(count == 0, from, ": ended early, ", count, " tokens short");
}

}  // namespace qkv
