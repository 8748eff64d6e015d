// The instruction set a kernel path may use: what this CPU has (cpuid) and the path in use (QKV_ISA or set_isa).
#pragma once

#include <string>
#include <string_view>

#include "core/enum_names.h"

namespace qkv {

// Ordered: each level has every feature of the ones before it, so `isa() >= Isa::avx512bf16` asks for a path.
//   avx2: AVX2 + FMA; avx512: AVX512 F, BW, VL and DQ; avx512bf16: also AVX512_BF16 (vdpbf16ps);
//   amx: also AMX-TILE and AMX-BF16 (detected only: no AMX kernel yet).
enum class Isa { generic, avx2, avx512, avx512bf16, amx };
inline constexpr EnumName<Isa> kIsas[] = {{Isa::generic, "generic"},
                                          {Isa::avx2, "avx2"},
                                          {Isa::avx512, "avx512"},
                                          {Isa::avx512bf16, "avx512bf16"},
                                          {Isa::amx, "amx"}};

// The highest level this CPU and its OS support (ZMM and tile state enabled in XCR0), read once.
Isa detected_isa();

// The path in use: QKV_ISA (one of the names of kIsas) if set, else detected_isa(). Read once and cached;
// throws qkv::Error for an unknown name or a level this CPU lacks (and again on each later call).
Isa isa();

// The level named `name` (QKV_ISA's parser); throws qkv::Error for an unknown name, listing the accepted ones,
// or for a level this CPU lacks, naming what it has.
Isa parse_isa(std::string_view name);

// Forces a path (tests); throws qkv::Error, changing nothing, when this CPU lacks it.
void set_isa(Isa level);

// The levels above generic this CPU has, by name: "avx2 avx512 avx512bf16"; "none" when it has none.
std::string cpu_features();

}  // namespace qkv
