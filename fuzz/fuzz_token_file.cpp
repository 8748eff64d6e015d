// libFuzzer target: a token file (nanoGPT raw tokens, an llm.c shard) or a meta.json (data/token_file.h).
// What counts as a bug: NOTE [what the fuzzers count as a bug] in fuzz/fuzz_inputs.h. Run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::token_file(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
