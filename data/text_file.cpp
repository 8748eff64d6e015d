#include "data/text_file.h"

#include "core/archive.h"
#include "core/error.h"

namespace qkv {

std::string read_text(const std::string& path) {
  std::string bytes = read_file(path);
  QKV_CHECK(!bytes.empty(), path, ": is empty, expected a text corpus");
  return bytes;
}

}  // namespace qkv
