#include "data/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "data/utf8.h"

namespace qkv {

Tokenizer::Tokenizer() { build_index(); }

void Tokenizer::finish(const std::vector<std::string>& specials) {
  n_ordinary_ = static_cast<int32_t>(tokens_.size());
  for (const std::string& name : specials) {
    bool known = std::find(kSpecialNames.begin(), kSpecialNames.end(), name) != kSpecialNames.end();
    QKV_CHECK(known, "tokenizer: unknown special token '", name, "', expected one of PAD, BOS, EOS, MASK, CLS, UNK");
    QKV_CHECK(specials_.count(name) == 0, "tokenizer: special token ", name, " requested twice");
    specials_[name] = static_cast<int32_t>(tokens_.size());
    tokens_.push_back("<" + name + ">");
  }
  build_index();
}

void Tokenizer::build_index() {
  ascii_ids_.fill(-1);
  code_point_ids_.clear();
  merge_rank_.clear();
  if (kind_ == TokenizerKind::Char) {
    for (int32_t id = 0; id < n_ordinary_; ++id) {
      uint32_t cp = 0;
      const std::string& t = tokens_[static_cast<size_t>(id)];
      QKV_CHECK(!t.empty() && utf8_decode(t, 0, &cp) == static_cast<int>(t.size()), "char tokenizer: token ", id,
                " is not one UTF-8 character");
      if (cp < 128) {
        ascii_ids_[cp] = id;
      } else {
        code_point_ids_[cp] = id;
      }
    }
  } else {
    for (size_t i = 0; i < merges_.size(); ++i) {
      auto [a, b] = merges_[i];
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
      bool fresh = merge_rank_.emplace(key, static_cast<int32_t>(i)).second;
      QKV_CHECK(fresh, "bpe tokenizer: merge ", i, " repeats the pair (", a, ", ", b, ")");
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  return kind_ == TokenizerKind::Char ? encode_char(text) : encode_bpe(text);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_specials) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    QKV_CHECK(id >= 0 && id < size(), "tokenizer decode: id ", id, " at position ", i, " is out of range [0, ", size(),
              ")");
    if (skip_specials && is_special(id)) continue;
    out += tokens_[static_cast<size_t>(id)];
  }
  return out;
}

int32_t Tokenizer::special(std::string_view name) const {
  auto it = specials_.find(name);
  return it == specials_.end() ? -1 : it->second;
}

}  // namespace qkv
