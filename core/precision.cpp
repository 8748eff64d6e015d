#include "core/precision.h"

#include <atomic>

namespace qkv {
namespace {
std::atomic<Precision> g_precision{Precision::fp32};
}

void set_precision(Precision p) { g_precision.store(p, std::memory_order_relaxed); }
Precision precision() { return g_precision.load(std::memory_order_relaxed); }

}  // namespace qkv
