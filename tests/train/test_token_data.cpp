// Token files in a run: the meta.json checks against the run's tokenizer, and the sampled fingerprint that
// --resume compares (NOTE [token file fingerprint]).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/sha256.h"
#include "data/token_writer.h"
#include "temp_dir.h"
#include "train/data_files.h"
#include "train/model_io.h"
#include "train/token_data.h"

using namespace qkv;
namespace fs = std::filesystem;

namespace {

void write_tokens(const std::string& path, const std::vector<int32_t>& ids, bool llmc = false) {
  TokenWriter w(path, TokenDtype::U16, llmc);
  w.write(ids);
  w.close();
}

// Overwrites the bytes at `at` in place.
void poke(const std::string& path, uint64_t at, const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("token data: meta.json's vocabulary and tokenizer sha256 must be the run's") {
  test::TempDir dir("token_data");
  const Tokenizer t = Tokenizer::train_char("abcdef");
  const std::string tok = (dir.path / "t.tok").string();
  t.save(tok);
  write_tokens((dir.path / "train.bin").string(), {0, 1, 2, 3, 4, 5});
  TokenMeta m;
  m.vocab_size = 6;
  m.tokenizer = "t.tok";
  m.tokenizer_sha256 = sha256_file(tok);
  dir.write("meta.json", token_meta_json(m));
  const std::string bin = (dir.path / "train.bin").string();
  CHECK(open_token_data("data.train", bin, t, Task::Lm, tok)->size() == 6);
  // mlm appends PAD, MASK, CLS, UNK after the file's 6 ids: still the file's vocabulary.
  CHECK(open_token_data("data.train", bin, t.with_specials(task_specials(Task::Mlm)), Task::Mlm, tok)->size() == 6);
  // An lm run with more ids than the files were made with is not.
  CHECK_THROWS_WITH_AS(open_token_data("data.train", bin, t.with_specials({"PAD"}), Task::Lm, ""),
                       doctest::Contains(("data.train: " + bin +
                                          ": the meta.json beside it records a vocabulary of 6 ids, but the model's "
                                          "tokenizer has 7")
                                             .c_str()),
                       Error);
  // Another tokenizer file of the same size: the sha256 tells them apart.
  const std::string other = (dir.path / "other.tok").string();
  Tokenizer::train_char("uvwxyz").save(other);
  CHECK_THROWS_WITH_AS(
      open_token_data("data.train", bin, t, Task::Lm, other),
      doctest::Contains(("records tokenizer t.tok with sha256 " + m.tokenizer_sha256.substr(0, 16)).c_str()), Error);
  // From a checkpoint (no file to hash), the vocabulary alone is checked.
  CHECK(open_token_data("data.train", bin, t, Task::Lm, "")->size() == 6);
}

TEST_CASE("token data: token files are fingerprinted by size and sampled blocks, a glob as one") {
  test::TempDir dir("token_fingerprint");
  std::vector<int32_t> ids(300000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % 50000);
  const std::string a = (dir.path / "x_train_000001.bin").string(), b = (dir.path / "x_train_000002.bin").string();
  write_tokens(a, ids, true);
  write_tokens(b, ids, true);
  DataConfig d;
  d.train = (dir.path / "x_train_*.bin").string();
  const DataFingerprint before = fingerprint_data(d).at(0);
  CHECK(before.size == 2 * (1024 + 600000));
  CHECK(before.path == d.train);
  CHECK(before == fingerprint_data(d).at(0));
  // 64 blocks of 4 KB spread over 601,024 bytes: the fourth starts at 596,928 x 3 / 63 = 28,425; a byte in it
  // counts...
  poke(b, 28425 + 10, "\x07");
  const DataFingerprint changed = fingerprint_data(d).at(0);
  CHECK(!changed.same_bytes(before));
  CHECK(changed.size == before.size);
  // ...and one between two blocks (at 8,000: past the first block's 4,096, before the second's 9,475) does not:
  // the fingerprint reads 256 KB of a file, not all of it.
  write_tokens(b, ids, true);
  CHECK(fingerprint_data(d).at(0).same_bytes(before));
  poke(b, 8000, "\x01\x02");
  CHECK(fingerprint_data(d).at(0).same_bytes(before));
  // A shard more is another corpus.
  write_tokens((dir.path / "x_train_000003.bin").string(), {1, 2, 3}, true);
  CHECK(!fingerprint_data(d).at(0).same_bytes(before));
  // A resume finds the glob at its absolute path and compares.
  DataConfig now = d;
  std::vector<DataFingerprint> recorded{before};
  CHECK_THROWS_WITH_AS(check_recorded_data(recorded, now, "c.qkv", false),
                       doctest::Contains("FNV-1a 64 of sampled blocks"), Error);
  fs::remove(dir.path / "x_train_000003.bin");
  CHECK(check_recorded_data(recorded, now, "c.qkv", false).at(0).same_bytes(before));
}
