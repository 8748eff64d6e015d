// Byte-level BPE: pre-token splits, merges computed by hand, lossless round trips on any bytes, and
// encoding that agrees with a plain reference implementation of the merge rules.
#include <doctest/doctest.h>

#include <map>

#include "core/error.h"
#include "core/rng.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

using namespace qkv;

namespace {

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  Pretokens pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) out.emplace_back(piece);
  return out;
}

std::string random_bytes(Rng& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.next_u32() & 0xFF);
  return s;
}

// Text of random "words" over a small alphabet, so that training finds many merges.
std::string random_words(Rng& rng, int n_words) {
  const std::string letters = "abcde";
  const std::string symbols[] = {" ", " ", " ", "  ", "\n", ", ", "42", "!"};
  std::string s;
  for (int w = 0; w < n_words; ++w) {
    int len = 1 + static_cast<int>(rng.next_u32() % 7);
    for (int i = 0; i < len; ++i) s += letters[rng.next_u32() % letters.size()];
    s += symbols[rng.next_u32() % 8];
  }
  return s;
}

// The merge rules applied literally: for each merge in order, join every occurrence in each pre-token, left
// to right. Slow, obviously right.
std::vector<int32_t> reference_encode(const Tokenizer& t, std::string_view text) {
  std::vector<int32_t> out;
  Pretokens pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) {
    std::vector<int32_t> ids;
    for (char c : piece) ids.push_back(static_cast<unsigned char>(c));
    for (size_t m = 0; m < t.merges().size(); ++m) {
      auto [a, b] = t.merges()[m];
      std::vector<int32_t> next;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
          next.push_back(256 + static_cast<int32_t>(m));
          ++i;
        } else {
          next.push_back(ids[i]);
        }
      }
      ids = std::move(next);
    }
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

// Training without any incremental bookkeeping: recount every pair before each merge.
std::vector<std::pair<int32_t, int32_t>> reference_train(std::string_view text, int n_merges) {
  std::map<std::string, int64_t> counts;
  Pretokens pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) ++counts[std::string(piece)];
  std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
  for (const auto& [w, c] : counts) {
    std::vector<int32_t> ids;
    for (char ch : w) ids.push_back(static_cast<unsigned char>(ch));
    words.emplace_back(ids, c);
  }
  std::vector<std::pair<int32_t, int32_t>> merges;
  for (int m = 0; m < n_merges; ++m) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pairs;
    for (const auto& [ids, c] : words)
      for (size_t i = 0; i + 1 < ids.size(); ++i) pairs[{ids[i], ids[i + 1]}] += c;
    if (pairs.empty()) break;
    auto best = pairs.begin();  // the map is ordered by pair, so the first maximum is the smallest pair
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [a, b] = best->first;
    merges.emplace_back(a, b);
    for (auto& [ids, c] : words) {
      std::vector<int32_t> next;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
          next.push_back(256 + m);
          ++i;
        } else {
          next.push_back(ids[i]);
        }
      }
      ids = std::move(next);
    }
  }
  return merges;
}

}  // namespace

TEST_CASE("tokenizer: pre-tokens split letters, digits, spaces and symbols, a space joining the next word") {
  CHECK(split("Hello world  foo123 bar!!\n\nbaz") ==
        std::vector<std::string>{"Hello", " world", " ", " foo", "123", " bar", "!!", "\n\n", "baz"});
  CHECK(split("caf\xC3\xA9 au lait") == std::vector<std::string>{"caf\xC3\xA9", " au", " lait"});
  CHECK(split(" 42 ,x") == std::vector<std::string>{" ", "42", " ", ",", "x"});
  CHECK(split(std::string_view("a\0\0b", 4)) == std::vector<std::string>{"a", std::string(2, '\0'), "b"});
  CHECK(split("").empty());
  // Long runs are cut every kMaxPretoken bytes.
  std::vector<std::string> long_run = split(std::string(300, 'a'));
  REQUIRE(long_run.size() == 3);
  CHECK(long_run[0].size() == Pretokens::kMaxPretoken);
  CHECK(long_run[2].size() == 300 - 2 * Pretokens::kMaxPretoken);
}

TEST_CASE("tokenizer: bpe on a hand-made corpus learns the merges computed by hand") {
  // Pre-tokens "aaab", " aaab", " ab". Pair counts: (a,a) 4, (a,b) 3, ( ,a) 2 -> merge a+a = 256 "aa".
  // Then (a,b) 3 -> 257 "ab"; then (aa,ab) 2 -> 258 "aaab". Left: ( ,ab) 1 and ( ,aaab) 1, a tie broken by
  // the smaller pair: ( ,ab) -> 259, then ( ,aaab) -> 260. Then no pair is left, so training stops at 261.
  Tokenizer t = Tokenizer::train_bpe("aaab aaab ab", 300, {"PAD", "EOS"});
  CHECK(t.kind() == TokenizerKind::Bpe);
  CHECK(t.merges() == std::vector<std::pair<int32_t, int32_t>>{{97, 97}, {97, 98}, {256, 257}, {32, 257}, {32, 258}});
  CHECK(t.size() == 263);
  CHECK(t.tokens()[256] == "aa");
  CHECK(t.tokens()[258] == "aaab");
  CHECK(t.tokens()[260] == " aaab");
  CHECK(t.special("PAD") == 261);
  CHECK(t.special("EOS") == 262);
  CHECK(t.encode("aaab aaab ab") == std::vector<int32_t>{258, 260, 259});
  CHECK(t.encode("aaaa") == std::vector<int32_t>{256, 256});
  CHECK(t.encode("aaa") == std::vector<int32_t>{256, 97});  // leftmost first
  CHECK(t.encode("abab") == std::vector<int32_t>{257, 257});
  CHECK(t.encode("b ab!") == std::vector<int32_t>{98, 259, 33});

  // A smaller target stops after the first merges.
  Tokenizer small = Tokenizer::train_bpe("aaab aaab ab", 258);
  CHECK(small.merges() == std::vector<std::pair<int32_t, int32_t>>{{97, 97}, {97, 98}});
  CHECK(small.encode("aaab") == std::vector<int32_t>{256, 257});
}

TEST_CASE("tokenizer: bpe vocab_size must leave room for the bytes and the specials") {
  CHECK_THROWS_WITH_AS(Tokenizer::train_bpe("abc", 256, {"PAD"}), doctest::Contains("vocab_size 256"), Error);
  CHECK_THROWS_AS(Tokenizer::train_bpe("abc", -5), Error);
  Tokenizer bytes_only = Tokenizer::train_bpe("", 256);
  CHECK(bytes_only.size() == 256);
  CHECK(bytes_only.encode("hi") == std::vector<int32_t>{'h', 'i'});
}

TEST_CASE("tokenizer: bpe round-trips any bytes, including NUL and invalid UTF-8") {
  Rng rng(7);
  const std::string corpus = random_bytes(rng, 20000) + random_words(rng, 2000);
  Tokenizer t = Tokenizer::train_bpe(corpus, 600, {"BOS"});
  CHECK(t.size() == 600);
  CHECK(t.decode(t.encode(corpus)) == corpus);
  for (int trial = 0; trial < 20; ++trial) {
    std::string s = random_bytes(rng, rng.next_u32() % 500);
    std::vector<int32_t> ids = t.encode(s);
    for (int32_t id : ids) CHECK_FALSE(t.is_special(id));
    CHECK(t.decode(ids) == s);
  }
  const std::string odd("\0\xFF\xC3(\xED\xA0\x80 \0x", 10);
  CHECK(t.decode(t.encode(odd)) == odd);
  CHECK(t.encode("").empty());
}

TEST_CASE("tokenizer: bpe encoding equals the merge rules applied in order") {
  Rng rng(3);
  const std::string corpus = random_words(rng, 3000);
  Tokenizer t = Tokenizer::train_bpe(corpus, 500);
  CHECK(t.merges().size() == 244);
  const std::string text = random_words(rng, 300) + std::string(200, 'a') + "abcabcabc";
  std::vector<int32_t> ids = t.encode(text);
  CHECK(ids == reference_encode(t, text));
  CHECK(ids.size() < text.size() / 2);  // merges do compress
  CHECK(t.decode(ids) == text);
}

TEST_CASE("tokenizer: bpe incremental training learns the merges of full recounting") {
  Rng rng(5);
  // Repeated letters exercise overlapping pairs ("aaaa", "abab").
  std::string corpus = random_words(rng, 1500) + " aaaa aaaaa abab ababab aaa" + std::string(40, 'b');
  Tokenizer t = Tokenizer::train_bpe(corpus, 256 + 150);
  CHECK(t.merges() == reference_train(corpus, 150));
}

TEST_CASE("tokenizer: bpe training is deterministic") {
  Rng a(11), b(11);
  const std::string corpus = random_words(a, 1000);
  CHECK(corpus == random_words(b, 1000));
  Tokenizer t1 = Tokenizer::train_bpe(corpus, 400), t2 = Tokenizer::train_bpe(corpus, 400);
  CHECK(t1.merges() == t2.merges());
}
