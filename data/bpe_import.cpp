// A byte-level BPE tokenizer from a foreign vocabulary (GPT-2's files, tiktoken's ranks): every invariant of
// the .tok format checked, merges derived from ranks when the files have none.
#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "data/tokenizer.h"
#include "data/utf8.h"

namespace qkv {

namespace {

// A token for an error message: its text when it is printable UTF-8, else its bytes in hex.
std::string show(std::string_view token) {
  bool printable = !token.empty();
  for (uint64_t i = 0; i < token.size() && printable;) {
    uint32_t cp = 0;
    const int len = utf8_decode(token, i, &cp);
    printable = len > 0 && cp >= 0x20 && cp != 0x7F;
    i += static_cast<uint64_t>(len > 0 ? len : 1);
  }
  if (printable) return "'" + std::string(token) + "'";
  std::string hex = "0x";
  for (unsigned char c : token) hex += describe_byte(c).substr(2);
  return hex;
}

}  // namespace

Tokenizer Tokenizer::from_vocab(const BpeVocab& v, const std::string& source) {
  const size_t n = v.tokens.size();
  QKV_CHECK(n >= 256 && n <= (1u << 24), source, ": ", n, " ordinary tokens, expected the 256 bytes and at most ",
            1u << 24, " in all");
  Tokenizer t;
  t.kind_ = TokenizerKind::Bpe;
  t.pretokenizer_ = v.pretokenizer;
  t.tokens_ = v.tokens;

  // The bytes may come in any order (GPT-2 orders them by its byte-to-unicode table), but must be ids 0-255.
  std::array<bool, 256> seen{};
  for (size_t id = 0; id < 256; ++id) {
    const std::string& tok = v.tokens[id];
    QKV_CHECK(tok.size() == 1, source, ": token ", id, " is ", show(tok), ", expected ids 0-255 to be single bytes");
    const auto b = static_cast<unsigned char>(tok[0]);
    QKV_CHECK(!seen[b], source, ": byte ", describe_byte(b), " is token ", t.byte_ids_[b], " and token ", id);
    seen[b] = true;
    t.byte_ids_[b] = static_cast<int32_t>(id);
  }
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t id = 0; id < n; ++id) {
    auto [it, fresh] = ids.emplace(v.tokens[id], static_cast<int32_t>(id));
    QKV_CHECK(fresh, source, ": token ", show(v.tokens[id]), " is both id ", it->second, " and id ", id);
  }

  if (!v.merges.empty()) {
    QKV_CHECK(v.merges.size() == n - 256, source, ": ", v.merges.size(), " merges for ", n,
              " ordinary tokens, expected one merge per token after the 256 bytes (", n - 256, ")");
    for (size_t i = 0; i < v.merges.size(); ++i) {
      const auto& [left, right] = v.merges[i];
      const auto a = ids.find(left), b = ids.find(right);
      QKV_CHECK(a != ids.end() && b != ids.end(), source, ": merge ", i, " (", show(left), ", ", show(right),
                ") joins a token that is not in the vocabulary");
      const auto made = static_cast<int64_t>(256 + i);
      QKV_CHECK(a->second < made && b->second < made, source, ": merge ", i, " (", show(left), ", ", show(right),
                ") joins token ", std::max(a->second, b->second), ", which the merges make only later");
      const auto result = ids.find(left + right);
      QKV_CHECK(result != ids.end() && result->second == made, source, ": merge ", i, " makes ", show(left + right),
                result == ids.end() ? std::string(", which is not in the vocabulary")
                                    : ", which is token " + std::to_string(result->second),
                "; token ids must follow the merges (merge i makes token 256 + i)");
      t.merges_.emplace_back(a->second, b->second);
    }
  } else {
    // Ranks only: token 256 + i is what merge i makes, and its two halves are what encoding the token with
    // the merges before it leaves; anything but two parts means the ranks are not a BPE merge order.
    t.n_ordinary_ = 256;
    t.build_index();
    std::vector<int32_t> parts;
    for (size_t i = 0; i + 256 < n; ++i) {
      const std::string& tok = v.tokens[256 + i];
      parts.clear();
      t.encode_word(tok, parts);
      QKV_CHECK(parts.size() == 2, source, ": token ", 256 + i, " ", show(tok), " is ", parts.size(),
                " tokens by the ranks below it, expected two (the ranks are not a BPE merge order)");
      t.merges_.emplace_back(parts[0], parts[1]);
      t.merge_rank_.insert(parts[0], parts[1], static_cast<int32_t>(i));
    }
  }

  t.n_ordinary_ = static_cast<int32_t>(n);
  for (const std::string& text : v.specials) {
    const bool role = std::find(kSpecialNames.begin(), kSpecialNames.end(), text) != kSpecialNames.end();
    QKV_CHECK(!role, source, ": special token '", text, "' has the name of one of qkv's roles (",
              "PAD, BOS, EOS, MASK, CLS, UNK); give it another text");
    QKV_CHECK(!text.empty() && t.special(text) < 0, source, ": special token ", show(text),
              text.empty() ? " is empty" : " is listed twice");
    t.add_special(text);
  }
  t.build_index();
  return t;
}

}  // namespace qkv
