// Character-level vocabulary: training (the corpus's distinct code points) and encoding.
#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "data/tokenizer.h"
#include "data/utf8.h"

namespace qkv {

Tokenizer Tokenizer::train_char(std::string_view text, const std::vector<std::string>& specials) {
  QKV_CHECK(!text.empty(), "char tokenizer: the training text is empty");
  check_utf8(text, "char tokenizer training text");
  bool ascii[128] = {};
  std::unordered_set<uint32_t> others;
  for (uint64_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    i += static_cast<uint64_t>(utf8_decode(text, i, &cp));  // well-formed: checked above
    if (cp < 128) {
      ascii[cp] = true;
    } else {
      others.insert(cp);
    }
  }
  std::vector<uint32_t> chars;
  for (uint32_t c = 0; c < 128; ++c)
    if (ascii[c]) chars.push_back(c);
  std::vector<uint32_t> rest(others.begin(), others.end());
  std::sort(rest.begin(), rest.end());
  chars.insert(chars.end(), rest.begin(), rest.end());

  Tokenizer t;
  t.kind_ = TokenizerKind::Char;
  for (uint32_t c : chars) {
    std::string s;
    utf8_append(s, c);
    t.tokens_.push_back(std::move(s));
  }
  t.finish(specials);
  return t;
}

void Tokenizer::encode_char(std::string_view text, std::vector<int32_t>& ids) const {
  const int32_t unk = special("UNK");
  uint64_t next = 0;
  for (uint64_t i = 0; i < text.size(); i = next) {
    auto byte = static_cast<unsigned char>(text[i]);
    uint32_t cp = byte;
    int32_t id = -1;
    if (byte < 0x80) {
      id = ascii_ids_[byte];
      next = i + 1;
    } else {
      int len = utf8_decode(text, i, &cp);
      QKV_CHECK(len > 0, "char tokenizer: invalid UTF-8 at byte offset ", i, ": byte ", describe_byte(byte),
                " does not start a well-formed sequence");
      if (auto it = code_point_ids_.find(cp); it != code_point_ids_.end()) id = it->second;
      next = i + static_cast<uint64_t>(len);
    }
    if (id < 0) {
      QKV_CHECK(unk >= 0, "char tokenizer: character ", describe_code_point(cp), " at byte offset ", i,
                " is not in the vocabulary (", n_ordinary_, " characters seen in training)");
      id = unk;
    }
    ids.push_back(id);
  }
}

}  // namespace qkv
