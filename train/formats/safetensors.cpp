#include "train/formats/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/archive.h"
#include "core/bf16.h"
#include "core/error.h"
#include "core/f16.h"

namespace qkv {

// The data section is copied with memcpy in both directions, which is only the little-endian layout the
// format prescribes on a little-endian machine (x86-64, arm64 Linux: every machine qkv builds for).
static_assert(std::endian::native == std::endian::little, "safetensors.cpp: memcpy assumes a little-endian host");

namespace {

// ordered_json keeps the header's key order: tensors come back in the order they were written.
using json = nlohmann::ordered_json;

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

// Bytes per element, or 0 for a dtype qkv does not read. F16 and BF16 are read (into floats), never written.
uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  return dtype == "F16" || dtype == "BF16" ? 2 : 0;
}

// A non-negative JSON integer. "-0" parses as a signed integer and "2.0" as a float: the first counts, the
// second does not (a dimension of 2.5 has no meaning, and silently truncating 2.0 would hide a broken writer).
bool as_u64(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

// A short rendering of a JSON value for messages; long values (a whole object) are cut.
std::string show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// The number of bytes a tensor of `shape` and element size `elem` needs; false when it does not fit in 64 bits
// or a dimension does not fit in int64 (Shape's type).
bool checked_nbytes(const std::vector<uint64_t>& dims, uint64_t elem, uint64_t* out) {
  uint64_t n = elem;
  for (uint64_t d : dims) {
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    if (__builtin_mul_overflow(n, d, &n)) return false;
  }
  *out = n;
  return true;
}

// Parses the header text. A JSON parser keeps one value for a repeated key without a word, so repeated keys
// are caught here, as they arrive; so is nesting deeper than any valid header (object, entry, shape array),
// which bounds the work done on a hostile file.
json parse_header(std::string_view text, const std::string& source) {
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each object being parsed
  std::string entry;                                // the top-level key being parsed, for messages
  auto callback = [&](int depth, json::parse_event_t event, json& value) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        QKV_CHECK(depth <= 2, source, ": the header nests deeper than a safetensors header can",
                  entry.empty() ? "" : " (in '" + entry + "')",
                  ", expected {name: {dtype, shape: [...], data_offsets: [...]}}");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = value.get_ref<const std::string&>();
        if (depth == 1) entry = key;
        if (!open_objects.empty() && !open_objects.back().insert(key).second) {
          if (depth == 1) QKV_FAIL(source, ": tensor name '", key, "' appears twice in the header");
          QKV_FAIL(source, ": key '", key, "' appears twice in the header entry '", entry, "'");
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    // e.byte counts from 1 within the header; the header starts at file offset 8.
    std::string what = e.what();
    size_t cut = what.find("] ");
    QKV_FAIL(source, ": the header (file offset 8, ", text.size(), " bytes) is not valid JSON near file offset ",
             8 + (e.byte > 0 ? e.byte - 1 : 0), ": ", cut == std::string::npos ? what : what.substr(cut + 2));
  }
}

struct Entry {
  std::string name, dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // within the data section
};

// Checks one header entry against the data section of `data_size` bytes; nothing is allocated from it here.
Entry parse_entry(const std::string& name, const json& v, uint64_t data_size, const std::string& source) {
  QKV_CHECK(!name.empty(), source, ": a tensor has an empty name");
  QKV_CHECK(v.is_object(), source, ": tensor '", name, "' is ", show(v), " (", v.type_name(),
            "), expected an object with dtype, shape and data_offsets");
  for (auto it = v.begin(); it != v.end(); ++it)
    QKV_CHECK(it.key() == "dtype" || it.key() == "shape" || it.key() == "data_offsets", source, ": tensor '", name,
              "' has an unknown key '", it.key(), "', expected dtype, shape and data_offsets");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    QKV_CHECK(v.contains(key), source, ": tensor '", name, "' has no '", key, "'");

  Entry e;
  e.name = name;
  const json& dtype = v["dtype"];
  QKV_CHECK(dtype.is_string(), source, ": tensor '", name, "' has dtype ", show(dtype), ", expected a string");
  e.dtype = dtype.get<std::string>();
  uint64_t elem = dtype_size(e.dtype);
  QKV_CHECK(elem > 0, source, ": tensor '", name, "' has dtype ", e.dtype, ", expected F32, F16, BF16 or I32");

  const json& shape = v["shape"];
  QKV_CHECK(shape.is_array(), source, ": tensor '", name, "' has shape ", show(shape),
            ", expected an array of non-negative integers");
  std::vector<uint64_t> dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    uint64_t d = 0;
    QKV_CHECK(as_u64(shape[i], &d), source, ": tensor '", name, "' has shape[", i, "] = ", show(shape[i]),
              ", expected a non-negative integer");
    dims.push_back(d);
  }

  const json& offsets = v["data_offsets"];
  QKV_CHECK(offsets.is_array() && offsets.size() == 2 && as_u64(offsets[0], &e.begin) && as_u64(offsets[1], &e.end),
            source, ": tensor '", name, "' has data_offsets ", show(offsets),
            ", expected [begin, end] as two non-negative integers");
  QKV_CHECK(e.begin <= e.end, source, ": tensor '", name, "' has data_offsets [", e.begin, ", ", e.end,
            "], expected begin <= end");
  QKV_CHECK(e.end <= data_size, source, ": tensor '", name, "' has data_offsets [", e.begin, ", ", e.end,
            "] past the end of the data section (", data_size, " bytes); truncated file?");

  uint64_t nbytes = 0;
  QKV_CHECK(checked_nbytes(dims, elem, &nbytes), source, ": tensor '", name, "' has shape ", show(shape),
            ", whose size overflows 64 bits");
  QKV_CHECK(nbytes == e.end - e.begin, source, ": tensor '", name, "' has shape ", show(shape), " of ", e.dtype,
            ", which needs ", nbytes, " bytes, but data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
  // Every dimension fits in int64 (checked_nbytes), and so does numel: a zero dimension makes it 0, and
  // otherwise numel * 4 == end - begin <= the file size.
  e.shape.assign(dims.begin(), dims.end());
  return e;
}

// The ranges must tile [0, data_size): sorted by begin, each starts where the last ended.
void check_tiling(const std::vector<Entry>& entries, uint64_t data_size, uint64_t data_start,
                  const std::string& source) {
  std::vector<const Entry*> sorted;
  for (const Entry& e : entries) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* last = nullptr;  // the tensor that ends at `covered`
  for (const Entry* e : sorted) {
    QKV_CHECK(e->begin >= covered, source, ": tensor '", e->name, "' (data_offsets [", e->begin, ", ", e->end,
              "]) overlaps tensor '", last ? last->name : "", "' (data_offsets [", last ? last->begin : 0, ", ",
              covered, "])");
    QKV_CHECK(e->begin == covered, source, ": bytes [", covered, ", ", e->begin, ") of the data section (file offset ",
              data_start + covered, ") belong to no tensor, expected the tensors to cover the data without holes");
    covered = e->end;
    last = e;
  }
  QKV_CHECK(covered == data_size, source, ": the data section is ", data_size, " bytes but the tensors cover ", covered,
            "; ", data_size - covered, " trailing bytes at file offset ", data_start + covered, " belong to no tensor");
}

std::map<std::string, std::string> parse_metadata(const json& v, const std::string& source) {
  QKV_CHECK(v.is_object(), source, ": ", kMetadataKey, " is ", show(v), " (", v.type_name(),
            "), expected an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    QKV_CHECK(value.is_string(), source, ": ", kMetadataKey, " key '", key, "' is ", show(value), " (",
              value.type_name(), "), expected a string");
    out[key] = value.get<std::string>();
  }
  return out;
}

// Number of elements of a shape we are about to write, checked like a shape we read.
uint64_t checked_numel(const std::string& name, const Shape& shape) {
  std::vector<uint64_t> dims;
  for (int64_t d : shape) {
    QKV_CHECK(d >= 0, "safetensors: tensor '", name, "' has shape ", str(shape), ", expected non-negative dimensions");
    dims.push_back(static_cast<uint64_t>(d));
  }
  uint64_t n = 0;
  QKV_CHECK(checked_nbytes(dims, 1, &n), "safetensors: tensor '", name, "' has shape ", str(shape),
            ", whose size overflows 64 bits");
  return n;
}

}  // namespace

SafeTensor SafeTensor::of_f32(Shape shape, std::vector<float> values) {
  return SafeTensor{"F32", std::move(shape), std::move(values), {}};
}

SafeTensor SafeTensor::of_i32(Shape shape, std::vector<int32_t> values) {
  return SafeTensor{"I32", std::move(shape), {}, std::move(values)};
}

const SafeTensor* SafeTensorsFile::find(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

std::string to_safetensors_bytes(const SafeTensorsFile& file) {
  json header = json::object();
  if (!file.metadata.empty()) {
    json meta = json::object();
    for (const auto& [key, value] : file.metadata) {
      QKV_CHECK(valid_utf8(key) && valid_utf8(value), "safetensors: metadata key '", key,
                "' or its value is not valid UTF-8");
      meta[key] = value;
    }
    header[kMetadataKey] = std::move(meta);
  }
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    QKV_CHECK(!name.empty(), "safetensors: a tensor has an empty name");
    QKV_CHECK(name != kMetadataKey, "safetensors: '", kMetadataKey, "' is reserved, expected another tensor name");
    QKV_CHECK(valid_utf8(name), "safetensors: tensor name '", name, "' is not valid UTF-8");
    QKV_CHECK(names.insert(name).second, "safetensors: tensor name '", name, "' appears twice");
    uint64_t n = checked_numel(name, t.shape);
    if (t.dtype == "F32") {
      QKV_CHECK(t.f32.size() == n && t.i32.empty(), "safetensors: F32 tensor '", name, "' of shape ", str(t.shape),
                " has ", t.f32.size(), " float and ", t.i32.size(), " int values, expected ", n, " float and 0 int");
    } else {
      QKV_CHECK(t.dtype == "I32", "safetensors: tensor '", name, "' has dtype ", t.dtype, ", expected F32 or I32");
      QKV_CHECK(t.i32.size() == n && t.f32.empty(), "safetensors: I32 tensor '", name, "' of shape ", str(t.shape),
                " has ", t.i32.size(), " int and ", t.f32.size(), " float values, expected ", n, " int and 0 float");
    }
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }

  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // the data section starts 8-byte aligned
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.reserve(8 + text.size() + offset);
  out += text;
  for (const auto& [name, t] : file.tensors) {
    if (t.dtype == "F32")
      out.append(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * sizeof(float));
    else
      out.append(reinterpret_cast<const char*>(t.i32.data()), t.i32.size() * sizeof(int32_t));
  }
  return out;
}

void write_safetensors(const std::string& path, const SafeTensorsFile& file) {
  write_file_atomic(path, to_safetensors_bytes(file));
}

SafeTensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  const uint64_t size = bytes.size();
  QKV_CHECK(size >= 8, source, ": the file is ", size,
            " bytes, expected at least 8 (the header length); empty or truncated file?");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  QKV_CHECK(n <= kMaxHeader, source, ": the header length at offset 0 is ", n, " bytes, over the 100 MB limit");
  QKV_CHECK(n <= size - 8, source, ": the header length at offset 0 is ", n, " bytes, but only ", size - 8,
            " bytes follow it; truncated file?");

  json header = parse_header(bytes.substr(8, n), source);
  QKV_CHECK(header.is_object(), source, ": the header is ", show(header), " (", header.type_name(),
            "), expected an object mapping tensor names to entries");

  const uint64_t data_start = 8 + n, data_size = size - data_start;
  SafeTensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey)
      file.metadata = parse_metadata(value, source);
    else
      entries.push_back(parse_entry(key, value, data_size, source));
  }
  check_tiling(entries, data_size, data_start, source);

  // Only now, with every range checked against the data, are buffers sized from the file.
  const char* data = bytes.data() + data_start;
  for (const Entry& e : entries) {
    SafeTensor t;
    t.dtype = e.dtype;
    t.shape = e.shape;
    const uint64_t count = (e.end - e.begin) / dtype_size(e.dtype);
    if (e.dtype == "F32") {
      t.f32.resize(count);
      if (count) std::memcpy(t.f32.data(), data + e.begin, count * sizeof(float));
    } else if (e.dtype == "F16" || e.dtype == "BF16") {
      t.f32.resize(count);
      float (*decode)(uint16_t) = e.dtype == "F16" ? from_f16 : from_bf16;
      for (uint64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, data + e.begin + 2 * i, sizeof h);
        t.f32[i] = decode(h);
      }
    } else {
      t.i32.resize(count);
      if (count) std::memcpy(t.i32.data(), data + e.begin, count * sizeof(int32_t));
    }
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

SafeTensorsFile read_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

}  // namespace qkv
