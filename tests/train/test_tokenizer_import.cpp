// `qkv tokenizer import`'s readers on a tiny GPT-2 vocabulary in each of its forms (tests/train/fixtures/gpt2-tiny:
// GPT-2's 256 bytes in its order, six merges making " t", "he", " the", " c", "at", " cat", and <|endoftext|>),
// the refusals of other tokenizers, and a .tok file as data.tokenizer.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "temp_dir.h"
#include "train/formats/bpe_vocab_files.h"
#include "train/formats/gpt2_bytes.h"
#include "train/formats/tokenizer_json.h"
#include "train/model_io.h"
#include "train/task.h"

using namespace qkv;
namespace fs = std::filesystem;

namespace {

const fs::path kTiny = fs::path(__FILE__).parent_path() / "fixtures" / "gpt2-tiny";

std::string tiny(const char* name) { return (kTiny / name).string(); }

// The tiny vocabulary as Hugging Face's tokenizer.json holds GPT-2's.
nlohmann::json tiny_tokenizer_json() {
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [a, b] : read_merge_lines(read_file(tiny("vocab.bpe")), "vocab.bpe")) merges.push_back(a + " " + b);
  return {{"version", "1.0"},
          {"normalizer", nullptr},
          {"added_tokens", {{{"id", 262}, {"content", "<|endoftext|>"}, {"special", true}}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"vocab", nlohmann::json::parse(read_file(tiny("encoder.json")))},
            {"merges", merges}}}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("gpt2 bytes: the byte-to-unicode spelling and its inverse") {
  CHECK(gpt2_key_bytes("!") == std::string("!"));
  CHECK(gpt2_key_bytes("\xC4\xA0the") == std::string(" the"));  // 'Ġ' is the space
  CHECK(gpt2_key_bytes("\xC4\x8A") == std::string("\n"));       // 'Ċ'
  CHECK(gpt2_key_bytes("\xC4\x80") == std::string(1, '\0'));    // 'Ā'
  CHECK(gpt2_key_bytes("\xC5\x83") == std::string("\xAD"));     // 'Ń', the last one
  CHECK_FALSE(gpt2_key_bytes(" ").has_value());                 // the space itself is not in the table
  CHECK_FALSE(gpt2_key_bytes("\xC5\x84").has_value());          // U+0144
  for (int b = 0; b < 256; ++b)
    CHECK(gpt2_key_bytes(gpt2_bytes_key(std::string(1, static_cast<char>(b)))) == std::string(1, static_cast<char>(b)));
}

TEST_CASE("tokenizer import: encoder.json + vocab.bpe in either order, with GPT-2's ids") {
  for (const std::vector<std::string>& files : {std::vector<std::string>{tiny("encoder.json"), tiny("vocab.bpe")},
                                                std::vector<std::string>{tiny("vocab.bpe"), tiny("encoder.json")}}) {
    Tokenizer t = import_tokenizer(files, {});
    CHECK(t.size() == 263);
    CHECK(t.pretokenizer() == Pretokenizer::Gpt2);
    CHECK(t.byte_ids()['!'] == 0);
    CHECK(t.byte_ids()[' '] == 220);
    CHECK(t.byte_ids()['\n'] == 198);
    CHECK(t.tokens()[258] == " the");
    CHECK(t.special("<|endoftext|>") == 262);
    CHECK(t.encode("the cat sat, the cat's hat\n") ==
          std::vector<int32_t>{83, 257, 261, 220, 82, 260, 11, 258, 261, 6, 82, 220, 71, 260, 198});
    CHECK(t.encode("x<|endoftext|>", SpecialText::kRecognise) == std::vector<int32_t>{87, 262});
  }
}

TEST_CASE("tokenizer import: tokenizer.json and tiktoken files give the same tokenizer") {
  test::TempDir dir("tok_import");
  const Tokenizer want = import_tokenizer({tiny("encoder.json"), tiny("vocab.bpe")}, {});
  nlohmann::json j = tiny_tokenizer_json();
  Tokenizer a = import_tokenizer({dir.write("tokenizer.json", j.dump())}, {});
  CHECK(a.tokens() == want.tokens());
  CHECK(a.merges() == want.merges());
  CHECK(a.specials() == want.specials());
  // The newer merge form ([left, right]), and the pattern written out as a Split before ByteLevel.
  for (auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    m = {s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)};
  }
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", std::string(kGpt2Pattern)}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  CHECK(import_tokenizer({dir.write("tokenizer2.json", j.dump())}, {}).merges() == want.merges());

  std::string ranks;
  const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int32_t id = 0; id < want.n_ordinary(); ++id) {
    const std::string& tok = want.tokens()[static_cast<size_t>(id)];
    std::string enc;
    for (size_t i = 0; i < tok.size(); i += 3) {
      uint32_t w = 0;
      for (size_t k = 0; k < 3; ++k)
        w |= (i + k < tok.size() ? static_cast<unsigned char>(tok[i + k]) : 0u) << (16 - 8 * k);
      const size_t n = std::min<size_t>(3, tok.size() - i);
      for (size_t k = 0; k < 4; ++k) enc += k <= n ? b64[(w >> (18 - 6 * k)) & 63] : '=';
    }
    ranks += enc + " " + std::to_string(id) + "\n";
  }
  const std::string tiktoken = dir.write("tiny.tiktoken", ranks);
  CHECK(error_of([&] { import_tokenizer({tiktoken}, {}); })
            .find("tiny.tiktoken: a tiktoken rank file does not say how text is split before merging; give "
                  "--pattern gpt2") != std::string::npos);
  Tokenizer b = import_tokenizer({tiktoken}, {Pretokenizer::Gpt2, {"<|endoftext|>"}});
  CHECK(b.tokens() == want.tokens());
  CHECK(b.merges() == want.merges());
  CHECK(b.specials() == want.specials());
}

TEST_CASE("tokenizer import: other tokenizers and broken files are refused with one line naming the file") {
  test::TempDir dir("tok_import");
  auto refusal = [&](const nlohmann::json& j) {
    return error_of([&] { import_tokenizer({dir.write("t.json", j.dump())}, {}); });
  };
  nlohmann::json j = tiny_tokenizer_json();
  j["model"]["type"] = "WordPiece";
  CHECK(refusal(j).find("t.json: a WordPiece model; only byte-level BPE (GPT-2's kind) is imported") !=
        std::string::npos);
  j = tiny_tokenizer_json();
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", llama3}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  CHECK(refusal(j).find("its pre-tokenizer pattern is not GPT-2's (Llama 3, Qwen and others split differently)") !=
        std::string::npos);
  j = tiny_tokenizer_json();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  CHECK(refusal(j).find("adds a prefix space") != std::string::npos);
  j = tiny_tokenizer_json();
  j["normalizer"] = {{"type", "NFC"}};
  CHECK(refusal(j).find("normalizer NFC") != std::string::npos);
  j = tiny_tokenizer_json();
  j["added_tokens"][0]["special"] = false;
  CHECK(refusal(j).find("added token '<|endoftext|>' is not special") != std::string::npos);
  j = tiny_tokenizer_json();
  j["model"]["ignore_merges"] = true;
  CHECK(refusal(j).find("ignore_merges") != std::string::npos);
  j = tiny_tokenizer_json();
  j["model"]["vocab"].erase("at");
  CHECK(refusal(j).find("t.json: no token has id 260") != std::string::npos);

  const std::string vocab = read_file(tiny("encoder.json")), merges = read_file(tiny("vocab.bpe"));
  const std::string v = dir.write("v.json", vocab);
  CHECK(error_of([&] {
          import_tokenizer({v, dir.write("m.txt", merges + "a b c\n")}, {});
        }).find("m.txt: line 8 is 'a b c', expected two tokens separated by one space") != std::string::npos);
  CHECK(error_of([&] {
          import_tokenizer({v, dir.write("m2.txt", "#version: 0.2\nh e\n\xC4\xA0 t\n")}, {});
        }).find("merge 0 makes 'he', which is token 257; token ids must follow the merges") != std::string::npos);
  CHECK(error_of([&] { import_tokenizer({v}, {}); })
            .find("tokenizer import: expected encoder.json + vocab.bpe, vocab.json + merges.txt, one tokenizer.json "
                  "or one tiktoken file; got a vocabulary (token -> id JSON) (") == 0);
  CHECK(error_of([&] { import_tokenizer({dir.write("bad.json", "{\"a\": ")}, {}); }).find("bad.json: not valid JSON") !=
        std::string::npos);
  CHECK(error_of([&] {
          import_tokenizer({v, dir.write("r.tiktoken", "IQ== 0\nIg== 2\n")}, {});
        }).find("tokenizer import: expected encoder.json") == 0);
  CHECK(error_of([&] {
          import_tokenizer({dir.write("r2.tiktoken", "IQ== 0\nIg== 2\n")}, {Pretokenizer::Gpt2, {}});
        }).find("r2.tiktoken: no token has rank 1") != std::string::npos);
}

TEST_CASE("data.tokenizer: a .tok file serves any task; the specials it lacks are appended") {
  test::TempDir dir("tok_import");
  const std::string tok = (dir.path / "gpt2-tiny.tok").string();
  import_tokenizer({tiny("encoder.json"), tiny("vocab.bpe")}, {}).save(tok);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the cat sat on the mat, the cat's hat.\n";
  const std::string train = dir.write("train.txt", text);
  auto config = [&](const char* kind, const char* task) {
    Config c = parse_config(nlohmann::json::parse(R"({"model": {"n_layer": 1, "n_head": 2, "d_model": 8,
        "block_size": 16}, "train": {"batch_size": 2}})"));
    c.model.kind = *parse_enum(kModelKinds, kind);
    c.data.task = *parse_enum(kTasks, task);
    c.data.train = train;
    c.data.tokenizer = {TokenizerKind::Char, tok};
    return c;
  };
  Config lm = config("gpt", "lm");
  auto lm_task = make_task(lm);
  CHECK(lm_task->tokenizer().size() == 263);  // no specials needed
  CHECK(lm.model.vocab_size == 263);
  Config mlm = config("encoder", "mlm");
  auto mlm_task = make_task(mlm);
  const Tokenizer& t = mlm_task->tokenizer();
  CHECK(t.size() == 267);
  CHECK(t.special("<|endoftext|>") == 262);
  CHECK(t.special("PAD") == 263);
  CHECK(t.special("MASK") == 264);
  CHECK(t.special("CLS") == 265);
  CHECK(t.special("UNK") == 266);
  CHECK(t.encode("the cat") == std::vector<int32_t>{83, 257, 261});

  // The checkpoint keeps the tokenizer whole (version 2 inside), and its config the path.
  const std::string ckpt = (dir.path / "mlm.qkv").string();
  save_checkpoint(ckpt, make_checkpoint(mlm, t, mlm_task->model(), mlm_task->labels()));
  LoadedCheckpoint back = load_model(ckpt);
  CHECK(back.tokenizer->tokens() == t.tokens());
  CHECK(back.tokenizer->byte_ids() == t.byte_ids());
  CHECK(back.tokenizer->pretokenizer() == Pretokenizer::Gpt2);
  CHECK(back.config.data.tokenizer.path == tok);
  CHECK(back.config.model.vocab_size == 267);

  Config bad = config("gpt", "lm");
  bad.data.tokenizer.path = (dir.path / "missing.tok").string();
  CHECK_THROWS_WITH_AS(make_task(bad), doctest::Contains("missing.tok: no such file"), Error);
}

TEST_CASE("checkpoints written before .tok version 2 still load with their tokenizer") {
  // The fixture of tests/train/test_checkpoint.cpp: an untrained GPT from qkv's checkpoint version 1.
  LoadedCheckpoint old = load_model((fs::path(__FILE__).parent_path() / "fixtures" / "checkpoint-v1.qkv").string());
  CHECK(old.tokenizer->size() == old.config.model.vocab_size);
  CHECK(old.tokenizer->pretokenizer() == Pretokenizer::Qkv);
  CHECK(old.tokenizer->decode(old.tokenizer->encode("the cat")) == "the cat");
}
