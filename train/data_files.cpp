#include "train/data_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/archive.h"
#include "core/error.h"
#include "data/token_corpus.h"
#include "data/token_file.h"

namespace qkv {
namespace {

std::string describe(uint64_t size, uint64_t hash, bool sampled) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::to_string(size) + " bytes, FNV-1a 64 " + (sampled ? "of sampled blocks " : "") + hex;
}

// NOTE [token file fingerprint]: token files may be larger than memory, and hashing 2 GB at every start and
// resume would take longer than the steps. Their fingerprint is the total size and the FNV-1a 64 of, per file
// in order, its size (8 bytes, little-endian) and kSampledBlocks blocks of kBlockBytes spread evenly from its
// first byte to its last (the whole file when it is smaller): a replaced, resized, re-tokenized or truncated
// file changes it; an edit between the blocks does not.
constexpr uint64_t kSampledBlocks = 64, kBlockBytes = 4096;

FileHash hash_token_files(const std::string& path) {
  FileHash h{0, kFnv1a64Basis};
  std::string block;
  for (const std::string& file : token_paths(path)) {
    std::ifstream in(file, std::ios::binary);
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(file, ec);
    QKV_CHECK(in.good() && !ec, file, ": cannot be read");
    std::string size_bytes(8, '\0');
    for (int i = 0; i < 8; ++i) size_bytes[static_cast<size_t>(i)] = static_cast<char>(size >> (8 * i));
    h.fnv1a64 = fnv1a64(size_bytes, h.fnv1a64);
    h.size += size;
    const uint64_t span = size > kBlockBytes ? size - kBlockBytes : 0;
    for (uint64_t i = 0; i < kSampledBlocks; ++i) {
      const uint64_t at = span * i / (kSampledBlocks - 1), n = std::min(kBlockBytes, size - at);
      block.resize(n);
      in.seekg(static_cast<std::streamoff>(at));
      in.read(block.data(), static_cast<std::streamsize>(n));
      QKV_CHECK(in.gcount() == static_cast<std::streamsize>(n), file, ": read failed at byte ", at);
      h.fnv1a64 = fnv1a64(block, h.fnv1a64);
      if (span == 0) break;  // one block held it all
    }
  }
  return h;
}

// Whether a data path names something to read: a file, or a glob of token files that matches one.
bool data_exists(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return true;
  try {
    return is_token_path(path) && !token_paths(path).empty();
  } catch (const Error&) {
    return false;
  }
}

std::string* data_path(DataConfig& d, const std::string& key) {
  if (key == "data.train") return &d.train;
  if (key == "data.val") return &d.val;
  return nullptr;
}

DataFingerprint fingerprint(const std::string& key, const std::string& given, const std::string& read_from) {
  FileHash h = with_key(key, [&] { return is_token_path(given) ? hash_token_files(read_from) : hash_file(read_from); });
  std::string absolute = std::filesystem::absolute(read_from).lexically_normal().string();
  return {key, given, absolute, h.size, h.fnv1a64};
}

}  // namespace

std::vector<DataFingerprint> fingerprint_data(const DataConfig& d) {
  std::vector<DataFingerprint> out;
  for (const auto& [key, path] : {std::pair<const char*, std::string>{"data.train", d.train}, {"data.val", d.val}})
    if (!path.empty()) out.push_back(fingerprint(key, path, path));
  return out;
}

std::vector<DataFingerprint> check_recorded_data(const std::vector<DataFingerprint>& recorded, DataConfig& data,
                                                 const std::string& checkpoint, bool allow_change) {
  if (recorded.empty()) {
    std::printf("note: %s records no data files (untrained, or written by an older qkv): not checked\n",
                checkpoint.c_str());
    return fingerprint_data(data);
  }
  std::vector<DataFingerprint> now;
  for (const DataFingerprint& was : recorded) {
    std::string* path = data_path(data, was.key);
    QKV_CHECK(path != nullptr, checkpoint, ": records a data file under an unknown key ", was.key);
    std::error_code ec;
    bool at_absolute =
        !was.absolute.empty() &&
        (is_token_path(was.path) ? data_exists(was.absolute) : std::filesystem::is_regular_file(was.absolute, ec));
    std::string read_from = at_absolute ? was.absolute : *path;
    if (!at_absolute && !data_exists(read_from))
      QKV_FAIL(was.key, ": ", *path, ": no such file",
               was.absolute.empty() ? std::string(" (relative to the folder qkv runs in)")
                                    : " (nor at " + was.absolute + ", where " + checkpoint + " found it)");
    DataFingerprint is = fingerprint(was.key, was.path, read_from);
    *path = read_from;
    now.push_back(is);
    if (is.same_bytes(was)) continue;
    std::string what = was.key + " " + was.path + " is not the file " + checkpoint + " was trained on: recorded " +
                       describe(was.size, was.fnv1a64, is_token_path(was.path)) + ", now " +
                       describe(is.size, is.fnv1a64, is_token_path(was.path));
    QKV_CHECK(allow_change, what, "; pass --allow-data-change to resume on it anyway");
    std::fprintf(stderr, "qkv: warning: %s; resuming anyway (--allow-data-change)\n", what.c_str());
  }
  return now;
}

}  // namespace qkv
