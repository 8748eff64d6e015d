// Character tokenizer: the vocabulary (nanoGPT's 65 characters on tinyshakespeare), round trips, specials
// and the errors for unknown characters and invalid UTF-8.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/archive.h"
#include "core/error.h"
#include "data/tokenizer.h"

using namespace qkv;

namespace {
// The repository root, from this file's path: tests/data/<file>.
std::filesystem::path repo_root() { return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path(); }
}  // namespace

TEST_CASE("tokenizer: char vocabulary is the sorted code points, then the specials") {
  Tokenizer t = Tokenizer::train_char(
      "b\xC3\xA9"
      "ca\nab",
      {"PAD", "CLS"});
  CHECK(t.kind() == TokenizerKind::Char);
  CHECK(t.tokens() == std::vector<std::string>{"\n", "a", "b", "c", "\xC3\xA9", "<PAD>", "<CLS>"});
  CHECK(t.size() == 7);
  CHECK(t.n_ordinary() == 5);
  CHECK(t.special("PAD") == 5);
  CHECK(t.special("CLS") == 6);
  CHECK(t.special("BOS") == -1);
  CHECK(t.is_special(6));
  CHECK_FALSE(t.is_special(4));
  CHECK(t.encode("cab\xC3\xA9\n") == std::vector<int32_t>{3, 1, 2, 4, 0});
  // Text that spells a special's name is ordinary text.
  CHECK_THROWS_AS(t.encode("<PAD>"), Error);
  CHECK(t.decode(std::vector<int32_t>{1, 5, 2, 6}) == "a<PAD>b<CLS>");
  CHECK(t.decode(std::vector<int32_t>{1, 5, 2, 6}, /*skip_specials=*/true) == "ab");
}

TEST_CASE("tokenizer: char round trip over multi-byte characters") {
  const std::string text = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\x98\x80!\n";
  Tokenizer t = Tokenizer::train_char(text);
  CHECK(t.size() == 13);  // h é l o space w ö r d ✓ 😀 ! \n
  std::vector<int32_t> ids = t.encode(text);
  CHECK(ids.size() == 17);  // one id per character, not per byte
  CHECK(t.decode(ids) == text);
}

TEST_CASE("tokenizer: char errors name the character and its byte offset") {
  Tokenizer t = Tokenizer::train_char("abc");
  CHECK_THROWS_WITH_AS(t.encode("abxc"), doctest::Contains("'x' (U+0078) at byte offset 2"), Error);
  CHECK_THROWS_WITH_AS(t.encode("a\xC3\xA9"), doctest::Contains("'\xC3\xA9' (U+00E9) at byte offset 1"), Error);
  CHECK_THROWS_WITH_AS(t.encode("ab\n"), doctest::Contains("'\\n' (U+000A) at byte offset 2"), Error);
  CHECK_THROWS_WITH_AS(t.encode("ab\xFF"), doctest::Contains("invalid UTF-8 at byte offset 2"), Error);
  CHECK_THROWS_WITH_AS(Tokenizer::train_char("abc\xC3(x"), doctest::Contains("byte offset 3"), Error);
  CHECK_THROWS_WITH_AS(Tokenizer::train_char(""), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(t.decode(std::vector<int32_t>{0, 3}), doctest::Contains("id 3 at position 1"), Error);
  CHECK_THROWS_WITH_AS(t.decode(std::vector<int32_t>{-1}), doctest::Contains("id -1"), Error);
  CHECK_THROWS_WITH_AS(Tokenizer::train_char("abc", {"PAD", "SEP"}), doctest::Contains("'SEP'"), Error);
  CHECK_THROWS_WITH_AS(Tokenizer::train_char("abc", {"PAD", "PAD"}), doctest::Contains("twice"), Error);
}

TEST_CASE("tokenizer: a default tokenizer is empty and refuses everything safely") {
  Tokenizer t;
  CHECK(t.size() == 0);
  CHECK(t.encode("").empty());
  CHECK_THROWS_WITH_AS(t.encode("a"), doctest::Contains("'a' (U+0061) at byte offset 0"), Error);
  CHECK_THROWS_AS(t.decode(std::vector<int32_t>{0}), Error);
  t = Tokenizer::train_char("ab");
  CHECK(t.encode("ba") == std::vector<int32_t>{1, 0});
}

TEST_CASE("tokenizer: char with UNK maps unknown characters to it") {
  Tokenizer t = Tokenizer::train_char("abc", {"UNK"});
  CHECK(t.encode("axb\xC3\xA9") == std::vector<int32_t>{0, 3, 1, 3});
  CHECK_THROWS_AS(t.encode("a\xFF"), Error);  // invalid UTF-8 is still an error
}

TEST_CASE("tokenizer: char vocabulary of tinyshakespeare is nanoGPT's 65 characters") {
  const std::filesystem::path path = repo_root() / "data" / "tinyshakespeare.txt";  // shipped in the repository
  const std::string text = read_file(path.string());
  Tokenizer t = Tokenizer::train_char(text);
  REQUIRE(t.size() == 65);
  std::string chars;
  for (const std::string& token : t.tokens()) chars += token;
  CHECK(chars == "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  // The ids of nanoGPT's example (Karpathy's "Let's build GPT").
  CHECK(t.encode("hii there") == std::vector<int32_t>{46, 47, 47, 1, 58, 46, 43, 56, 43});
  std::vector<int32_t> ids = t.encode(text);
  CHECK(ids.size() == text.size());
  CHECK(t.decode(ids) == text);
}
