#include "data/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "data/utf8.h"

namespace qkv {

Tokenizer::Tokenizer() {
  for (int b = 0; b < 256; ++b) byte_ids_[static_cast<size_t>(b)] = b;
  build_index();
}

void Tokenizer::finish(const std::vector<std::string>& specials) {
  n_ordinary_ = static_cast<int32_t>(tokens_.size());
  for (const std::string& name : specials) {
    // A role, or a special's own text in angle brackets (GPT-2's <|endoftext|>); anything else is likely a typo.
    const bool role = std::find(kSpecialNames.begin(), kSpecialNames.end(), name) != kSpecialNames.end();
    const bool text = name.size() > 2 && name.front() == '<' && name.back() == '>';
    QKV_CHECK(role || text, "tokenizer: unknown special token '", name,
              "', expected one of PAD, BOS, EOS, MASK, CLS, UNK or a text in angle brackets (<|endoftext|>)");
    add_special(name);
  }
  build_index();
}

// A role name (PAD ...) stands for the token "<PAD>"; any other name is the special's own text.
void Tokenizer::add_special(const std::string& name) {
  QKV_CHECK(!name.empty(), "tokenizer: a special token with an empty name");
  QKV_CHECK(specials_.count(name) == 0, "tokenizer: special token ", name, " requested twice");
  const bool role = std::find(kSpecialNames.begin(), kSpecialNames.end(), name) != kSpecialNames.end();
  specials_[name] = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(role ? "<" + name + ">" : name);
}

Tokenizer Tokenizer::with_specials(const std::vector<std::string>& names) const {
  Tokenizer t = *this;
  for (const std::string& name : names) {
    bool known = std::find(kSpecialNames.begin(), kSpecialNames.end(), name) != kSpecialNames.end();
    QKV_CHECK(known, "tokenizer: unknown special token '", name, "', expected one of PAD, BOS, EOS, MASK, CLS, UNK");
    if (t.special(name) < 0) t.add_special(name);
  }
  return t;
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
      bool fresh = merge_rank_.insert(a, b, static_cast<int32_t>(i));
      QKV_CHECK(fresh, "bpe tokenizer: merge ", i, " repeats the pair (", a, ", ", b, ")");
    }
  }
}

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (kind_ == TokenizerKind::Char) {
    encode_char(text, out);
  } else {
    encode_bpe(text, out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, SpecialText specials) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / (kind_ == TokenizerKind::Char ? 1 : 3));
  if (specials == SpecialText::kPlain || specials_.empty()) {
    encode_plain(text, out);
    return out;
  }
  // The leftmost special's text, the longest among those starting there; each special's next occurrence is
  // kept and searched again only once the text before it has been used up.
  std::vector<std::pair<std::string_view, int32_t>> texts;
  for (const auto& [name, id] : specials_) texts.emplace_back(tokens_[static_cast<size_t>(id)], id);
  std::vector<size_t> next(texts.size(), 0);
  for (size_t k = 0; k < texts.size(); ++k) next[k] = text.find(texts[k].first);
  size_t pos = 0;
  while (true) {
    size_t best = std::string_view::npos;
    for (size_t k = 0; k < texts.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = text.find(texts[k].first, pos);
      if (next[k] == std::string_view::npos) continue;
      if (best == std::string_view::npos || next[k] < next[best] ||
          (next[k] == next[best] && texts[k].first.size() > texts[best].first.size()))
        best = k;
    }
    if (best == std::string_view::npos) break;
    encode_plain(text.substr(pos, next[best] - pos), out);
    out.push_back(texts[best].second);
    pos = next[best] + texts[best].first.size();
  }
  encode_plain(text.substr(pos), out);
  return out;
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
