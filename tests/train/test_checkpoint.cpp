// Checkpoints: round trip, and every kind of damage gives a clear error instead of a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/archive.h"
#include "core/error.h"
#include "nn/gpt.h"
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
