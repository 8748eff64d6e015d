// `qkv prepare`'s pipeline: safe cuts, chunked encoding equal to whole-text encoding for every pre-tokenizer,
// nanoGPT's split of one text, documents with end-of-text ids, llm.c's shard names, uint32 for big vocabularies.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/archive.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/prepare_corpus.h"
#include "data/text_chunks.h"
#include "data/token_corpus.h"
#include "temp_dir.h"

using namespace qkv;
namespace fs = std::filesystem;

namespace {

// Text with what pre-tokenizers are picky about: runs of spaces and newlines, contractions, digits, symbols,
// UTF-8 letters, lines that start with a space.
std::string varied_text(int copies) {
  std::string t;
  for (int i = 0; i < copies; ++i)
    t += "ROMEO: It's 12 o'clock,  and\n\nthe cat's   mat--\n tea? caf\xc3\xa9 \xe2\x82\xac" + std::to_string(i) +
         " isn't here.\n  Then\tshe said: \"we'll go\".\r\nEnd. Word word\n";
  return t;
}

std::vector<int32_t> read_all(const std::string& path, int64_t vocab) {
  TokenCorpus c(path, vocab);
  std::vector<int32_t> out(static_cast<size_t>(c.size()));
  c.copy(0, c.size(), out.data());
  return out;
}

// GPT-2's exact pre-tokenizer over a small trained vocabulary.
Tokenizer gpt2_style(const Tokenizer& trained) {
  BpeVocab v;
  v.tokens = trained.tokens();
  for (const auto& [a, b] : trained.merges())
    v.merges.emplace_back(trained.tokens()[static_cast<size_t>(a)], trained.tokens()[static_cast<size_t>(b)]);
  v.specials = {"<|endoftext|>"};
  v.pretokenizer = Pretokenizer::Gpt2;
  return Tokenizer::from_vocab(v, "test");
}

// Options that write to `out` in `dir`, with `t` saved there as `tok` (meta.json records its name and sha256).
PrepareOptions options_for(const Tokenizer& t, const test::TempDir& dir, const std::string& tok,
                           const std::string& out) {
  PrepareOptions o;
  o.tokenizer_file = (dir.path / tok).string();
  t.save(o.tokenizer_file);
  o.out = (dir.path / out).string();
  return o;
}

}  // namespace

TEST_CASE("prepare: safe cuts sit before a space or newline between a printable character and a letter") {
  CHECK(last_safe_cut("the cat sat") == 7);    // "the cat| sat"
  CHECK(last_safe_cut("end.\nThe") == 4);      // before the newline
  CHECK(last_safe_cut("a  b") == 0);           // a run of spaces: GPT-2 would give its last one to "b"
  CHECK(last_safe_cut("a\n\nb") == 0);         // "\n\n" is one piece, or two, depending on what follows
  CHECK(last_safe_cut("a 1") == 0);            // not before a letter
  CHECK(last_safe_cut("caf\xc3\xa9 b") == 0);  // not after a non-ASCII byte
  CHECK(last_safe_cut("") == 0);
  CHECK(last_safe_cut("ab") == 0);
}

TEST_CASE("prepare: text chunks put back together are the file, for any chunk size") {
  test::TempDir dir("prepare");
  const std::string text = varied_text(20) + "tail without a cut";
  const std::string path = dir.write("t.txt", text);
  for (size_t bytes : {1, 7, 64, 1000, 100000}) {
    TextChunks chunks(path, bytes);
    CHECK(chunks.size() == text.size());
    std::string joined, chunk;
    int n = 0;
    while (chunks.next(chunk)) {
      CHECK(!chunk.empty());
      joined += chunk;
      ++n;
    }
    CHECK(joined == text);
    if (bytes == 64) CHECK(n > 20);
  }
  CHECK_THROWS_WITH_AS(TextChunks((dir.path / "none.txt").string(), 10), doctest::Contains("none.txt: no such file"),
                       Error);
}

TEST_CASE("prepare: chunked encoding gives the ids of the whole text (char, qkv BPE, GPT-2's pre-tokenizer)") {
  test::TempDir dir("prepare");
  const std::string text = varied_text(40);
  const std::string input = dir.write("doc.txt", text);
  const Tokenizer bpe = Tokenizer::train_bpe(text, 330);
  for (const Tokenizer& t : {Tokenizer::train_char(text), bpe, gpt2_style(bpe)}) {
    PrepareOptions o = options_for(t, dir, "t.tok", "out");
    o.inputs = {input};
    o.val_fraction = 0.0;
    o.chunk_bytes = 48;  // many chunks, each cut at a safe place
    const PrepareResult r = prepare_corpus(t, o, {});
    std::vector<int32_t> whole = t.encode(text);
    const int32_t eot = end_of_text(t);
    if (eot >= 0) whole.push_back(eot);
    CHECK(r.train_tokens == static_cast<int64_t>(whole.size()));
    CHECK(read_all(o.out + "/train.bin", t.size()) == whole);
    CHECK(r.meta.tokenizer_sha256 == sha256_file(o.tokenizer_file));
    CHECK(r.meta.vocab_size == t.size());
  }
}

TEST_CASE("prepare: one text splits as nanoGPT's prepare.py: train = tokens[:int(n * 0.9)]") {
  test::TempDir dir("prepare");
  const std::string text = varied_text(30);
  const Tokenizer t = Tokenizer::train_char(text);
  PrepareOptions o = options_for(t, dir, "c.tok", "sc");
  o.inputs = {dir.write("one.txt", text)};
  int calls = 0;
  const PrepareResult r = prepare_corpus(t, o, [&](const PrepareProgress& p) {
    ++calls;
    CHECK(p.total_bytes == text.size());
  });
  CHECK(calls >= 1);
  const std::vector<int32_t> ids = t.encode(text);
  const auto n_train = static_cast<int64_t>(static_cast<double>(ids.size()) * 0.9);
  CHECK(r.train_tokens == n_train);
  CHECK(r.val_tokens == static_cast<int64_t>(ids.size()) - n_train);
  CHECK(read_all(o.out + "/train.bin", t.size()) == std::vector<int32_t>(ids.begin(), ids.begin() + n_train));
  CHECK(read_all(o.out + "/val.bin", t.size()) == std::vector<int32_t>(ids.begin() + n_train, ids.end()));
  const TokenMeta m = parse_token_meta(read_file(o.out + "/meta.json"), "meta.json");
  CHECK(m.format == "nanogpt");
  CHECK(m.dtype == TokenDtype::U16);
  CHECK(m.eot == -1);  // a char vocabulary has no end-of-text id: nothing follows the text
  CHECK(m.files.at("train.bin") == n_train);
  CHECK(m.files.at("val.bin") == r.val_tokens);
  CHECK(!fs::exists(o.out + "/train.bin.tmp"));
}

TEST_CASE("prepare: documents end with <|endoftext|>, and val takes the last documents") {
  test::TempDir dir("prepare");
  const std::vector<std::string> docs = {varied_text(9), varied_text(8), "a short one.\n", varied_text(2)};
  std::string all;
  for (const std::string& d : docs) all += d;
  const Tokenizer t = Tokenizer::train_bpe(all, 300, {"<|endoftext|>"});
  const int32_t eot = t.special("<|endoftext|>");
  CHECK(end_of_text(t) == eot);
  PrepareOptions o = options_for(t, dir, "b.tok", "docs");
  for (size_t i = 0; i < docs.size(); ++i) o.inputs.push_back(dir.write("d" + std::to_string(i) + ".txt", docs[i]));
  o.val_fraction = 0.15;  // the last two documents hold about 12% of the bytes, the last one 10%, three 55%
  const PrepareResult r = prepare_corpus(t, o, {});
  std::vector<int32_t> train, val;
  for (size_t i = 0; i < docs.size(); ++i) {
    std::vector<int32_t>& to = i < 2 ? train : val;
    for (int32_t id : t.encode(docs[i])) to.push_back(id);
    to.push_back(eot);
  }
  CHECK(read_all(o.out + "/train.bin", t.size()) == train);
  CHECK(read_all(o.out + "/val.bin", t.size()) == val);
  CHECK(r.meta.eot == eot);
  CHECK(r.meta.documents == 4);
  // A special's text in a document stays text: only the separators are end-of-text ids.
  const std::string spoof = dir.write("spoof.txt", "say <|endoftext|> here");
  o.inputs = {spoof};
  o.val_fraction = 0;
  prepare_corpus(t, o, {});
  std::vector<int32_t> ids = read_all(o.out + "/train.bin", t.size());
  CHECK(std::count(ids.begin(), ids.end(), eot) == 1);
  CHECK(ids.back() == eot);
}

TEST_CASE("prepare: llm.c shards: NAME_val_000000.bin first, then the train shards, each with its header") {
  test::TempDir dir("prepare");
  const std::string text = varied_text(10);
  const Tokenizer t = Tokenizer::train_char(text, {"EOS"});
  PrepareOptions o = options_for(t, dir, "c.tok", "shards");
  o.inputs = {dir.write("a.txt", text), dir.write("b.txt", text)};
  o.llmc = true;
  o.name = "tiny";
  o.shard_tokens = 300;
  o.val_fraction = 0.4;
  fs::create_directories(o.out);
  dir.write("shards/tiny_train_000009.bin", "stale");  // an earlier run's shard would join the glob
  const PrepareResult r = prepare_corpus(t, o, {});
  const int64_t per_doc = static_cast<int64_t>(t.encode(text).size()) + 1;  // characters and EOS
  CHECK(r.train_tokens == per_doc);
  CHECK(r.val_tokens == per_doc);
  std::vector<std::string> names;
  for (const auto& [path, count] : r.files) names.push_back(fs::path(path).filename().string());
  const int64_t shards = (per_doc + 299) / 300;
  REQUIRE(static_cast<int64_t>(names.size()) == 2 * shards);
  CHECK(names.front() == "tiny_val_000000.bin");
  CHECK(names[static_cast<size_t>(shards)] ==
        "tiny_train_" + std::string(6 - std::to_string(shards).size(), '0') + std::to_string(shards) + ".bin");
  CHECK(!fs::exists(o.out + "/tiny_train_000009.bin"));
  CHECK(r.files.front().second == 300);
  TokenCorpus train(o.out + "/tiny_train_*.bin", t.size());
  CHECK(train.llmc());
  CHECK(train.size() == per_doc);
  std::vector<int32_t> ids(static_cast<size_t>(per_doc));
  train.copy(0, per_doc, ids.data());
  std::vector<int32_t> want = t.encode(text);
  want.push_back(t.special("EOS"));
  CHECK(ids == want);
  CHECK(parse_token_meta(read_file(o.out + "/meta.json"), "m").format == "llmc");
}

TEST_CASE("prepare: uint32 tokens when the vocabulary has more than 65,536 ids; llm.c's uint16 shards refuse it") {
  test::TempDir dir("prepare");
  std::string text;  // 65,600 distinct characters: U+0100 onwards, past the surrogates
  for (uint32_t cp = 0x100, n = 0; n < 65600; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    if (cp < 0x800) {
      text += static_cast<char>(0xC0 | (cp >> 6));
    } else if (cp < 0x10000) {
      text += static_cast<char>(0xE0 | (cp >> 12));
      text += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    } else {
      text += static_cast<char>(0xF0 | (cp >> 18));
      text += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      text += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    }
    text += static_cast<char>(0x80 | (cp & 0x3F));
    ++n;
  }
  const Tokenizer t = Tokenizer::train_char(text);
  REQUIRE(t.size() == 65600);
  PrepareOptions o = options_for(t, dir, "wide.tok", "wide");
  o.inputs = {dir.write("wide.txt", text)};
  const PrepareResult r = prepare_corpus(t, o, {});
  CHECK(r.meta.dtype == TokenDtype::U32);
  CHECK(fs::file_size(o.out + "/train.bin") == 4 * static_cast<uint64_t>(r.train_tokens));
  const std::vector<int32_t> ids = read_all(o.out + "/val.bin", t.size());
  CHECK(ids.back() == 65599);  // read back with the dtype of the meta.json beside it
  o.llmc = true;
  CHECK_THROWS_WITH_AS(prepare_corpus(t, o, {}), doctest::Contains("llm.c shards hold uint16 tokens"), Error);
}
