// Token files (NOTE [token files]): layouts of nanoGPT's raw files and llm.c's shards, checked reading, a glob of
// shards as one memory-mapped stream, meta.json, and windows equal to those of the same tokens in memory.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/lm_dataset.h"
#include "data/token_corpus.h"
#include "data/token_file.h"
#include "data/token_meta.h"
#include "data/token_writer.h"
#include "temp_dir.h"

using namespace qkv;
namespace fs = std::filesystem;

namespace {

struct TokenDir : test::TempDir {
  TokenDir() : TempDir("token_files") {}
  std::string tokens(const std::string& name, const std::vector<int32_t>& ids, TokenDtype dtype, bool llmc) const {
    const std::string p = (path / name).string();
    TokenWriter w(p, dtype, llmc);
    w.write(ids);
    w.close();
    return p;
  }
};

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<int32_t> iota(int32_t n, int32_t first = 0) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}

// An llm.c header: magic, version, count, then zeros.
std::string llmc_header(int32_t magic, int32_t version, int32_t count) {
  std::string h(kLlmcHeaderBytes, '\0');
  const int32_t v[3] = {magic, version, count};
  for (int i = 0; i < 12; ++i)
    h[static_cast<size_t>(i)] = static_cast<char>(static_cast<uint32_t>(v[i / 4]) >> (8 * (i % 4)));
  return h;
}

}  // namespace

TEST_CASE("token files: raw uint16 and uint32 layouts, little-endian, and odd byte counts") {
  const std::string raw("\x01\x00\x02\x01\xff\xff", 6);
  TokenLayout l = token_layout(span_of(raw), raw.size(), TokenDtype::U16, "t.bin");
  CHECK(!l.llmc);
  CHECK(l.offset == 0);
  CHECK(l.count == 3);
  std::vector<int32_t> out(3);
  read_tokens(reinterpret_cast<const uint8_t*>(raw.data()), l, 0, 3, 70000, out.data(), "t.bin");
  CHECK(out == std::vector<int32_t>{1, 258, 65535});
  // The last id is outside a vocabulary of 50257: the error names the file, the id and where it is.
  CHECK_THROWS_WITH_AS(read_tokens(reinterpret_cast<const uint8_t*>(raw.data()), l, 1, 2, 50257, out.data(), "t.bin"),
                       "t.bin: token id 65535 at token 2 (byte 4) is outside the vocabulary of 50257 ids", Error);
  CHECK_THROWS_WITH_AS(token_layout(span_of(raw), 5, TokenDtype::U16, "t.bin"),
                       "t.bin: 5 bytes, not a whole number of uint16 tokens (2 bytes each)", Error);
  CHECK_THROWS_WITH_AS(token_layout(span_of(raw), 6, TokenDtype::U32, "t.bin"),
                       "t.bin: 6 bytes, not a whole number of uint32 tokens (4 bytes each)", Error);
  const std::string wide("\x10\x27\x01\x00", 4);  // 75536
  l = token_layout(span_of(wide), 4, TokenDtype::U32, "w.bin");
  read_tokens(reinterpret_cast<const uint8_t*>(wide.data()), l, 0, 1, 80000, out.data(), "w.bin");
  CHECK(out[0] == 75536);
}

TEST_CASE("token files: llm.c shards: the header's magic, version and count") {
  std::string shard = llmc_header(kLlmcShardMagic, 1, 2) + std::string("\x05\x00\x06\x00", 4);
  TokenLayout l = token_layout(span_of(shard), shard.size(), TokenDtype::U32, "s.bin");
  CHECK(l.llmc);
  CHECK(l.offset == 1024);
  CHECK(l.count == 2);
  CHECK(l.dtype == TokenDtype::U16);  // whatever a meta.json says of raw files
  std::vector<int32_t> out(2);
  read_tokens(reinterpret_cast<const uint8_t*>(shard.data()), l, 0, 2, 7, out.data(), "s.bin");
  CHECK(out == std::vector<int32_t>{5, 6});
  CHECK_THROWS_WITH_AS(token_layout(span_of(shard), shard.size() - 2, TokenDtype::U16, "s.bin"),
                       "s.bin: 1026 bytes do not match the llm.c header's 2 tokens (expected 1028 bytes: 1024 of "
                       "header and 2 per token)",
                       Error);
  const std::string v2 = llmc_header(kLlmcShardMagic, 2, 0);
  CHECK_THROWS_WITH_AS(token_layout(span_of(v2), v2.size(), TokenDtype::U16, "s.bin"),
                       "s.bin: llm.c shard of version 2, expected 1 (uint16 tokens)", Error);
  const std::string negative = llmc_header(kLlmcShardMagic, 1, -3);
  CHECK_THROWS_AS(token_layout(span_of(negative), negative.size(), TokenDtype::U16, "s.bin"), Error);
  const std::string short_header = llmc_header(kLlmcShardMagic, 1, 0).substr(0, 100);
  CHECK_THROWS_WITH_AS(token_layout(span_of(short_header), 100, TokenDtype::U16, "s.bin"),
                       "s.bin: 100 bytes, shorter than llm.c's header of 1024", Error);
}

TEST_CASE("token files: TokenWriter writes what the readers read, header included") {
  TokenDir dir;
  const std::string p = dir.tokens("a.bin", {1, 2, 65535}, TokenDtype::U16, true);
  const std::string b = bytes_of(p);
  CHECK(b.size() == 1024 + 6);
  CHECK(b.substr(0, 12) == llmc_header(kLlmcShardMagic, 1, 3).substr(0, 12));
  CHECK(b.substr(12, 1012) == std::string(1012, '\0'));
  TokenCorpus c(p, 65536);
  CHECK(c.size() == 3);
  CHECK(c.llmc());
  std::vector<int32_t> out(3);
  c.copy(0, 3, out.data());
  CHECK(out == std::vector<int32_t>{1, 2, 65535});
}

TEST_CASE("token files: a glob of shards is one stream, and windows cross from shard to shard") {
  TokenDir dir;
  dir.tokens("x_val_000000.bin", iota(5, 1000), TokenDtype::U16, true);
  dir.tokens("x_train_000001.bin", iota(7), TokenDtype::U16, true);
  dir.tokens("x_train_000002.bin", {}, TokenDtype::U16, true);  // an empty shard in between is skipped over
  dir.tokens("x_train_000003.bin", iota(6, 7), TokenDtype::U16, true);
  TokenCorpus c((dir.path / "x_train_*.bin").string(), 13);
  REQUIRE(c.paths().size() == 3);
  CHECK(c.paths()[0].ends_with("x_train_000001.bin"));
  CHECK(c.size() == 13);
  std::vector<int32_t> out(6);
  c.copy(4, 6, out.data());
  CHECK(out == std::vector<int32_t>{4, 5, 6, 7, 8, 9});
  // The same windows as the same tokens in memory: the same offsets from the same draws.
  auto mapped = std::make_shared<TokenCorpus>((dir.path / "x_train_*.bin").string(), 13);
  LmSplit from_files = split_lm(mapped, "x", 0.25);
  LmSplit in_memory = split_lm(iota(13), "x", 0.25);
  Rng a(7), b(7);
  CHECK(from_files.train.batch(3, 4, a).inputs.data == in_memory.train.batch(3, 4, b).inputs.data);
  CHECK(from_files.val.tokens(0, from_files.val.size()) == std::vector<int32_t>{9, 10, 11, 12});  // int(13 * 0.75) = 9
  CHECK_THROWS_WITH_AS(TokenCorpus((dir.path / "y_*.bin").string(), 13), doctest::Contains("y_*.bin: matches no file"),
                       Error);
  // An id past the vocabulary is found when a window holding it is read, not before.
  TokenCorpus small((dir.path / "x_train_*.bin").string(), 10);
  std::vector<int32_t> ten(10);
  small.copy(0, 10, ten.data());  // ids 0 to 9 all fit
  CHECK(ten == iota(10));
  CHECK_THROWS_WITH_AS(small.copy(8, 3, std::vector<int32_t>(3).data()),
                       doctest::Contains("x_train_000003.bin: token id 10 at token 3 (byte 1030)"), Error);
}

TEST_CASE("token files: a shard with a wrong magic among shards, and a raw file where meta.json says llmc") {
  TokenDir dir;
  dir.tokens("x_train_000001.bin", iota(3), TokenDtype::U16, true);
  dir.tokens("x_train_000002.bin", iota(3), TokenDtype::U16, false);
  CHECK_THROWS_WITH_AS(TokenCorpus((dir.path / "x_train_*.bin").string(), 10),
                       doctest::Contains("x_train_000002.bin: starts with 65536, not llm.c's magic 20240520"), Error);
}

TEST_CASE("token files: meta.json gives raw files their dtype and its counts must hold") {
  TokenDir dir;
  TokenMeta m;
  m.dtype = TokenDtype::U32;
  m.vocab_size = 70000;
  m.files["train.bin"] = 3;
  dir.write("meta.json", token_meta_json(m));
  const std::string p = dir.tokens("train.bin", {1, 69999, 65536}, TokenDtype::U32, false);
  TokenCorpus c(p, 70000);
  REQUIRE(c.meta().has_value());
  CHECK(c.meta()->vocab_size == 70000);
  std::vector<int32_t> out(3);
  c.copy(0, 3, out.data());
  CHECK(out == std::vector<int32_t>{1, 69999, 65536});
  m.files["train.bin"] = 4;
  dir.write("meta.json", token_meta_json(m));
  CHECK_THROWS_WITH_AS(TokenCorpus(p, 70000),
                       doctest::Contains("holds 3 tokens, but the meta.json beside it records 4"), Error);
  m.format = "llmc";
  m.files.clear();
  dir.write("meta.json", token_meta_json(m));
  CHECK_THROWS_WITH_AS(TokenCorpus(p, 70000), doctest::Contains("not llm.c's magic 20240520 (its meta.json says llmc)"),
                       Error);
}

TEST_CASE("token files: meta.json round trip and its errors") {
  TokenMeta m;
  m.format = "llmc";
  m.vocab_size = 50257;
  m.tokenizer = "gpt2.tok";
  m.tokenizer_sha256 = std::string(64, 'a');
  m.eot = 50256;
  m.documents = 3;
  m.files = {{"a_val_000000.bin", 10}, {"a_train_000001.bin", 90}};
  const TokenMeta back = parse_token_meta(token_meta_json(m), "meta.json");
  CHECK(back.format == "llmc");
  CHECK(back.dtype == TokenDtype::U16);
  CHECK(back.vocab_size == 50257);
  CHECK(back.tokenizer_sha256 == m.tokenizer_sha256);
  CHECK(back.eot == 50256);
  CHECK(back.files == m.files);
  CHECK(parse_token_meta(R"({"dtype": "uint32"})", "m").dtype == TokenDtype::U32);  // by hand: dtype alone
  CHECK_THROWS_WITH_AS(parse_token_meta(R"({"dtype": "int8"})", "m"),
                       "m: \"dtype\" is 'int8', expected uint16 or uint32", Error);
  CHECK_THROWS_WITH_AS(parse_token_meta(R"({"dtype": "uint16", "vocab_size": "x"})", "m"),
                       "m: \"vocab_size\" is \"x\", expected an integer", Error);
  CHECK_THROWS_AS(parse_token_meta(R"({"dtype": "uint16", "vocab_size": 5, "eot": 5})", "m"), Error);
  CHECK_THROWS_AS(parse_token_meta(R"({"dtype": "uint16", "files": {"a": -1}})", "m"), Error);
  CHECK_THROWS_AS(parse_token_meta("[1", "m"), Error);
}

TEST_CASE("token files: a data path is token files when it ends in .bin") {
  CHECK(is_token_path("out/train.bin"));
  CHECK(is_token_path("shards/x_train_*.bin"));
  CHECK(!is_token_path("data/austen.txt"));
  CHECK(!is_token_path("bin"));
}
