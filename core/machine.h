// The machine qkv runs on, for reports: the CPU's model name and the kernel core OpenBLAS chose.
#pragma once

#include <string>

namespace qkv {

std::string cpu_model();  // from /proc/cpuinfo; "unknown" where there is none
std::string blas_core();  // OpenBLAS's name for the core it dispatched to; "unknown" if it gives none

}  // namespace qkv
