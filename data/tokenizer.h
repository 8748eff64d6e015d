// Tokenizer: a character-level or byte-level BPE vocabulary with named special tokens, its training,
// encoding, decoding and serialization.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/enum_names.h"

namespace qkv {

class ArchiveWriter;
class ArchiveReader;

// The two kinds of NOTE [tokenizer]; the names are those of data.tokenizer and of the serialized type.
enum class TokenizerKind { Char, Bpe };
inline constexpr EnumName<TokenizerKind> kTokenizerKinds[] = {{TokenizerKind::Char, "char"},
                                                              {TokenizerKind::Bpe, "bpe"}};
inline const char* name(TokenizerKind kind) { return enum_name(kTokenizerKinds, kind); }

// NOTE [tokenizer]: one class for both kinds, since they differ only in how text becomes ids.
// - "char": the vocabulary is the corpus's distinct code points sorted by code point (tinyshakespeare gives
//   nanoGPT's 65 tokens). An unknown character is an error, or UNK when the vocabulary has one.
// - "bpe": ids 0..255 are the bytes, then one id per learned merge (256 + merge index), so any byte string
//   encodes losslessly. Merges never cross a pre-token boundary (data/pretokenize.h).
// Special tokens (PAD, BOS, EOS, MASK, CLS, UNK) follow the ordinary tokens in the order requested; their
// table entries read "<PAD>" and so on, and encoding ordinary text never produces them.
class Tokenizer {
 public:
  // The special-token names a tokenizer may hold.
  static constexpr std::array<std::string_view, 6> kSpecialNames{"PAD", "BOS", "EOS", "MASK", "CLS", "UNK"};

  // An empty character vocabulary: every encode and decode is an error until a tokenizer is assigned.
  Tokenizer();

  static Tokenizer train_char(std::string_view text, const std::vector<std::string>& specials = {});
  // vocab_size counts everything: 256 bytes + merges + specials. Training stops early when no pair of
  // adjacent tokens is left to merge, so size() may come out smaller.
  static Tokenizer train_bpe(std::string_view text, int32_t vocab_size, const std::vector<std::string>& specials = {});

  std::vector<int32_t> encode(std::string_view text) const;
  // An id out of range is an error; specials decode to "<NAME>" unless skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_specials = false) const;

  TokenizerKind kind() const { return kind_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t n_ordinary() const { return n_ordinary_; }  // ids below this are ordinary; the rest are specials
  int32_t special(std::string_view name) const;       // its id, or -1
  bool is_special(int32_t id) const { return id >= n_ordinary_ && id < size(); }
  const std::vector<std::string>& tokens() const { return tokens_; }                  // id -> bytes
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }  // merge i makes 256 + i
  const std::map<std::string, int32_t, std::less<>>& specials() const { return specials_; }

  // The tokenizer inside a checkpoint archive.
  void write(ArchiveWriter& w) const;
  static Tokenizer read(ArchiveReader& r);
  // A standalone file: "QKVTOK", uint32 format version, the archive, then a checksum (see tokenizer_io.cpp).
  void save(const std::string& path) const;
  static Tokenizer load(const std::string& path);
  // {"type", "tokens": [hex bytes], "merges": [[a, b]], "specials": {"PAD": id}} for the exporter.
  nlohmann::json to_json() const;

 private:
  // Appends the specials after the ordinary tokens and builds the lookup tables encoding uses.
  void finish(const std::vector<std::string>& specials);
  void build_index();
  std::vector<int32_t> encode_char(std::string_view text) const;  // char_tokenizer.cpp
  std::vector<int32_t> encode_bpe(std::string_view text) const;   // bpe_encode.cpp
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  TokenizerKind kind_ = TokenizerKind::Char;
  std::vector<std::string> tokens_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::map<std::string, int32_t, std::less<>> specials_;
  int32_t n_ordinary_ = 0;

  // Derived by build_index(), never serialized.
  std::array<int32_t, 128> ascii_ids_{};                  // char: ASCII code point -> id or -1
  std::unordered_map<uint32_t, int32_t> code_point_ids_;  // char: other code points -> id
  std::unordered_map<uint64_t, int32_t> merge_rank_;      // bpe: (a << 32 | b) -> merge index
};

}  // namespace qkv
