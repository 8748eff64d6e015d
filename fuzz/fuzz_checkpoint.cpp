// libFuzzer target: a checkpoint file (.qkv): train/checkpoint.h parse_checkpoint, then the config and tokenizer it
// stores. What counts as a bug: NOTE [what the fuzzers count as a bug] in fuzz/fuzz_inputs.h. Run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::checkpoint(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
