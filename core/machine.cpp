#include "core/machine.h"

#include <cblas.h>

#include <fstream>

namespace qkv {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

std::string blas_core() {
  const char* core = openblas_get_corename();
  return core ? core : "unknown";
}

}  // namespace qkv
