// Tokenizer::from_vocab on hand-made vocabularies: bytes in a foreign order, merges given or derived from
// ranks, named specials recognised only when asked, and each broken invariant refused with the source named.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
#include "data/tokenizer.h"

using namespace qkv;

namespace {

// Byte b is token 255 - b, as a foreign file may order them; then "ab", "abc", " ab".
BpeVocab small_vocab() {
  BpeVocab v;
  for (int id = 0; id < 256; ++id) v.tokens.push_back(std::string(1, static_cast<char>(255 - id)));
  v.tokens.insert(v.tokens.end(), {"ab", "abc", " ab"});
  v.merges = {{"a", "b"}, {"ab", "c"}, {" ", "ab"}};
  v.specials = {"<|endoftext|>"};
  return v;
}

int32_t byte_id(char c) { return 255 - static_cast<unsigned char>(c); }

}  // namespace

TEST_CASE("bpe import: foreign byte order, merges by rank, GPT-2's split") {
  Tokenizer t = Tokenizer::from_vocab(small_vocab(), "small");
  CHECK(t.kind() == TokenizerKind::Bpe);
  CHECK(t.pretokenizer() == Pretokenizer::Gpt2);
  CHECK(t.size() == 260);
  CHECK(t.n_ordinary() == 259);
  CHECK(t.byte_ids()['a'] == 158);
  CHECK(t.merges() == std::vector<std::pair<int32_t, int32_t>>{{158, 157}, {256, 156}, {223, 256}});
  // "abc" -> ab c -> abc; " ab" -> ' ' ab -> " ab"; " abab" -> ' ' ab ab -> " ab" ab.
  CHECK(t.encode("abc ab abab") == std::vector<int32_t>{257, 258, 258, 256});
  CHECK(t.encode("xa") == std::vector<int32_t>{byte_id('x'), byte_id('a')});
  CHECK(t.decode(t.encode("abc ab abab")) == "abc ab abab");
  CHECK(t.special("<|endoftext|>") == 259);
  CHECK(t.tokens()[259] == "<|endoftext|>");
}

TEST_CASE("bpe import: bytes that are not UTF-8 encode to their byte tokens and decode back") {
  Tokenizer t = Tokenizer::from_vocab(small_vocab(), "small");
  // "ab" merges; 0xFF and the cut-off 0xE4 0xBD are pieces of their own (NOTE [gpt2 pre-tokens]).
  const std::string text =
      "ab\xFF"
      "ab \xE4\xBD";
  CHECK(t.encode(text) ==
        std::vector<int32_t>{256, byte_id('\xFF'), 256, byte_id(' '), byte_id('\xE4'), byte_id('\xBD')});
  CHECK(t.decode(t.encode(text)) == text);
}

TEST_CASE("bpe import: special texts become ids only when asked") {
  Tokenizer t = Tokenizer::from_vocab(small_vocab(), "small");
  const std::string text = "ab<|endoftext|>abc<|endoftext|>";
  std::vector<int32_t> plain = t.encode(text);
  CHECK(std::find(plain.begin(), plain.end(), 259) == plain.end());
  CHECK(t.decode(plain) == text);
  CHECK(t.encode(text, SpecialText::kRecognise) == std::vector<int32_t>{256, 259, 257, 259});
  CHECK(t.encode("<|endoftext|>", SpecialText::kRecognise) == std::vector<int32_t>{259});
  CHECK(t.encode("<|endof", SpecialText::kRecognise) == t.encode("<|endof"));
  // Role specials added for a task are recognised by their text too; the longest text wins where two start.
  Tokenizer u = t.with_specials({"PAD", "EOS"});
  CHECK(u.size() == 262);
  CHECK(u.special("PAD") == 260);
  CHECK(u.special("EOS") == 261);
  CHECK(u.encode("ab<EOS>", SpecialText::kRecognise) == std::vector<int32_t>{256, 261});
  CHECK(u.with_specials({"PAD"}).size() == 262);  // nothing to add
}

TEST_CASE("bpe import: merges derived from ranks alone equal the given ones") {
  BpeVocab ranks = small_vocab();
  ranks.merges.clear();
  CHECK(Tokenizer::from_vocab(ranks, "ranks").merges() == Tokenizer::from_vocab(small_vocab(), "small").merges());
  // "abc" before "ab": the ranks below it leave three parts, which no merge order makes.
  std::swap(ranks.tokens[256], ranks.tokens[257]);
  CHECK_THROWS_WITH_AS(Tokenizer::from_vocab(ranks, "r.tiktoken"),
                       doctest::Contains("r.tiktoken: token 256 'abc' is 3 tokens by the ranks below it"), Error);
}

TEST_CASE("bpe import: a broken vocabulary is refused, naming the source") {
  auto refused = [](BpeVocab v) {
    try {
      Tokenizer::from_vocab(v, "v.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  BpeVocab v = small_vocab();
  v.tokens[5] = "ab";
  CHECK(refused(v).find("v.json: token 5 is 'ab', expected ids 0-255 to be single bytes") == 0);
  v = small_vocab();
  v.tokens[5] = v.tokens[6];
  CHECK(refused(v).find("v.json: byte 0xF9 is token 5 and token 6") == 0);
  v = small_vocab();
  v.merges[1] = {"a", "bc"};
  CHECK(refused(v).find("v.json: merge 1 ('a', 'bc') joins a token that is not in the vocabulary") == 0);
  v = small_vocab();
  std::swap(v.merges[0], v.merges[2]);
  CHECK(refused(v).find("v.json: merge 0 (' ', 'ab') joins token 256, which the merges make only later") == 0);
  v = small_vocab();
  v.merges.pop_back();
  CHECK(refused(v).find("2 merges for 259 ordinary tokens") != std::string::npos);
  v = small_vocab();
  v.specials = {"PAD"};
  CHECK(refused(v).find("special token 'PAD' has the name of one of qkv's roles") != std::string::npos);
  v = small_vocab();
  v.specials.push_back("<|endoftext|>");
  CHECK(refused(v).find("is listed twice") != std::string::npos);
  v = small_vocab();
  v.tokens[257] = "ab";
  CHECK(refused(v).find("token 'ab' is both id 256 and id 257") != std::string::npos);
}
