// What each fuzz target does with one input, shared by the libFuzzer targets (fuzz/fuzz_*.cpp) and the
// regression test that replays the seed corpus and the saved crashes (tests/train/test_fuzz_regressions.cpp).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive.h"
#include "core/error.h"
#include "data/token_file.h"
#include "data/token_meta.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/formats/bpe_vocab_files.h"
#include "train/formats/llmc_checkpoint.h"
#include "train/formats/safetensors.h"
#include "train/formats/tokenizer_json.h"

namespace qkv::fuzz {

// NOTE [what the fuzzers count as a bug]: bad input must end in a qkv::Error (or a JSON exception, which
// `main` reports the same way); those are caught here. Anything else escapes: another exception, a crash,
// a sanitizer report, or a broken promise of the format, thrown as std::logic_error by `promise` (a bpe
// tokenizer that does not round-trip, a resolved config that does not parse back).
template <class F>
void expect_errors(F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const nlohmann::json::exception&) {
  }
}

inline void promise(bool holds, const std::string& what) {
  if (!holds) throw std::logic_error("fuzz: broken promise: " + what);
}

// Little-endian fixed-width integers, as the qkv formats store them.
inline void put_le(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// The stored config and tokenizer of a checkpoint are outside data too: read them as `qkv info` does.
inline void read_checkpoint_parts(const Checkpoint& c) {
  expect_errors([&] {
    nlohmann::json j = nlohmann::json::parse(c.config_json, nullptr, false);
    if (j.is_object()) j.erase("labels");  // stored beside the config keys (train/model_io.cpp)
    parse_config(j);
  });
  expect_errors([&] {
    ArchiveReader r(c.tokenizer, "fuzz.qkv (tokenizer)");
    Tokenizer::read(r);
  });
}

// A checkpoint: the bytes as they are, then with the header's length and checksum made to match them, so
// that mutations of the payload reach the archive reader instead of stopping at the checksum
// (NOTE [checkpoint format]: bytes 0-7 magic, 8-11 version, 12-19 length, 20-27 checksum, then the payload).
inline void checkpoint(std::string_view bytes) {
  expect_errors([&] { read_checkpoint_parts(parse_checkpoint(bytes, "fuzz.qkv")); });
  constexpr size_t kHeader = 28;
  if (bytes.size() < kHeader) return;
  std::string sealed(bytes);
  put_le(sealed, 12, sealed.size() - kHeader, 8);
  put_le(sealed, 20, fnv1a64(std::string_view(sealed).substr(kHeader)), 8);
  if (sealed != bytes) expect_errors([&] { read_checkpoint_parts(parse_checkpoint(sealed, "fuzz.qkv")); });
}

// A safetensors file; one that parses must serialize, and its bytes must parse back to the same bytes.
inline void safetensors(std::string_view bytes) {
  expect_errors([&] {
    SafeTensorsFile file = parse_safetensors(bytes, "fuzz.safetensors");
    std::string written = to_safetensors_bytes(file);
    SafeTensorsFile again = parse_safetensors(written, "fuzz.safetensors (written back)");
    promise(to_safetensors_bytes(again) == written, "safetensors: a parsed file does not write back the same");
  });
}

// An llm.c checkpoint; one that parses must write back to a file that parses to the same tensors.
inline void llmc(std::string_view bytes) {
  expect_errors([&] {
    LlmcModel m = parse_llmc(bytes, "fuzz.bin");
    std::string written = to_llmc_bytes(m.model, m.params);
    LlmcModel again = parse_llmc(written, "fuzz.bin (written back)");
    promise(again.params.size() == m.params.size(), "llm.c: a parsed file does not write back the same");
    for (size_t i = 0; i < m.params.size(); ++i) {  // bit for bit: a NaN must come back as the same NaN
      const Tensor &a = again.params[i].second, &b = m.params[i].second;
      promise(again.params[i].first == m.params[i].first && a.numel() == b.numel() &&
                  std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.numel())) == 0,
              "llm.c: a parsed file does not write back the same tensors");
    }
  });
}

// Encodes and decodes with a tokenizer that loaded: fixed texts, the input itself, and every id.
inline void use_tokenizer(const Tokenizer& t, std::string_view input) {
  // Lossless for any byte string (bpe), and for any text it can encode without UNK (char).
  const bool lossless = t.kind() == TokenizerKind::Bpe || t.special("UNK") < 0;
  std::vector<std::string> texts = {"", "hello world", "ROMEO:\nthe cat", "h\xc3\xa9llo \xe2\x82\xac", "\xff\xfe"};
  texts.emplace_back(input.substr(0, 256));
  for (const std::string& text : texts) {
    expect_errors([&] {
      std::vector<int32_t> ids = t.encode(text);
      for (int32_t id : ids) promise(id >= 0 && id < t.n_ordinary(), "tokenizer: encode made a special or bad id");
      if (lossless) promise(t.decode(ids) == text, "tokenizer: decode(encode(text)) != text");
    });
  }
  std::vector<int32_t> all;
  for (int32_t id = 0; id < t.size() && id < 1024; ++id) all.push_back(id);
  expect_errors([&] { t.decode(all); });
  expect_errors([&] { t.decode(all, true); });
  expect_errors([&] { t.decode(std::vector<int32_t>{-1}); });
  expect_errors([&] { t.decode(std::vector<int32_t>{t.size()}); });
}

// A scratch file of this process (the tokenizer loader reads a path); removed when the process ends.
struct ScratchFile {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("qkv_fuzz_" + std::to_string(::getpid()) + ".tok");
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  // A new file each time: truncating one on ext4 flushes it to disk first (auto_da_alloc), 5 ms an input.
  std::string write(std::string_view bytes) const {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
    return path.string();
  }
};

// A tokenizer file, as `checkpoint`: as it is, then with its trailing checksum made to match
// (NOTE [tokenizer file]: "QKVTOK", a 4-byte version, the archive, an 8-byte FNV-1a of everything before it).
inline void tokenizer(std::string_view bytes) {
  static const ScratchFile scratch;
  expect_errors([&] { use_tokenizer(Tokenizer::load(scratch.write(bytes)), bytes); });
  if (bytes.size() < 8) return;
  std::string sealed(bytes);
  const size_t body = sealed.size() - 8;
  put_le(sealed, body, fnv1a64(std::string_view(sealed).substr(0, body)), 8);
  if (sealed != bytes) expect_errors([&] { use_tokenizer(Tokenizer::load(scratch.write(sealed)), bytes); });
}

// GPT-2's tokenizer files (train/formats/bpe_vocab_files.h): the input as a tokenizer.json, as a tiktoken rank
// file, and cut at its first blank line into a vocabulary (encoder.json) and a merge list (vocab.bpe). A
// tokenizer that imports must encode and decode as any other.
inline void tokenizer_import(std::string_view bytes) {
  expect_errors([&] {
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
    if (j.is_object()) use_tokenizer(Tokenizer::from_vocab(read_tokenizer_json(j, "fuzz.json"), "fuzz.json"), bytes);
  });
  expect_errors(
      [&] { use_tokenizer(Tokenizer::from_vocab(read_tiktoken(bytes, "fuzz.tiktoken"), "fuzz.tiktoken"), bytes); });
  const size_t cut = bytes.find("\n\n");
  if (cut == std::string_view::npos) return;
  expect_errors([&] {
    BpeVocab v = read_vocab_and_merges(bytes.substr(0, cut), "fuzz.json", bytes.substr(cut + 2), "fuzz.bpe");
    use_tokenizer(Tokenizer::from_vocab(v, "fuzz"), bytes);
  });
}

// A config: JSON text, then optionally lines "--set key=value" (the input is cut at each "\n--set ").
// One that a run accepts must print back (to_json, as checkpoints store it) to a config that parses to the
// same. A run also checks the model's sizes, once the vocabulary is known (train/config.h), before it stores
// anything: so does this, with a vocabulary of one token where the config leaves it to the tokenizer.
inline void config(std::string_view bytes) {
  const std::string_view sep = "\n--set ";
  size_t cut = bytes.find(sep);
  nlohmann::json j = nlohmann::json::parse(bytes.substr(0, cut), nullptr, false);
  if (j.is_discarded()) return;  // a syntax error: what `qkv` reports with the line and column
  expect_errors([&] {
    while (cut != std::string_view::npos) {
      size_t next = bytes.find(sep, cut + sep.size());
      apply_override(j, std::string(bytes.substr(cut + sep.size(), next - (cut + sep.size()))));
      cut = next;
    }
    const Config c = parse_config(j);
    ModelConfig model = c.model;
    if (model.vocab_size == 0) model.vocab_size = 1;
    model.validate();
    const nlohmann::json resolved = to_json(c);
    const std::string stored = resolved.dump(2);  // throws for a string that is not UTF-8: an error, as in `qkv`
    try {
      promise(to_json(parse_config(nlohmann::json::parse(stored))) == resolved, "config: reparsed differently");
    } catch (const Error& e) {
      promise(false, std::string("config: the resolved config does not parse back: ") + e.what());
    } catch (const nlohmann::json::exception& e) {
      promise(false, std::string("config: the resolved config does not parse back: ") + e.what());
    }
  });
}

// A token file (NOTE [token files]) as training reads it: its layout as an llm.c shard or raw uint16 / uint32
// tokens, then every token, checked against GPT-2's vocabulary; and the input as a meta.json. A layout that
// is accepted must cover the file exactly, and every id read must be in the vocabulary.
inline void token_file(std::string_view bytes) {
  const std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  for (TokenDtype raw : {TokenDtype::U16, TokenDtype::U32}) {
    expect_errors([&] {
      const TokenLayout l =
          token_layout(all.first(std::min<size_t>(all.size(), kLlmcHeaderBytes)), all.size(), raw, "fuzz.bin");
      promise(l.offset + l.count * static_cast<uint64_t>(token_bytes(l.dtype)) == all.size(),
              "token file: the layout does not cover the file");
      std::vector<int32_t> ids(l.count);
      read_tokens(all.data(), l, 0, l.count, 50257, ids.data(), "fuzz.bin");
      for (int32_t id : ids) promise(id >= 0 && id < 50257, "token file: an id outside the vocabulary was read");
    });
  }
  expect_errors([&] {
    const TokenMeta m = parse_token_meta(bytes, "meta.json");
    promise(parse_token_meta(token_meta_json(m), "meta.json").files == m.files, "meta.json: does not read back");
  });
}

}  // namespace qkv::fuzz
