#include "core/isa.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace qkv {
namespace {

// Each level's own features, checked separately (the levels are then taken in order).
struct Features {
  bool avx2 = false, avx512 = false, avx512bf16 = false, amx = false;
};

#if defined(__x86_64__) || defined(__i386__)
// XCR0: the register states the OS saves on a context switch; a feature is usable only if its state is in it.
uint64_t os_enabled_state() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;  // no OSXSAVE: no xgetbv
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

Features read_features() {
  Features f;
  __builtin_cpu_init();
  uint64_t xcr0 = os_enabled_state();
  bool zmm_state = (xcr0 & 0xe6) == 0xe6;         // SSE, AVX, opmask, ZMM0-15 upper halves, ZMM16-31
  bool tile_state = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = zmm_state && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  // gcc 12 and clang 14 do not both know AVX512_BF16 and AMX by name: cpuid leaf 7 directly.
  unsigned max_sub, ebx, ecx, edx;
  if (__get_cpuid_count(7, 0, &max_sub, &ebx, &ecx, &edx)) {
    f.amx = tile_state && (edx & (1u << 24)) && (edx & (1u << 22));  // AMX-TILE, AMX-BF16
    unsigned eax1;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &eax1, &ebx, &ecx, &edx))
      f.avx512bf16 = f.avx512 && (eax1 & (1u << 5));  // AVX512_BF16
  }
  return f;
}
#else
Features read_features() { return {}; }
#endif

const Features& features() {
  static const Features f = read_features();
  return f;
}

// Whether this CPU has `level` on its own (not counting the levels below it).
bool has_own(Isa level) {
  const Features& f = features();
  switch (level) {
    case Isa::generic:
      return true;
    case Isa::avx2:
      return f.avx2;
    case Isa::avx512:
      return f.avx512;
    case Isa::avx512bf16:
      return f.avx512bf16;
    case Isa::amx:
      return f.amx;
  }
  return false;
}

void check_available(Isa level, std::string_view asked) {
  QKV_CHECK(level <= detected_isa(), asked, ": this CPU lacks ", enum_name(kIsas, level), " (it has: ", cpu_features(),
            ")");
}

constexpr int kUnresolved = -1;
std::atomic<int> g_isa{kUnresolved};

}  // namespace

Isa detected_isa() {
  static const Isa level = [] {
    Isa best = Isa::generic;
    for (const EnumName<Isa>& entry : kIsas) {  // in order: stop at the first level missing
      if (!has_own(entry.value)) break;
      best = entry.value;
    }
    return best;
  }();
  return level;
}

std::string cpu_features() {
  std::string out;
  for (const EnumName<Isa>& entry : kIsas)
    if (entry.value != Isa::generic && has_own(entry.value)) out += (out.empty() ? "" : " ") + std::string(entry.name);
  return out.empty() ? "none" : out;
}

Isa parse_isa(std::string_view name) {
  std::optional<Isa> level = parse_enum(kIsas, name);
  QKV_CHECK(level, "QKV_ISA=", name, ": unknown instruction set; expected one of ", enum_names(kIsas));
  check_available(*level, "QKV_ISA=" + std::string(name));
  return *level;
}

Isa isa() {
  int current = g_isa.load(std::memory_order_acquire);
  if (current != kUnresolved) return static_cast<Isa>(current);
  const char* env = std::getenv("QKV_ISA");
  Isa chosen = env && *env ? parse_isa(env) : detected_isa();
  // A set_isa() that ran meanwhile wins; either way every thread then sees one value.
  int expected = kUnresolved;
  g_isa.compare_exchange_strong(expected, static_cast<int>(chosen), std::memory_order_acq_rel);
  return static_cast<Isa>(g_isa.load(std::memory_order_acquire));
}

void set_isa(Isa level) {
  check_available(level, "set_isa(" + std::string(enum_name(kIsas, level)) + ")");
  g_isa.store(static_cast<int>(level), std::memory_order_release);
}

}  // namespace qkv
