#include "data/token_meta.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace qkv {
namespace {

using nlohmann::json;

// An integer key, or `fallback` when absent; anything else is an error naming it.
int64_t integer(const json& j, const char* key, int64_t fallback, int64_t least, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  QKV_CHECK(j[key].is_number_integer(), source, ": \"", key, "\" is ", j[key].dump(), ", expected an integer");
  const auto v = j[key].get<int64_t>();
  QKV_CHECK(v >= least, source, ": \"", key, "\" is ", v, ", expected at least ", least);
  return v;
}

std::string text(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) return "";
  QKV_CHECK(j[key].is_string(), source, ": \"", key, "\" is ", j[key].dump(), ", expected a string");
  return j[key].get<std::string>();
}

}  // namespace

TokenMeta parse_token_meta(std::string_view bytes, const std::string& source) {
  json j = json::parse(bytes, nullptr, false);
  QKV_CHECK(j.is_object(), source, ": not a JSON object");
  TokenMeta m;
  const std::string dtype = text(j, "dtype", source);
  QKV_CHECK(dtype == "uint16" || dtype == "uint32", source, ": \"dtype\" is '", dtype, "', expected uint16 or uint32");
  m.dtype = dtype == "uint16" ? TokenDtype::U16 : TokenDtype::U32;
  if (j.contains("format")) m.format = text(j, "format", source);
  QKV_CHECK(m.format == "nanogpt" || m.format == "llmc", source, ": \"format\" is '", m.format,
            "', expected nanogpt or llmc");
  m.vocab_size = integer(j, "vocab_size", 0, 1, source);
  m.tokenizer = text(j, "tokenizer", source);
  m.tokenizer_sha256 = text(j, "tokenizer_sha256", source);
  const int64_t eot = integer(j, "eot", -1, 0, source);
  QKV_CHECK(eot < (m.vocab_size > 0 ? m.vocab_size : int64_t{1} << 31), source, ": \"eot\" ", eot,
            " is outside the vocabulary of ", m.vocab_size);
  m.eot = static_cast<int32_t>(eot);
  m.documents = integer(j, "documents", 0, 0, source);
  if (j.contains("files")) {
    QKV_CHECK(j["files"].is_object(), source, ": \"files\" is ", j["files"].dump(), ", expected an object");
    for (const auto& [file, count] : j["files"].items()) {
      QKV_CHECK(count.is_number_integer() && count.get<int64_t>() >= 0, source, ": \"files\": \"", file, "\" is ",
                count.dump(), ", expected a token count");
      m.files[file] = count.get<int64_t>();
    }
  }
  return m;
}

std::string token_meta_json(const TokenMeta& m) {
  json j;
  j["format"] = m.format;
  j["dtype"] = name(m.dtype);
  j["vocab_size"] = m.vocab_size;
  j["tokenizer"] = m.tokenizer;
  j["tokenizer_sha256"] = m.tokenizer_sha256;
  j["eot"] = m.eot >= 0 ? json(m.eot) : json(nullptr);
  j["documents"] = m.documents;
  j["files"] = json::object();
  for (const auto& [file, count] : m.files) j["files"][file] = count;
  return j.dump(2) + "\n";
}

}  // namespace qkv
