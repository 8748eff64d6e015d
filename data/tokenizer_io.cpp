// Tokenizer serialization: inside a checkpoint archive, as a standalone .tok file, and as JSON.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "data/utf8.h"

namespace qkv {

namespace {

// NOTE [tokenizer file]: "QKVTOK", a little-endian uint32 format version, the archive written by
// Tokenizer::write, then a little-endian uint64 FNV-1a checksum of everything before it. The checksum
// catches a flipped byte that would still parse (a changed character in a char vocabulary).
constexpr char kMagic[] = "QKVTOK";
constexpr uint64_t kMagicSize = 6;
constexpr uint32_t kFormatVersion = 2;  // version 1 is still read
constexpr uint32_t kMaxTokens = 1u << 24;
constexpr uint32_t kMaxSpecials = 1u << 16;
constexpr char kArchiveV2Tag[] = "v2";

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint64_t get_le(std::string_view in, uint64_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return v;
}

}  // namespace

// NOTE [tokenizer archive]: version 1 is the type, the tokens, the merges and the specials. Version 2 starts
// with the string "v2", which no version-1 type is, so that a checkpoint (which holds the archive without the
// file's header) tells the two apart without a version of its own; then the type, the pre-tokenizer, the
// tokens, the merges, the byte-to-id table (256 ids for bpe, none for char) and the specials, whose names
// may now be a token's text ("<|endoftext|>") as well as one of the six roles.
void Tokenizer::write(ArchiveWriter& w) const {
  w.str(kArchiveV2Tag);
  w.str(name(kind_));
  w.str(name(pretokenizer_));
  w.u32(static_cast<uint32_t>(n_ordinary_));
  for (int32_t id = 0; id < n_ordinary_; ++id) w.str(tokens_[static_cast<size_t>(id)]);
  w.u32(static_cast<uint32_t>(merges_.size()));
  for (auto [a, b] : merges_) {
    w.i32(a);
    w.i32(b);
  }
  const bool bpe = kind_ == TokenizerKind::Bpe;
  w.u32(bpe ? 256 : 0);
  if (bpe)
    for (int32_t id : byte_ids_) w.i32(id);
  // By id, so that reading appends them in the same order.
  std::vector<std::pair<int32_t, std::string>> by_id;
  for (const auto& [name, id] : specials_) by_id.emplace_back(id, name);
  std::sort(by_id.begin(), by_id.end());
  w.u32(static_cast<uint32_t>(by_id.size()));
  for (const auto& [id, name] : by_id) {
    w.str(name);
    w.i32(id);
  }
}

Tokenizer Tokenizer::read(ArchiveReader& r) {
  const std::string& src = r.source();
  Tokenizer t;
  std::string type = r.str("tokenizer type");
  const bool v2 = type == kArchiveV2Tag;
  if (v2) type = r.str("tokenizer type");
  const std::optional<TokenizerKind> kind = parse_enum(kTokenizerKinds, type);
  QKV_CHECK(kind.has_value(), src, ": tokenizer type '", type, "' is not 'char' or 'bpe' (corrupted?)");
  t.kind_ = *kind;
  if (v2) {
    const std::string pre = r.str("tokenizer pre-tokenizer");
    const std::optional<Pretokenizer> p = parse_enum(kPretokenizers, pre);
    QKV_CHECK(p.has_value(), src, ": tokenizer pre-tokenizer '", pre, "' is not one of ", enum_names(kPretokenizers),
              " (corrupted, or from a newer qkv?)");
    t.pretokenizer_ = *p;
  }

  const uint32_t n_ordinary = r.u32("tokenizer token count");
  QKV_CHECK(n_ordinary <= kMaxTokens, src, ": tokenizer declares ", n_ordinary, " tokens, at most ", kMaxTokens,
            " expected (corrupted?)");
  for (uint32_t i = 0; i < n_ordinary; ++i) t.tokens_.push_back(r.str("tokenizer token"));

  const uint32_t n_merges = r.u32("tokenizer merge count");
  QKV_CHECK(n_merges <= kMaxTokens, src, ": tokenizer declares ", n_merges, " merges (corrupted?)");
  for (uint32_t i = 0; i < n_merges; ++i) {
    int32_t a = r.i32("merge left id"), b = r.i32("merge right id");
    // A merge may only use ids that exist before it: the bytes and the earlier merges.
    const int64_t known = 256 + static_cast<int64_t>(i);
    QKV_CHECK(a >= 0 && a < known && b >= 0 && b < known, src, ": merge ", i, " joins ids (", a, ", ", b,
              "), expected ids in [0, ", known, ")");
    t.merges_.emplace_back(a, b);
  }

  const uint32_t n_byte_ids = v2 ? r.u32("tokenizer byte table size") : 0;
  QKV_CHECK(n_byte_ids == (v2 && t.kind_ == TokenizerKind::Bpe ? 256u : 0u), src, ": ", type,
            " tokenizer with a byte table of ", n_byte_ids, " entries, expected ",
            t.kind_ == TokenizerKind::Bpe ? 256 : 0);
  for (uint32_t b = 0; b < n_byte_ids; ++b) t.byte_ids_[b] = r.i32("tokenizer byte id");

  if (t.kind_ == TokenizerKind::Bpe) {
    QKV_CHECK(n_ordinary == 256 + n_merges, src, ": bpe tokenizer has ", n_ordinary, " tokens and ", n_merges,
              " merges, expected 256 + merges tokens");
    for (uint32_t b = 0; b < 256; ++b) {
      const int32_t id = t.byte_ids_[b];
      QKV_CHECK(id >= 0 && id < 256 && t.tokens_[static_cast<size_t>(id)] == std::string(1, static_cast<char>(b)), src,
                ": bpe token ", id, " is not byte ", b, " as the byte table says (ids 0-255 must be the 256 bytes)");
    }
    for (uint32_t i = 0; i < n_merges; ++i) {
      auto [a, b] = t.merges_[i];
      QKV_CHECK(t.tokens_[256 + i] == t.tokens_[static_cast<size_t>(a)] + t.tokens_[static_cast<size_t>(b)], src,
                ": bpe token ", 256 + i, " is not the concatenation of its merge (", a, ", ", b, ")");
    }
  } else {
    QKV_CHECK(n_merges == 0, src, ": char tokenizer with ", n_merges, " merges, expected none");
    // Sorted and distinct, as train_char makes them; build_index checks each is one character.
    for (uint32_t i = 1; i < n_ordinary; ++i)
      QKV_CHECK(t.tokens_[i - 1] < t.tokens_[i], src, ": char tokens ", i - 1, " and ", i,
                " are not in increasing order (corrupted?)");
  }

  const uint32_t n_specials = r.u32("tokenizer special count");
  const uint32_t max_specials = v2 ? kMaxSpecials : static_cast<uint32_t>(kSpecialNames.size());
  QKV_CHECK(n_specials <= max_specials, src, ": tokenizer declares ", n_specials, " special tokens, at most ",
            max_specials, " expected");
  std::vector<std::string> names;
  for (uint32_t i = 0; i < n_specials; ++i) {
    names.push_back(r.str("special token name"));
    const int32_t id = r.i32("special token id");
    const int64_t expected = static_cast<int64_t>(n_ordinary) + i;
    QKV_CHECK(id == expected, src, ": special token ", names.back(), " has id ", id, ", expected ", expected,
              " (specials follow the ", n_ordinary, " ordinary tokens)");
  }
  try {
    t.n_ordinary_ = static_cast<int32_t>(n_ordinary);
    if (v2) {
      for (const std::string& name : names) t.add_special(name);
      t.build_index();  // checks each char token and the merges, and builds the lookup tables
    } else {
      t.finish(names);  // version 1 knows only the six role names
    }
  } catch (const Error& e) {
    QKV_FAIL(src, ": ", e.what());
  }
  return t;
}

void Tokenizer::save(const std::string& path) const {
  ArchiveWriter w;
  write(w);
  std::string bytes(kMagic, kMagicSize);
  put_le(bytes, kFormatVersion, 4);
  bytes += w.bytes();
  put_le(bytes, fnv1a64(bytes), 8);
  write_file_atomic(path, bytes);
}

Tokenizer Tokenizer::load(const std::string& path) {
  const std::string bytes = read_file(path);
  QKV_CHECK(bytes.size() >= kMagicSize && bytes.compare(0, kMagicSize, kMagic) == 0, path,
            ": not a qkv tokenizer file (expected it to start with \"QKVTOK\")");
  QKV_CHECK(bytes.size() >= kMagicSize + 4 + 8, path, ": truncated: ", bytes.size(), " bytes");
  const auto version = static_cast<uint32_t>(get_le(bytes, kMagicSize, 4));
  QKV_CHECK(version == 1 || version == kFormatVersion, path, ": tokenizer format version ", version,
            ", this build reads versions 1 to ", kFormatVersion);
  const uint64_t body_end = bytes.size() - 8;
  const uint64_t stored = get_le(bytes, body_end, 8);
  QKV_CHECK(stored == fnv1a64(std::string_view(bytes).substr(0, body_end)), path,
            ": checksum mismatch (the file is truncated or corrupted)");
  ArchiveReader r(bytes.substr(kMagicSize + 4, body_end - kMagicSize - 4), path);
  Tokenizer t = read(r);
  QKV_CHECK(r.remaining() == 0, path, ": ", r.remaining(), " unexpected bytes after the tokenizer at offset ",
            kMagicSize + 4 + r.offset());
  return t;
}

nlohmann::json Tokenizer::to_json() const {
  static const char* digits = "0123456789abcdef";
  nlohmann::json tokens = nlohmann::json::array();
  for (const std::string& token : tokens_) {
    std::string hex;
    for (unsigned char c : token) {
      hex += digits[c >> 4];
      hex += digits[c & 15];
    }
    tokens.push_back(hex);
  }
  nlohmann::json merges = nlohmann::json::array();
  for (auto [a, b] : merges_) merges.push_back({a, b});
  nlohmann::json specials = nlohmann::json::object();
  for (const auto& [name, id] : specials_) specials[name] = id;
  nlohmann::json j = {{"type", name(kind_)}, {"tokens", tokens}, {"merges", merges}, {"specials", specials}};
  if (kind_ == TokenizerKind::Bpe) {
    j["pretokenizer"] = name(pretokenizer_);
    j["byte_ids"] = byte_ids_;
  }
  return j;
}

}  // namespace qkv
