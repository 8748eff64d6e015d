#include "core/precision.h"

#include <atomic>

#include "core/isa.h"

namespace qkv {
namespace {
std::atomic<Precision> g_precision{Precision::fp32};
}

void set_precision(Precision p) {
  // bf16 picks its kernel by isa(): resolve it here, on the caller's thread, so that a bad QKV_ISA throws now
  // rather than from a GEMM inside a parallel region (where an exception would end the process).
  if (p == Precision::bf16) isa();
  g_precision.store(p, std::memory_order_relaxed);
}
Precision precision() { return g_precision.load(std::memory_order_relaxed); }

}  // namespace qkv
