// Checkpoints: round trip, and every kind of damage gives a clear error instead of a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "nn/gpt.h"
#include "temp_dir.h"
#include "train/checkpoint.h"

using namespace qkv;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("qkv_test_" + name)).string();
}
ModelConfig tiny() {
  ModelConfig c;
  c.n_layer = 1, c.n_head = 2, c.d_model = 8, c.block_size = 4, c.vocab_size = 5;
  return c;
}
Checkpoint make(GPT& model) {
  Checkpoint c;
  c.config_json = R"({"model": {"kind": "gpt"}})";
  c.tokenizer = "tok";
  c.params = model.named_parameters();
  c.optimizer = "opt";
  c.state.step = 7;
  c.state.data_offset = 99;
  c.state.best_val_loss = 1.5;
  return c;
}
void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
}  // namespace

TEST_CASE("archive: values round-trip and a length larger than the data is refused before allocating") {
  ArchiveWriter w;
  w.i32(-3);
  w.u64(1ull << 40);
  w.f32(0.5f);
  w.str("hello");
  std::vector<float> f{1, 2, 3};
  w.floats(f.data(), 3);
  ArchiveReader r(w.bytes(), "mem");
  CHECK(r.i32("a") == -3);
  CHECK(r.u64("b") == 1ull << 40);
  CHECK(r.f32("c") == 0.5f);
  CHECK(r.str("d") == "hello");
  CHECK(r.floats("e") == f);
  CHECK(r.remaining() == 0);
  CHECK_THROWS_WITH_AS(r.i32("f"), doctest::Contains("mem: truncated or corrupted"), Error);
  ArchiveWriter huge;
  huge.u64(~0ull);  // a string length of 2^64 - 1
  ArchiveReader h(huge.bytes(), "evil");
  CHECK_THROWS_WITH_AS(h.str("name"), doctest::Contains("name declares 18446744073709551615 elements"), Error);
}

TEST_CASE("archive: a file written in pieces as it is made is the same bytes; a short one is never renamed") {
  qkv::test::TempDir dir("atomic_file");
  std::string big(3 << 20, '\0');  // over the 1 MB buffer, so pieces go both through it and around it
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 3);
  const std::string path = (dir.path / "f.bin").string();
  {
    AtomicFile f(path, big.size() + 5);
    f.write("ab", 2);
    f.write(big.data(), big.size());
    std::ostream os(&f);
    os << "cde";  // through the streambuf, as cereal writes
    f.commit();
  }
  CHECK(read_file(path) == "ab" + big + "cde");

  HashingSink sink;
  std::ostream os(&sink);
  os.write(big.data(), static_cast<std::streamsize>(big.size()));
  os.put('x');
  CHECK(sink.size() == big.size() + 1);
  CHECK(sink.hash() == fnv1a64(big + "x"));

  const std::string other = (dir.path / "g.bin").string();
  {
    AtomicFile f(other, 10);
    f.write("abc", 3);
    CHECK_THROWS_WITH_AS(f.commit(), doctest::Contains("3 bytes written where 10 were announced"), Error);
  }
  { AtomicFile abandoned(other, 4); }  // destroyed without commit: neither the file nor its .tmp remains
  CHECK_FALSE(std::filesystem::exists(other));
  CHECK_FALSE(std::filesystem::exists(other + ".tmp"));
}

TEST_CASE("checkpoint: round trip gives identical parameters, logits and state") {
  Rng rng(1);
  GPT model(tiny());
  model.init_weights(rng);
  std::string path = temp_path("roundtrip.qkv");
  save_checkpoint(path, make(model));
  Checkpoint back = load_checkpoint(path);
  CHECK(back.config_json == R"({"model": {"kind": "gpt"}})");
  CHECK(back.tokenizer == "tok");
  CHECK(back.optimizer == "opt");
  CHECK(back.state.step == 7);
  CHECK(back.state.data_offset == 99);
  CHECK(back.state.best_val_loss == 1.5);
  GPT other(tiny());
  CHECK(load_parameters(other, back.params).empty());
  Ids idx({1, 2, 3, 4}, {1, 4});
  CHECK(model.forward(idx).logits.to_vector() == other.forward(idx).logits.to_vector());
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::remove(path.c_str());
}

TEST_CASE("checkpoint: truncation at every 97th byte, a flipped byte, wrong magic and version are clear errors") {
  Rng rng(2);
  GPT model(tiny());
  model.init_weights(rng);
  std::string path = temp_path("damaged.qkv"), bad = temp_path("damaged_copy.qkv");
  save_checkpoint(path, make(model));
  std::string good = read_file(path);
  for (size_t cut = 0; cut < good.size(); cut += 97) {
    write_bytes(bad, good.substr(0, cut));
    CHECK_THROWS_AS(load_checkpoint(bad), Error);
  }
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  write_bytes(bad, flipped);
  CHECK_THROWS_WITH_AS(load_checkpoint(bad), doctest::Contains("checksum mismatch"), Error);
  std::string magic = good;
  magic[0] = 'X';
  write_bytes(bad, magic);
  CHECK_THROWS_WITH_AS(load_checkpoint(bad), doctest::Contains("wrong magic"), Error);
  std::string version = good;
  version[8] = 9;
  write_bytes(bad, version);
  CHECK_THROWS_WITH_AS(load_checkpoint(bad), doctest::Contains("format version 9"), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(temp_path("does_not_exist.qkv")), doctest::Contains("no such file"), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(std::filesystem::temp_directory_path().string()),
                       doctest::Contains("is a directory"), Error);
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("checkpoint: parameters of another shape or name are reported by name") {
  Rng rng(3);
  GPT model(tiny());
  ModelConfig wider = tiny();
  wider.d_model = 16;
  GPT other(wider);
  CHECK_THROWS_WITH_AS(load_parameters(other, model.named_parameters()),
                       doctest::Contains("transformer.wte.weight (file [5, 8], model [5, 16])"), Error);
  auto params = model.named_parameters();
  params.erase(params.begin());
  params.emplace_back("extra.weight", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(load_parameters(model, params),
                       doctest::Contains("missing [transformer.wte.weight], unexpected [extra.weight]"), Error);
  std::vector<std::string> skipped = load_parameters(model, params, false);
  CHECK(skipped == std::vector<std::string>{"transformer.wte.weight", "extra.weight"});
}

TEST_CASE("checkpoint: data fingerprints round-trip, and versions 1 and 2 are still read") {
  Rng rng(4);
  GPT model(tiny());
  model.init_weights(rng);
  std::string path = temp_path("fingerprints.qkv");
  Checkpoint c = make(model);
  c.state.data = {{"data.train", "story.txt", "/runs/story.txt", 18600, 0x115a620d9f0ef98dull},
                  {"data.val", "v.txt", "", 3, 7}};
  save_checkpoint(path, c);
  CHECK(load_checkpoint(path).state.data == c.state.data);

  // Version 2 was version 3 without the absolute paths, so a checkpoint without fingerprints is the same
  // payload; version 1 was version 2 without the fingerprint count at the end.
  c.state.data.clear();
  save_checkpoint(path, c);
  std::string v3 = read_file(path);
  auto seal = [](std::string bytes, uint32_t version) {
    auto put = [&](size_t at, uint64_t v, int n) {
      for (int i = 0; i < n; ++i) bytes[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    put(8, version, 4);
    put(12, bytes.size() - 28, 8);
    put(20, fnv1a64(std::string_view(bytes).substr(28)), 8);
    return bytes;
  };
  std::string v2 = seal(v3, 2);
  CHECK(parse_checkpoint(v2, "v2.qkv").state.step == 7);
  std::string v1 = seal(v2.substr(0, v2.size() - 8), 1);
  Checkpoint back = parse_checkpoint(v1, "v1.qkv");
  CHECK(back.state.step == 7);
  CHECK(back.state.data.empty());
  CHECK(back.params.size() == c.params.size());
  CHECK_THROWS_WITH_AS(parse_checkpoint(seal(v2, 1), "v1.qkv"),
                       doctest::Contains("8 unexpected bytes after the train state"), Error);
  CHECK_THROWS_WITH_AS(parse_checkpoint(seal(v2, 4), "v4.qkv"),
                       doctest::Contains("format version 4, this qkv reads versions 1 to 3"), Error);

  // A file written by qkv before version 2 (the fuzz seed of an untrained GPT, kept as a fixture).
  std::string fixture = (std::filesystem::path(__FILE__).parent_path() / "fixtures" / "checkpoint-v1.qkv").string();
  REQUIRE(read_file(fixture).substr(8, 4) == std::string("\1\0\0\0", 4));
  Checkpoint old = load_checkpoint(fixture);
  CHECK(old.state.step == 0);
  CHECK(old.state.data.empty());
  CHECK_FALSE(old.params.empty());
  std::remove(path.c_str());
}

TEST_CASE(
    "archive: hash_file hashes in chunks as fnv1a64 does at once, and QKV_FAULT fails a write, keeping the file") {
  std::string path = temp_path("atomic.bin");
  std::string big(3 << 19, '\0');  // 1.5 chunks
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 1000);
  write_file_atomic(path, big);
  FileHash h = hash_file(path);
  CHECK(h.size == big.size());
  CHECK(h.fnv1a64 == fnv1a64(big));

  ::setenv("QKV_FAULT", "enospc_after_bytes:1000", 1);
  CHECK(write_fault_from_env().kind == WriteFault::Kind::kEnospc);
  CHECK(write_fault_from_env().after_bytes == 1000);
  write_file_atomic(path + ".small", "a write shorter than the fault's offset is not touched");
  CHECK(read_file(path + ".small").size() < 1000);
  std::remove((path + ".small").c_str());
  CHECK_THROWS_WITH_AS(
      write_file_atomic(path, std::string(5000, 'x')),
      doctest::Contains(
          ("failed after 1000 of 5000 bytes: No space left on device; " + path + " is unchanged").c_str()),
      Error);
  CHECK(read_file(path) == big);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  ::setenv("QKV_FAULT", "enospc_after_bytes:", 1);
  CHECK_THROWS_WITH_AS(write_fault_from_env(), doctest::Contains("QKV_FAULT=\"enospc_after_bytes:\": expected"), Error);
  ::unsetenv("QKV_FAULT");
  CHECK(write_fault_from_env().kind == WriteFault::Kind::kNone);
  std::remove(path.c_str());
}

TEST_CASE("checkpoint: the checkpoints committed as fixtures and fuzz seeds carry no machine's paths") {
  // A trained checkpoint records where its data was read (an absolute path), which would tie a committed
  // fixture to the machine that made it; the committed ones must record none, and no absolute data path.
  const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  size_t seen = 0;
  for (const char* dir : {"tests/train/fixtures", "fuzz/corpus/checkpoint"})
    for (const auto& entry : std::filesystem::directory_iterator(root / dir)) {
      if (entry.path().extension() != ".qkv") continue;
      INFO(entry.path().string());
      Checkpoint c = load_checkpoint(entry.path().string());
      for (const DataFingerprint& f : c.state.data) {
        CHECK(f.absolute.empty());
        CHECK(f.path.rfind('/', 0) != 0);
      }
      nlohmann::json config = nlohmann::json::parse(c.config_json);
      for (const char* key : {"train", "val"}) CHECK(config["data"][key].get<std::string>().rfind('/', 0) != 0);
      ++seen;
    }
  CHECK(seen >= 5);
}
