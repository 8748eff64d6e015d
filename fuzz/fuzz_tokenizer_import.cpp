// libFuzzer target: GPT-2's tokenizer files: train/formats/bpe_vocab_files.h and tokenizer_json.h, then
// Tokenizer::from_vocab, encoding and decoding. What counts as a bug: NOTE [what the fuzzers count as a bug] in
// fuzz/fuzz_inputs.h. Run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qkv::fuzz::tokenizer_import(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
