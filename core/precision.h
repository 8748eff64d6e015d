// The precision of matrix products: fp32, or bf16 inputs with fp32 accumulation (as PyTorch's CPU autocast).
#pragma once

#include "core/enum_names.h"

namespace qkv {

// NOTE [precision]: a process setting like the thread count. Under bf16 every GEMM (linear layers, the
// attention's QK^T and PV, the LM head, forward and backward) rounds its two inputs to bf16 and sums in
// fp32; everything else, weights, gradients and optimizer state included, stays fp32.
enum class Precision { fp32, bf16 };
inline constexpr EnumName<Precision> kPrecisions[] = {{Precision::fp32, "fp32"}, {Precision::bf16, "bf16"}};

inline const char* name(Precision p) { return enum_name(kPrecisions, p); }

// Choosing bf16 also resolves isa() (core/isa.h): a bad QKV_ISA throws qkv::Error here.
void set_precision(Precision p);
Precision precision();

// Sets a precision for a scope and restores the one before.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p) : saved_(precision()) { set_precision(p); }
  ~PrecisionScope() { set_precision(saved_); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision saved_;
};

}  // namespace qkv
