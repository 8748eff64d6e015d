// Tokenizer serialization: save/load and archive round trips, to_json, and clear errors (never a crash) for
// truncated, corrupted and out-of-range files.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/tokenizer.h"

using namespace qkv;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() : path(std::filesystem::temp_directory_path() / ("qkv_test_tok_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

const char* kCorpus =
    "the cat sat on the mat; the cat ate the rat. 123 + 456 = 579\n\xC3\xA9t\xC3\xA9 \xC3\xA0 la plage";

}  // namespace

TEST_CASE("tokenizer: save and load give identical tokenizers and encodings") {
  TempDir dir;
  Tokenizer bpe = Tokenizer::train_bpe(kCorpus, 300, {"PAD", "BOS", "EOS"});
  Tokenizer chr = Tokenizer::train_char(kCorpus, {"CLS", "MASK", "UNK"});
  for (const Tokenizer* t : {&bpe, &chr}) {
    const std::string path = dir.file("t.tok");
    t->save(path);
    Tokenizer u = Tokenizer::load(path);
    CHECK(u.kind() == t->kind());
    CHECK(u.tokens() == t->tokens());
    CHECK(u.merges() == t->merges());
    CHECK(u.specials() == t->specials());
    CHECK(u.encode(kCorpus) == t->encode(kCorpus));
    CHECK(u.encode("the zebra") == t->encode("the zebra"));  // UNK for the char one
  }
}

TEST_CASE("tokenizer: write and read round-trip inside a larger archive") {
  Tokenizer t = Tokenizer::train_bpe(kCorpus, 290, {"MASK"});
  ArchiveWriter w;
  w.u32(7);
  t.write(w);
  w.u32(9);
  ArchiveReader r(w.bytes(), "ckpt.qkv");
  CHECK(r.u32("before") == 7);
  Tokenizer u = Tokenizer::read(r);
  CHECK(r.u32("after") == 9);
  CHECK(u.merges() == t.merges());
  CHECK(u.special("MASK") == 289);
}

TEST_CASE("tokenizer: to_json lists hex tokens, merges and specials") {
  Tokenizer t = Tokenizer::train_bpe("aaab aaab ab", 259, {"PAD"});
  nlohmann::json j = t.to_json();
  CHECK(j["type"] == "bpe");
  REQUIRE(j["tokens"].size() == 259);
  CHECK(j["tokens"][0] == "00");
  CHECK(j["tokens"][97] == "61");
  CHECK(j["tokens"][255] == "ff");
  CHECK(j["tokens"][257] == "6162");
  CHECK(j["tokens"][258] == "3c5041443e");  // "<PAD>"
  CHECK(j["merges"] == nlohmann::json::parse("[[97, 97], [97, 98]]"));
  CHECK(j["specials"] == nlohmann::json::parse(R"({"PAD": 258})"));
  CHECK(Tokenizer::train_char("ba").to_json().dump() ==
        R"({"merges":[],"specials":{},"tokens":["61","62"],"type":"char"})");
}

TEST_CASE("tokenizer: truncated, corrupted or foreign files are errors") {
  TempDir dir;
  const std::string good = dir.file("good.tok"), bad = dir.file("bad.tok");
  Tokenizer::train_bpe(kCorpus, 280, {"PAD"}).save(good);
  const std::string bytes = read_file(good);
  REQUIRE(bytes.size() > 100);

  for (size_t cut : {size_t{0}, size_t{3}, size_t{6}, size_t{9}, size_t{10}, size_t{17}, size_t{40}, bytes.size() / 2,
                     bytes.size() - 9, bytes.size() - 1}) {
    CAPTURE(cut);
    write_bytes(bad, bytes.substr(0, cut));
    CHECK_THROWS_AS(Tokenizer::load(bad), Error);
  }
  std::string flipped = bytes;
  flipped[0] = 'X';
  write_bytes(bad, flipped);
  CHECK_THROWS_WITH_AS(Tokenizer::load(bad), doctest::Contains("not a qkv tokenizer file"), Error);

  std::string version = bytes;
  version[6] = 3;
  write_bytes(bad, version);
  CHECK_THROWS_WITH_AS(Tokenizer::load(bad), doctest::Contains("format version 3, this build reads versions 1 to 2"),
                       Error);

  std::string body = bytes;
  body[bytes.size() / 2] ^= 0x20;
  write_bytes(bad, body);
  CHECK_THROWS_WITH_AS(Tokenizer::load(bad), doctest::Contains("checksum mismatch"), Error);

  CHECK_THROWS_WITH_AS(Tokenizer::load(dir.file("missing.tok")), doctest::Contains("no such file"), Error);
}

TEST_CASE("tokenizer: read checks ids and tables even without a checksum") {
  auto bpe_archive = [](int32_t merge_b, int32_t special_id, const std::string& special_name) {
    ArchiveWriter w;
    w.str("bpe");
    w.u32(257);
    for (int b = 0; b < 256; ++b) w.str(std::string(1, static_cast<char>(b)));
    w.str("ab");
    w.u32(1);
    w.i32(97);
    w.i32(merge_b);
    w.u32(1);
    w.str(special_name);
    w.i32(special_id);
    return w.bytes();
  };
  {
    ArchiveReader r(bpe_archive(98, 257, "PAD"), "ok");
    Tokenizer t = Tokenizer::read(r);
    CHECK(t.encode("ab") == std::vector<int32_t>{256});
  }
  {
    ArchiveReader r(bpe_archive(300, 257, "PAD"), "m.qkv");
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("merge 0 joins ids (97, 300)"), Error);
  }
  {
    ArchiveReader r(bpe_archive(99, 257, "PAD"), "m.qkv");  // "ac" is not token 256 "ab"
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("not the concatenation"), Error);
  }
  {
    ArchiveReader r(bpe_archive(98, 1000, "PAD"), "s.qkv");
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("has id 1000, expected 257"), Error);
  }
  {
    ArchiveReader r(bpe_archive(98, 257, "SEP"), "s.qkv");
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("'SEP'"), Error);
  }
  {
    ArchiveWriter w;
    w.str("wordpiece");
    ArchiveReader r(w.bytes(), "t.qkv");
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("'wordpiece'"), Error);
  }
  {
    ArchiveWriter w;  // char tokens must be single characters in increasing order
    w.str("char");
    w.u32(2);
    w.str("b");
    w.str("a");
    w.u32(0);  // merges
    ArchiveReader r(w.bytes(), "c.qkv");
    CHECK_THROWS_WITH_AS(Tokenizer::read(r), doctest::Contains("increasing order"), Error);
  }
}

TEST_CASE("tokenizer: every truncation and random corruption of an archive throws or loads, never crashes") {
  ArchiveWriter w;
  Tokenizer::train_bpe("abab cdcd abab", 262, {"EOS"}).write(w);
  Tokenizer::train_char("hello", {"PAD"}).write(w);
  const std::string bytes = w.bytes();
  int complete = 0;
  for (size_t len = 0; len <= bytes.size(); ++len) {
    try {
      ArchiveReader r(bytes.substr(0, len), "cut");
      Tokenizer::read(r);
      Tokenizer::read(r);
      ++complete;
    } catch (const Error&) {
    }
  }
  CHECK(complete == 1);  // only the whole archive reads fully
  Rng rng(5);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string b = bytes;
    b[1 + rng.next_u32() % (b.size() - 1)] ^= static_cast<char>(1 + rng.next_u32() % 255);
    ArchiveReader r(b, "flip");
    try {
      Tokenizer t = Tokenizer::read(r);
      t.decode(t.encode("abc"));
      ++loaded;
    } catch (const Error&) {
    }
  }
  MESSAGE(loaded, " of 300 corrupted archives still parsed");
}

TEST_CASE("tokenizer: version 2 keeps the byte table, the pre-tokenizer and named specials") {
  TempDir dir;
  BpeVocab v;
  for (int id = 0; id < 256; ++id) v.tokens.push_back(std::string(1, static_cast<char>((id + 33) % 256)));
  v.tokens.push_back("ab");
  v.merges = {{"a", "b"}};
  v.specials = {"<|endoftext|>"};
  const Tokenizer t = Tokenizer::from_vocab(v, "v").with_specials({"PAD"});
  t.save(dir.file("v2.tok"));
  const std::string bytes = read_file(dir.file("v2.tok"));
  CHECK(bytes.substr(6, 4) == std::string("\2\0\0\0", 4));
  const Tokenizer u = Tokenizer::load(dir.file("v2.tok"));
  CHECK(u.pretokenizer() == Pretokenizer::Gpt2);
  CHECK(u.byte_ids() == t.byte_ids());
  CHECK(u.byte_ids()['!'] == 0);
  CHECK(u.tokens() == t.tokens());
  CHECK(u.specials() == t.specials());
  CHECK(u.special("<|endoftext|>") == 257);
  CHECK(u.special("PAD") == 258);
  CHECK(u.encode("ab's ab", SpecialText::kRecognise) == t.encode("ab's ab", SpecialText::kRecognise));
  nlohmann::json j = u.to_json();
  CHECK(j["pretokenizer"] == "gpt2");
  CHECK(j["byte_ids"][33] == 0);
  CHECK(j["specials"]["<|endoftext|>"] == 257);
  // The archive inside a checkpoint tells its version by its first string.
  ArchiveWriter w;
  u.write(w);
  ArchiveReader r(w.bytes(), "ckpt");
  CHECK(r.str("tag") == "v2");

  // A byte table that does not match the tokens is refused.
  std::string bad = bytes;
  // The table follows token "ab", the merge count, the merge and the table's size.
  const size_t at = bad.find("ab") + 2 + 4 + 8 + 4;
  REQUIRE(bad[at] == static_cast<char>(223));  // byte 0 is token 223
  bad[at] = 9;                                 // token 9 is byte 42, not byte 0
  const size_t body = bad.size() - 8;
  const uint64_t sum = fnv1a64(std::string_view(bad).substr(0, body));
  for (int i = 0; i < 8; ++i) bad[body + static_cast<size_t>(i)] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  write_bytes(dir.file("bad.tok"), bad);
  CHECK_THROWS_WITH_AS(Tokenizer::load(dir.file("bad.tok")), doctest::Contains("as the byte table says"), Error);
}

TEST_CASE("tokenizer: version 1 files written by an earlier qkv still load and encode as they did") {
  const std::filesystem::path fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";
  // `qkv tokenizer train` of that version on "the cat sat on the mat. the cat ate.\n" (bpe: --vocab-size 262).
  const Tokenizer bpe = Tokenizer::load((fixtures / "tokenizer-v1-bpe.tok").string());
  REQUIRE(read_file((fixtures / "tokenizer-v1-bpe.tok").string()).substr(6, 4) == std::string("\1\0\0\0", 4));
  CHECK(bpe.kind() == TokenizerKind::Bpe);
  CHECK(bpe.pretokenizer() == Pretokenizer::Qkv);
  CHECK(bpe.byte_ids()['a'] == 'a');
  CHECK(bpe.encode("the cat ate the mat") == std::vector<int32_t>{258, 261, 32, 256, 101, 260, 32, 109, 256});
  const Tokenizer chr = Tokenizer::load((fixtures / "tokenizer-v1-char.tok").string());
  CHECK(chr.encode("the cat") == std::vector<int32_t>{11, 6, 5, 1, 4, 3, 11});
  // Saved again, they become version 2 and encode the same.
  TempDir dir;
  bpe.save(dir.file("again.tok"));
  CHECK(Tokenizer::load(dir.file("again.tok")).encode("the cat ate") == bpe.encode("the cat ate"));
}
