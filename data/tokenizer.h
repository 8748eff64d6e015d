// Tokenizer: a character-level or byte-level BPE vocabulary with named special tokens, its training,
// import, encoding, decoding and serialization.
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
#include "data/pair_ranks.h"

namespace qkv {

class ArchiveWriter;
class ArchiveReader;

// The two kinds of NOTE [tokenizer]; the names are those of data.tokenizer and of the serialized type.
enum class TokenizerKind { Char, Bpe };
inline constexpr EnumName<TokenizerKind> kTokenizerKinds[] = {{TokenizerKind::Char, "char"},
                                                              {TokenizerKind::Bpe, "bpe"}};
inline const char* name(TokenizerKind kind) { return enum_name(kTokenizerKinds, kind); }

// How a BPE tokenizer cuts text into the pieces its merges may not cross: qkv's own rough split
// (data/pretokenize.h, what `qkv tokenizer train` uses) or GPT-2's exact pattern (data/gpt2_pretokenize.h).
enum class Pretokenizer { Qkv, Gpt2 };
inline constexpr EnumName<Pretokenizer> kPretokenizers[] = {{Pretokenizer::Qkv, "qkv"}, {Pretokenizer::Gpt2, "gpt2"}};
inline const char* name(Pretokenizer p) { return enum_name(kPretokenizers, p); }

// Whether encode() turns the text of a special token ("<|endoftext|>", "<EOS>") into its id. Never by
// default: text from users or a corpus should not be able to produce control tokens by accident.
enum class SpecialText { kPlain, kRecognise };

// A byte-level BPE vocabulary as foreign files give it (train/formats/bpe_vocab_files.h), before qkv checks
// it and builds a tokenizer from it (Tokenizer::from_vocab).
struct BpeVocab {
  std::vector<std::string> tokens;  // id -> bytes, the ordinary tokens: the 256 bytes first, in any order
  // merges[i] = (left bytes, right bytes) makes token 256 + i. Empty: derived from the ranks (tiktoken files).
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::string> specials;  // their texts, with ids following the ordinary tokens in this order
  Pretokenizer pretokenizer = Pretokenizer::Gpt2;
};

// NOTE [tokenizer]: one class for both kinds, since they differ only in how text becomes ids.
// - "char": the vocabulary is the corpus's distinct code points sorted by code point (tinyshakespeare gives
//   nanoGPT's 65 tokens). An unknown character is an error, or UNK when the vocabulary has one.
// - "bpe": ids 0..255 are the 256 bytes, in byte order for qkv's own and in the order of the byte-to-id table
//   for imported ones (GPT-2 puts '!' at 0), then one id per merge (256 + merge index), so any byte string
//   encodes losslessly. Merges never cross a pre-token boundary (the Pretokenizer).
// Special tokens follow the ordinary tokens. The six role specials (PAD, BOS, EOS, MASK, CLS, UNK) that tasks
// ask for read "<PAD>" and so on; an imported tokenizer may hold others named by their text
// ("<|endoftext|>"). Encoding text produces them only when asked (SpecialText).
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

  // Checks a foreign vocabulary (byte tokens, each merge's result, distinct tokens and specials) and builds
  // the tokenizer; errors name `source`. data/bpe_import.cpp.
  static Tokenizer from_vocab(const BpeVocab& vocab, const std::string& source);
  // This tokenizer with the role specials it lacks of `names` appended as new ids after its own, in order.
  Tokenizer with_specials(const std::vector<std::string>& names) const;

  std::vector<int32_t> encode(std::string_view text, SpecialText specials = SpecialText::kPlain) const;
  // An id out of range is an error; specials decode to "<NAME>" unless skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_specials = false) const;

  TokenizerKind kind() const { return kind_; }
  Pretokenizer pretokenizer() const { return pretokenizer_; }  // BPE only
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t n_ordinary() const { return n_ordinary_; }  // ids below this are ordinary; the rest are specials
  int32_t special(std::string_view name) const;       // its id, or -1
  bool is_special(int32_t id) const { return id >= n_ordinary_ && id < size(); }
  const std::vector<std::string>& tokens() const { return tokens_; }                  // id -> bytes
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }  // merge i makes 256 + i
  const std::map<std::string, int32_t, std::less<>>& specials() const { return specials_; }
  const std::array<int32_t, 256>& byte_ids() const { return byte_ids_; }  // BPE: byte -> the id of its token

  // The tokenizer inside a checkpoint archive.
  void write(ArchiveWriter& w) const;
  static Tokenizer read(ArchiveReader& r);
  // A standalone file: "QKVTOK", uint32 format version, the archive, then a checksum (see tokenizer_io.cpp).
  // Versions 1 and 2 are read; version 2 is written.
  void save(const std::string& path) const;
  static Tokenizer load(const std::string& path);
  // {"type", "tokens": [hex bytes], "merges": [[a, b]], "specials": {"PAD": id}, and for BPE "pretokenizer"
  // and "byte_ids": [id of byte 0, ...]} for the exporter.
  nlohmann::json to_json() const;

 private:
  // Appends the specials after the ordinary tokens and builds the lookup tables encoding uses.
  void finish(const std::vector<std::string>& specials);
  void add_special(const std::string& name);
  void build_index();
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void encode_char(std::string_view text, std::vector<int32_t>& out) const;  // char_tokenizer.cpp
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;   // bpe_encode.cpp
  template <class Pieces>
  void encode_pieces(std::string_view text, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  TokenizerKind kind_ = TokenizerKind::Char;
  Pretokenizer pretokenizer_ = Pretokenizer::Qkv;
  std::vector<std::string> tokens_;
  std::array<int32_t, 256> byte_ids_{};  // bpe: byte -> id; the identity for qkv's own
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::map<std::string, int32_t, std::less<>> specials_;
  int32_t n_ordinary_ = 0;

  // Derived by build_index(), never serialized.
  std::array<int32_t, 128> ascii_ids_{};                  // char: ASCII code point -> id or -1
  std::unordered_map<uint32_t, int32_t> code_point_ids_;  // char: other code points -> id
  PairRanks merge_rank_;                                  // bpe: (a, b) -> merge index
};

}  // namespace qkv
