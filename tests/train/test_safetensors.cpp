// safetensors: round trips, the exact bytes of a tiny file, and a qkv::Error (never a crash) for every bad file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "train/formats/safetensors.h"

using namespace qkv;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("qkv_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file from a header text and raw data bytes, with no padding: the reader must not need it.
std::string make_file(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// One header entry, "name":{...}, with offsets [b, e).
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, int b, int e) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

std::string floats_bytes(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

SafeTensorsFile sample_file() {
  SafeTensorsFile f;
  f.tensors.emplace_back("transformer.wte.weight",
                         SafeTensor::of_f32({2, 3}, {1.5f, -2.0f, 0.0f, 3.25f, 1e-7f, -1e30f}));
  f.tensors.emplace_back("ids", SafeTensor::of_i32({4}, {0, -1, 2147483647, -2147483647 - 1}));
  f.tensors.emplace_back("scalar", SafeTensor::of_f32({}, {42.0f}));
  f.tensors.emplace_back("empty", SafeTensor::of_f32({0, 5}, {}));
  f.tensors.emplace_back("bias", SafeTensor::of_f32({3}, {0.5f, 0.25f, 0.125f}));
  f.metadata = {{"format", "pt"}, {"step", "12"}};
  return f;
}

}  // namespace

TEST_CASE("safetensors: F32 and I32 tensors and metadata survive a round trip through a file") {
  SafeTensorsFile f = sample_file();
  std::string path = temp_path("round_trip.safetensors");
  write_safetensors(path, f);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  SafeTensorsFile g = read_safetensors(path);
  std::filesystem::remove(path);

  CHECK(g == f);  // same names in the same order, dtypes, shapes, values and metadata
  REQUIRE(g.tensors.size() == 5);
  CHECK(g.tensors[0].first == "transformer.wte.weight");
  const SafeTensor* w = g.find("transformer.wte.weight");
  REQUIRE(w != nullptr);
  CHECK(w->dtype == "F32");
  CHECK(w->shape == Shape{2, 3});
  CHECK(w->f32[3] == 3.25f);
  CHECK(w->f32[5] == -1e30f);
  CHECK(w->i32.empty());
  const SafeTensor* ids = g.find("ids");
  REQUIRE(ids != nullptr);
  CHECK(ids->dtype == "I32");
  CHECK(ids->i32 == std::vector<int32_t>{0, -1, 2147483647, -2147483647 - 1});
  CHECK(ids->f32.empty());
  CHECK(g.find("scalar")->shape.empty());
  CHECK(g.find("scalar")->f32 == std::vector<float>{42.0f});
  CHECK(g.find("empty")->shape == Shape{0, 5});
  CHECK(g.find("missing") == nullptr);
  CHECK(g.metadata.at("format") == "pt");
  CHECK(g.metadata.at("step") == "12");

  // The data section starts at a multiple of 8 and holds the tensors back to back: 24 + 16 + 4 + 0 + 12 bytes.
  std::string bytes = to_safetensors_bytes(f);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK((8 + n) % 8 == 0);
  CHECK(bytes.size() == 8 + n + 56);
}

TEST_CASE("safetensors: a one-tensor file has exactly the expected bytes") {
  SafeTensorsFile f;
  f.tensors.emplace_back("a", SafeTensor::of_f32({2}, {1.0f, 2.0f}));
  std::string bytes = to_safetensors_bytes(f);

  // 54 bytes of JSON, padded with 2 spaces to 56 so that the data starts at 8 + 56 = 64.
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  REQUIRE(header.size() == 54);
  const std::string length("\x38\0\0\0\0\0\0\0", 8);
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f and 2.0f, little-endian
  CHECK(bytes == length + header + "  " + data);
  CHECK(bytes.size() == 72);

  // With metadata, "__metadata__" comes first.
  f.metadata["format"] = "pt";
  std::string with_meta = to_safetensors_bytes(f);
  CHECK(with_meta.substr(8, 24) == R"({"__metadata__":{"format)");
  CHECK(parse_safetensors(with_meta, "meta") == f);
}

TEST_CASE("safetensors: every bad file is a qkv::Error that names the problem") {
  const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string two = floats_bytes({1.0f, 2.0f});
  const std::string good = make_file(ok_header, two);
  REQUIRE(parse_safetensors(good, "good").find("a")->f32 == std::vector<float>{1.0f, 2.0f});

  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  std::string too_long = good;
  too_long.replace(0, 8, u64_le(good.size() - 8 + 1));
  std::string huge = good;
  huge.replace(0, 8, u64_le(200ull << 20));
  const Case cases[] = {
      {"empty file", "", "bad.safetensors: the file is 0 bytes, expected at least 8"},
      {"shorter than the length", std::string("\x05\0\0", 3), "the file is 3 bytes"},
      {"header length larger than the file", too_long, "header length at offset 0 is 63 bytes, but only 62 bytes"},
      {"header over 100 MB", huge, "over the 100 MB limit"},
      {"truncated data", good.substr(0, good.size() - 4), "data_offsets [0, 8] past the end of the data section (4"},
      {"overlapping offsets",
       make_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
                 floats_bytes({1, 2, 3})),
       "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])"},
      {"out-of-range offsets", make_file("{" + entry("a", "F32", "[4]", 0, 16) + "}", two),
       "tensor 'a' has data_offsets [0, 16] past the end of the data section (8 bytes)"},
      {"begin after end", make_file("{" + entry("a", "F32", "[2]", 8, 0) + "}", two), "expected begin <= end"},
      {"a hole between tensors",
       make_file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}",
                 floats_bytes({1, 2, 3})),
       "bytes [4, 8) of the data section"},
      {"trailing bytes", make_file(ok_header, two + "xyz"), "the data section is 11 bytes but the tensors cover 8"},
      {"shape not matching the byte length", make_file("{" + entry("a", "F32", "[3]", 0, 8) + "}", two),
       "tensor 'a' has shape [3] of F32, which needs 12 bytes, but data_offsets [0, 8] hold 8"},
      {"shape overflowing 64 bits", make_file("{" + entry("a", "F32", "[4294967296,4294967296]", 0, 8) + "}", two),
       "overflows 64 bits"},
      {"negative dimension", make_file("{" + entry("a", "F32", "[-2]", 0, 8) + "}", two),
       "shape[0] = -2, expected a non-negative integer"},
      {"fractional dimension", make_file("{" + entry("a", "F32", "[2.0]", 0, 8) + "}", two), "shape[0] = 2.0"},
      {"dtype F64", make_file("{" + entry("x", "F64", "[1]", 0, 8) + "}", two),
       "bad.safetensors: tensor 'x' has dtype F64, expected F32, F16, BF16 or I32"},
      {"F16 shape not matching", make_file("{" + entry("x", "F16", "[3]", 0, 8) + "}", two),
       "tensor 'x' has shape [3] of F16, which needs 6 bytes"},
      {"dtype not a string", make_file(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", two),
       "tensor 'a' has dtype 4, expected a string"},
      {"missing data_offsets", make_file(R"({"a":{"dtype":"F32","shape":[2]}})", two),
       "tensor 'a' has no 'data_offsets'"},
      {"unknown key", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", two),
       "unknown key 'x'"},
      {"one offset", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", two),
       "data_offsets [8], expected [begin, end]"},
      {"entry not an object", make_file(R"({"a":[1,2]})", two), "tensor 'a' is [1,2] (array)"},
      {"non-string metadata",
       make_file(R"({"__metadata__":{"format":"pt","step":3},)" + entry("a", "F32", "[2]", 0, 8) + "}", two),
       "__metadata__ key 'step' is 3 (number), expected a string"},
      {"metadata not an object", make_file(R"({"__metadata__":"pt",)" + entry("a", "F32", "[2]", 0, 8) + "}", two),
       "__metadata__ is \"pt\" (string), expected an object of strings"},
      {"invalid JSON", make_file(R"({"a":{"dtype":"F32",)", two), "is not valid JSON near file offset"},
      {"invalid UTF-8", make_file("{\"\xff\":1}", two), "is not valid JSON"},
      {"header not an object", make_file("[1,2]", two), "the header is [1,2] (array), expected an object"},
      {"duplicate name",
       make_file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", two),
       "tensor name 'a' appears twice"},
      {"duplicate key in an entry", make_file(R"({"a":{"dtype":"F32","dtype":"I32","shape":[2]}})", two),
       "key 'dtype' appears twice in the header entry 'a'"},
      {"nesting too deep", make_file(R"({"a":{"shape":[[[[[1]]]]]}})", two), "nests deeper"},
  };
  for (const Case& c : cases) {
    std::string what = c.what;
    CAPTURE(what);
    CHECK_THROWS_WITH_AS(parse_safetensors(c.bytes, "bad.safetensors"), doctest::Contains(c.message), Error);
  }
  CHECK_THROWS_WITH_AS(read_safetensors(temp_path("does_not_exist.safetensors")), doctest::Contains("no such file"),
                       Error);
}

TEST_CASE("safetensors: F16 and BF16 tensors are read into floats exactly") {
  // Little-endian halves: F16 1.0 = 0x3c00, -2.0 = 0xc000; BF16 1.0 = 0x3f80, -0.5 = 0xbf00.
  std::string data("\x00\x3c\x00\xc0\x80\x3f\x00\xbf", 8);
  SafeTensorsFile f = parse_safetensors(
      make_file("{" + entry("h", "F16", "[2]", 0, 4) + "," + entry("b", "BF16", "[1,2]", 4, 8) + "}", data), "x");
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].second.dtype == "F16");
  CHECK(f.tensors[0].second.f32 == std::vector<float>{1.0f, -2.0f});
  CHECK(f.tensors[1].second.dtype == "BF16");
  CHECK(f.tensors[1].second.shape == Shape{1, 2});
  CHECK(f.tensors[1].second.f32 == std::vector<float>{1.0f, -0.5f});
}

TEST_CASE("safetensors: the writer refuses tensors it could not read back") {
  auto one = [](const std::string& name, SafeTensor t) {
    SafeTensorsFile f;
    f.tensors.emplace_back(name, std::move(t));
    return f;
  };
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("w", SafeTensor::of_f32({2, 2}, {1, 2, 3}))),
                       doctest::Contains("F32 tensor 'w' of shape [2, 2] has 3 float"), Error);
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("w", SafeTensor{"F16", {1}, {}, {}})),
                       doctest::Contains("tensor 'w' has dtype F16, expected F32 or I32"), Error);
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("w", SafeTensor::of_f32({-1}, {}))),
                       doctest::Contains("expected non-negative dimensions"), Error);
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("__metadata__", SafeTensor::of_f32({}, {1}))),
                       doctest::Contains("is reserved"), Error);
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("", SafeTensor::of_f32({}, {1}))), doctest::Contains("empty name"),
                       Error);
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(one("bad\xff", SafeTensor::of_f32({}, {1}))),
                       doctest::Contains("not valid UTF-8"), Error);
  SafeTensorsFile twice = one("w", SafeTensor::of_f32({}, {1}));
  twice.tensors.emplace_back("w", SafeTensor::of_i32({}, {1}));
  CHECK_THROWS_WITH_AS(to_safetensors_bytes(twice), doctest::Contains("tensor name 'w' appears twice"), Error);
}

TEST_CASE("safetensors: every truncation and single-byte corruption throws qkv::Error or parses, never crashes") {
  const SafeTensorsFile f = sample_file();
  const std::string bytes = to_safetensors_bytes(f);
  REQUIRE(parse_safetensors(bytes, "full") == f);
  // The tensors tile the data section exactly, so every strict prefix is missing something.
  for (size_t k = 0; k < bytes.size(); ++k) {
    CAPTURE(k);
    CHECK_THROWS_AS(parse_safetensors(std::string_view(bytes).substr(0, k), "cut"), Error);
  }
  int parsed = 0, refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0xff, 0x22, 0x7b, 0x5d, 0x39}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(v);
      try {
        (void)parse_safetensors(bad, "corrupt");
        ++parsed;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  CHECK(parsed > 0);   // corrupt data bytes are still a valid file
  CHECK(refused > 0);  // corrupt lengths, JSON and offsets are not
}
