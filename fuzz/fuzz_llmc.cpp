// libFuzzer target: an llm.c checkpoint: train/formats/llmc_checkpoint.h parse_llmc, and writing back what parsed.
// What counts as a bug: NOTE [what the fuzzers count as a bug] in fuzz/fuzz_inputs.h. Run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::llmc(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
