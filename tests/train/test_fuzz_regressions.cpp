// Replays the fuzzers' seed corpora and the crashes they found (fuzz/corpus/<target>/, fuzz/crashes/<target>/)
// through the code the fuzz targets run (fuzz/fuzz_inputs.h): each file loads or fails with a qkv::Error.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/archive.h"
#include "fuzz/fuzz_inputs.h"

namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = fs::path(__FILE__).parent_path().parent_path().parent_path() / "fuzz";

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

void replay(const std::string& target, void (*run)(std::string_view)) {
  const std::vector<fs::path> seeds = files_in(kFuzzDir / "corpus" / target);
  REQUIRE_MESSAGE(!seeds.empty(), "no seed corpus in ", (kFuzzDir / "corpus" / target).string());
  std::vector<fs::path> all = seeds, crashes = files_in(kFuzzDir / "crashes" / target);
  all.insert(all.end(), crashes.begin(), crashes.end());
  for (const fs::path& file : all) {
    INFO(file.string());
    const std::string bytes = qkv::read_file(file.string());
    CHECK_NOTHROW(run(bytes));
  }
}

}  // namespace

TEST_CASE("fuzz regressions: checkpoint files") { replay("checkpoint", qkv::fuzz::checkpoint); }
TEST_CASE("fuzz regressions: safetensors files") { replay("safetensors", qkv::fuzz::safetensors); }
TEST_CASE("fuzz regressions: llm.c checkpoints") { replay("llmc", qkv::fuzz::llmc); }
TEST_CASE("fuzz regressions: tokenizer files") { replay("tokenizer", qkv::fuzz::tokenizer); }
TEST_CASE("fuzz regressions: GPT-2 tokenizer files") { replay("tokenizer_import", qkv::fuzz::tokenizer_import); }
TEST_CASE("fuzz regressions: configs") { replay("config", qkv::fuzz::config); }
TEST_CASE("fuzz regressions: token files") { replay("token_file", qkv::fuzz::token_file); }
