// Shared by the GEMM kernel tests: skipping on a CPU without the kernel's ISA, restoring the forced path, and
// stored matrices with padding that must not be read.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "core/isa.h"
#include "core/rng.h"

namespace qkv::testing {

// Whether this CPU runs a kernel that needs `level`; if not, says so in the test output (the case then asserts
// nothing).
inline bool kernel_available(Isa level, const char* kernel) {
  if (detected_isa() >= level) return true;
  MESSAGE("skipped: this CPU lacks " << enum_name(kIsas, level) << " (it has: " << cpu_features() << "), so " << kernel
                                     << " cannot run");
  return false;
}

// Restores the path in use at the end of a test that forces one.
struct IsaRestore {
  Isa saved = isa();
  ~IsaRestore() { set_isa(saved); }
};

// A stored matrix of rows x cols with row stride ld >= cols; the padding holds values that must not be read.
inline std::vector<float> random_matrix(Rng& rng, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> m(static_cast<size_t>(rows * ld), 1e30f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m[static_cast<size_t>(i * ld + j)] = rng.normal();
  return m;
}

}  // namespace qkv::testing
