#include "train/data_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/archive.h"
#include "core/error.h"

namespace qkv {
namespace {

std::string describe(uint64_t size, uint64_t hash) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::to_string(size) + " bytes, FNV-1a 64 " + hex;
}

std::string* data_path(DataConfig& d, const std::string& key) {
  if (key == "data.train") return &d.train;
  if (key == "data.val") return &d.val;
  return nullptr;
}

DataFingerprint fingerprint(const std::string& key, const std::string& given, const std::string& read_from) {
  FileHash h = with_key(key, [&] { return hash_file(read_from); });
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
    bool at_absolute = !was.absolute.empty() && std::filesystem::is_regular_file(was.absolute, ec);
    std::string read_from = at_absolute ? was.absolute : *path;
    if (!at_absolute && !std::filesystem::exists(read_from, ec))
      QKV_FAIL(was.key, ": ", *path, ": no such file",
               was.absolute.empty() ? std::string(" (relative to the folder qkv runs in)")
                                    : " (nor at " + was.absolute + ", where " + checkpoint + " found it)");
    DataFingerprint is = fingerprint(was.key, was.path, read_from);
    *path = read_from;
    now.push_back(is);
    if (is.same_bytes(was)) continue;
    std::string what = was.key + " " + was.path + " is not the file " + checkpoint + " was trained on: recorded " +
                       describe(was.size, was.fnv1a64) + ", now " + describe(is.size, is.fnv1a64);
    QKV_CHECK(allow_change, what, "; pass --allow-data-change to resume on it anyway");
    std::fprintf(stderr, "qkv: warning: %s; resuming anyway (--allow-data-change)\n", what.c_str());
  }
  return now;
}

}  // namespace qkv
