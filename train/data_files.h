// The data files a run reads: their fingerprints, where a resumed run finds them, and errors naming their key.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace qkv {

// Runs `read` (which reads `path`) and prefixes a qkv::Error from it with the config key that named the file:
// "data.train: nosuch.txt: no such file".
template <class F>
auto with_key(const std::string& key, F read) -> decltype(read()) {
  try {
    return read();
  } catch (const Error& e) {
    throw Error(key + ": " + e.what());
  }
}

// The data files a config names (data.train, and data.val when given), fingerprinted as they are now, each
// with its path as given and its absolute form: text by all its bytes, token files (a .bin, a glob of shards)
// by their size and sampled blocks (NOTE [token file fingerprint] in data_files.cpp).
std::vector<DataFingerprint> fingerprint_data(const DataConfig& d);

// NOTE [data change]: the batch stream of a resumed run is positions in the corpus, so a changed file would
// silently train on other text than the run it continues. Each recorded file is looked for at its absolute
// path first (so a resume works from any folder), then at its path as given; its bytes must be the ones
// recorded unless allow_change, which resumes with a warning on stderr. `checkpoint` names the checkpoint in
// messages. Returns the fingerprints for this run: the paths as given, the absolute paths where they were
// found. `config.data` is changed to read the files from there.
std::vector<DataFingerprint> check_recorded_data(const std::vector<DataFingerprint>& recorded, DataConfig& data,
                                                 const std::string& checkpoint, bool allow_change);

}  // namespace qkv
