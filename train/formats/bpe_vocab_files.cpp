#include "train/formats/bpe_vocab_files.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "train/formats/gpt2_bytes.h"
#include "train/formats/tokenizer_json.h"

namespace qkv {

namespace {

// The lines of a text file, without their '\n' (and a '\r' before it); a last empty line is dropped.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with its '=' padding; nothing when the text is not that.
std::optional<std::string> base64_decode(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = base64_value(c)) < 0) {
        return std::nullopt;
      }
    }
    const uint32_t word = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                          (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>(word >> 16);
    if (pad < 2) out += static_cast<char>((word >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(word & 0xFF);
  }
  return out;
}

// "base64 rank" split at its one space; false when the line is not that.
bool split_rank_line(std::string_view line, std::string_view& token, std::string_view& rank) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) return false;
  token = line.substr(0, space);
  rank = line.substr(space + 1);
  return std::all_of(rank.begin(), rank.end(), [](char c) { return c >= '0' && c <= '9'; }) && rank.size() <= 9 &&
         base64_decode(token).has_value();
}

std::string show_key(std::string_view key) {
  std::string s(key.substr(0, 40));
  return "'" + s + (key.size() > 40 ? "...'" : "'");
}

enum class FileKind { kTokenizerJson, kVocab, kMerges, kTiktoken };
const char* describe(FileKind k) {
  switch (k) {
    case FileKind::kTokenizerJson:
      return "a tokenizer.json";
    case FileKind::kVocab:
      return "a vocabulary (token -> id JSON)";
    case FileKind::kMerges:
      return "a merge list";
    case FileKind::kTiktoken:
      return "a tiktoken rank file";
  }
  return "?";
}

struct InputFile {
  std::string path, bytes;
  FileKind kind;
  nlohmann::json json;  // for the JSON kinds
};

InputFile classify(const std::string& path) {
  InputFile f{path, read_file(path), FileKind::kMerges, {}};
  const size_t first = f.bytes.find_first_not_of(" \t\r\n");
  QKV_CHECK(first != std::string::npos, path, ": the file is empty");
  QKV_CHECK(f.bytes.compare(0, 6, "QKVTOK") != 0, path,
            ": already a qkv tokenizer file; use it as it is (data.tokenizer, qkv tokenizer encode)");
  if (f.bytes[first] == '{') {
    f.json = nlohmann::json::parse(f.bytes, nullptr, false);
    QKV_CHECK(f.json.is_object(), path, ": not valid JSON");
    // A vocabulary maps tokens to ids, and "model" may well be one of its tokens.
    f.kind = f.json.contains("model") && f.json["model"].is_object() ? FileKind::kTokenizerJson : FileKind::kVocab;
    return f;
  }
  std::string_view token, rank;
  const std::string_view text = f.bytes;
  std::string_view line0 = text.substr(0, text.find('\n'));
  if (!line0.empty() && line0.back() == '\r') line0.remove_suffix(1);
  if (split_rank_line(line0, token, rank)) f.kind = FileKind::kTiktoken;
  return f;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_merge_lines(std::string_view text, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> merges;
  const std::vector<std::string_view> lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (i == 0 && line.substr(0, 9) == "#version:") continue;
    if (line.empty() && i + 1 == lines.size()) continue;
    const size_t space = line.find(' ');
    QKV_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                  line.find(' ', space + 1) == std::string_view::npos,
              path, ": line ", i + 1, " is ", show_key(line), ", expected two tokens separated by one space");
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return merges;
}

BpeVocab vocab_from_keys(const nlohmann::json& vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                         const std::vector<std::pair<std::string, int64_t>>& added, const std::string& source) {
  QKV_CHECK(vocab.is_object(), source, ": the vocabulary is not a JSON object of token -> id");
  const int64_t n_ordinary = 256 + static_cast<int64_t>(merges.size());
  // id -> the key as written; every id from 0 on must be there exactly once.
  std::map<int64_t, std::string> by_id;
  for (const auto& [key, value] : vocab.items()) {
    QKV_CHECK(value.is_number_integer(), source, ": token ", show_key(key), " has id ", value.dump(),
              ", expected an integer");
    const auto id = value.get<int64_t>();
    QKV_CHECK(id >= 0 && id < (1 << 24), source, ": token ", show_key(key), " has id ", id, ", out of range");
    auto [it, fresh] = by_id.emplace(id, key);
    QKV_CHECK(fresh, source, ": id ", id, " is both ", show_key(it->second), " and ", show_key(key));
  }
  for (const auto& [text, id] : added) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      QKV_CHECK(id >= n_ordinary, source, ": added token ", show_key(text), " has id ", id,
                ", which the merged tokens use; qkv keeps specials after the ", n_ordinary, " ordinary tokens");
      by_id.emplace(id, text);
    } else {
      QKV_CHECK(it->first >= n_ordinary, source, ": added token ", show_key(text), " is id ", id,
                ", one of the merged tokens; qkv keeps specials after the ", n_ordinary, " ordinary tokens");
    }
  }
  QKV_CHECK(static_cast<int64_t>(by_id.size()) >= n_ordinary, source, ": ", by_id.size(), " tokens for ", merges.size(),
            " merges, expected at least 256 + merges = ", n_ordinary);
  BpeVocab v;
  int64_t expected = 0;
  for (const auto& [id, key] : by_id) {
    QKV_CHECK(id == expected, source, ": no token has id ", expected, " (ids must run from 0 without a gap)");
    ++expected;
    std::optional<std::string> bytes = gpt2_key_bytes(key);
    if (id < n_ordinary) {
      QKV_CHECK(bytes.has_value(), source, ": token ", show_key(key), " (id ", id,
                ") holds a character outside GPT-2's byte-to-unicode table: not a byte-level BPE vocabulary");
      v.tokens.push_back(std::move(*bytes));
    } else {
      v.specials.push_back(bytes ? *bytes : key);
    }
  }
  for (size_t i = 0; i < merges.size(); ++i) {
    std::optional<std::string> a = gpt2_key_bytes(merges[i].first), b = gpt2_key_bytes(merges[i].second);
    QKV_CHECK(a && b, source, ": merge ", i, " (", show_key(merges[i].first), " ", show_key(merges[i].second),
              ") holds a character outside GPT-2's byte-to-unicode table");
    v.merges.emplace_back(std::move(*a), std::move(*b));
  }
  return v;
}

BpeVocab read_vocab_and_merges(std::string_view vocab_json, const std::string& vocab_path, std::string_view merges,
                               const std::string& merges_path) {
  nlohmann::json vocab = nlohmann::json::parse(vocab_json, nullptr, false);
  QKV_CHECK(vocab.is_object(), vocab_path, ": not a JSON object of token -> id");
  return vocab_from_keys(vocab, read_merge_lines(merges, merges_path), {}, vocab_path + " + " + merges_path);
}

BpeVocab read_tiktoken(std::string_view text, const std::string& path) {
  std::map<int64_t, std::string> by_rank;
  const std::vector<std::string_view> lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::string_view token, rank;
    QKV_CHECK(split_rank_line(lines[i], token, rank), path, ": line ", i + 1, " is ", show_key(lines[i]),
              ", expected a base64 token, a space and its rank");
    const int64_t r = std::stoll(std::string(rank));
    auto [it, fresh] = by_rank.emplace(r, *base64_decode(token));
    QKV_CHECK(fresh, path, ": line ", i + 1, ": rank ", r, " is given twice");
  }
  BpeVocab v;
  int64_t expected = 0;
  for (auto& [rank, bytes] : by_rank) {
    QKV_CHECK(rank == expected, path, ": no token has rank ", expected, " (ranks must run from 0 without a gap)");
    ++expected;
    v.tokens.push_back(std::move(bytes));
  }
  return v;
}

Tokenizer import_tokenizer(const std::vector<std::string>& paths, const TokenizerImport& options) {
  std::vector<InputFile> files;
  for (const std::string& p : paths) files.push_back(classify(p));
  auto find = [&](FileKind k) -> const InputFile* {
    for (const InputFile& f : files)
      if (f.kind == k) return &f;
    return nullptr;
  };
  BpeVocab vocab;
  std::string source;
  const InputFile* vocab_file = find(FileKind::kVocab);
  const InputFile* merges_file = find(FileKind::kMerges);
  if (files.size() == 1 && files[0].kind == FileKind::kTokenizerJson) {
    source = files[0].path;
    vocab = read_tokenizer_json(files[0].json, source);
  } else if (files.size() == 1 && files[0].kind == FileKind::kTiktoken) {
    source = files[0].path;
    QKV_CHECK(options.pattern.has_value(), source,
              ": a tiktoken rank file does not say how text is split before merging; give --pattern gpt2 if it "
              "is GPT-2's (r50k_base), since a wrong split tokenizes silently wrong");
    vocab = read_tiktoken(files[0].bytes, source);
  } else if (files.size() == 2 && vocab_file && merges_file) {
    // GPT-2's own formats: its encoder applies GPT-2's pattern to them.
    vocab = read_vocab_and_merges(vocab_file->bytes, vocab_file->path, merges_file->bytes, merges_file->path);
    source = vocab_file->path + " + " + merges_file->path;
  } else {
    std::string got;
    for (const InputFile& f : files)
      got += (got.empty() ? "" : ", ") + std::string(describe(f.kind)) + " (" + f.path + ")";
    QKV_FAIL("tokenizer import: expected encoder.json + vocab.bpe, vocab.json + merges.txt, one tokenizer.json or ",
             "one tiktoken file; got ", got.empty() ? std::string("no file") : got);
  }
  if (options.pattern) vocab.pretokenizer = *options.pattern;
  for (const std::string& s : options.specials) vocab.specials.push_back(s);
  return Tokenizer::from_vocab(vocab, source);
}

VocabFiles to_vocab_files(const Tokenizer& t) {
  QKV_CHECK(
      t.kind() == TokenizerKind::Bpe && t.pretokenizer() == Pretokenizer::Gpt2,
      "GPT-2's vocab.json and merges.txt hold byte-level BPE with GPT-2's split only; this tokenizer is ",
      name(t.kind()),
      t.kind() == TokenizerKind::Bpe ? std::string(" with the ") + name(t.pretokenizer()) + " split" : std::string());
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int32_t id = 0; id < t.size(); ++id) {
    const std::string& tok = t.tokens()[static_cast<size_t>(id)];
    vocab[t.is_special(id) ? tok : gpt2_bytes_key(tok)] = id;
  }
  VocabFiles f;
  f.vocab_json = vocab.dump();
  f.merges_txt = "#version: 0.2\n";
  for (const auto& [a, b] : t.merges())
    f.merges_txt += gpt2_bytes_key(t.tokens()[static_cast<size_t>(a)]) + " " +
                    gpt2_bytes_key(t.tokens()[static_cast<size_t>(b)]) + "\n";
  return f;
}

}  // namespace qkv
