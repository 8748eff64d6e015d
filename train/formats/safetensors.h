// Reads and writes Hugging Face safetensors files (F32 and I32 tensors plus string metadata), checking every
// number in the header before it is used.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/shape.h"

namespace qkv {

// NOTE [safetensors]: the file is an 8-byte little-endian uint64 N, N bytes of UTF-8 JSON, then the data.
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} with offsets relative to
// the data section, plus an optional "__metadata__" object of string -> string. As in the reference
// implementation, the tensors' ranges must tile the data section exactly (no overlap, no hole, no trailing
// bytes: a hole could hide a second file inside this one), and a header over 100 MB is refused. F32 and I32
// are read and written (every dtype qkv stores); F16 and BF16 are read into floats, exactly, for weights made
// elsewhere.

// One tensor: `dtype` is "F32", "F16" or "BF16" (values in f32) or "I32" (values in i32); the other vector stays
// empty. Only F32 and I32 tensors can be written.
struct SafeTensor {
  std::string dtype;
  Shape shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;

  static SafeTensor of_f32(Shape shape, std::vector<float> values);
  static SafeTensor of_i32(Shape shape, std::vector<int32_t> values);
  bool operator==(const SafeTensor&) const = default;
};

struct SafeTensorsFile {
  std::vector<std::pair<std::string, SafeTensor>> tensors;  // written in this order; read in header order
  std::map<std::string, std::string> metadata;              // "__metadata__"; omitted from the file when empty

  const SafeTensor* find(std::string_view name) const;  // nullptr when absent
  bool operator==(const SafeTensorsFile&) const = default;
};

// The file's bytes: the header padded with spaces so that the data starts at a multiple of 8, then the tensors
// contiguously in order. Throws qkv::Error for a tensor whose values do not match its dtype and shape, an empty,
// repeated or reserved ("__metadata__") name, or a name or metadata string that is not valid UTF-8.
std::string to_safetensors_bytes(const SafeTensorsFile& file);
// Writes atomically (PATH.tmp, then rename), so a crash never leaves half a file at PATH.
void write_safetensors(const std::string& path, const SafeTensorsFile& file);

// Parses a whole file; `source` names it in error messages. Every problem is a qkv::Error naming the source,
// the tensor or key and, where there is one, the byte offset.
SafeTensorsFile parse_safetensors(std::string_view bytes, const std::string& source);
SafeTensorsFile read_safetensors(const std::string& path);

}  // namespace qkv
