// Reading a corpus file: its bytes, or a qkv::Error saying why there are none.
#pragma once

#include <string>

namespace qkv {

// The file's bytes; an error naming the path when it is missing, a directory, unreadable or empty.
// Validity as UTF-8 is checked separately (check_utf8), since byte-level BPE accepts any bytes.
std::string read_text(const std::string& path);

}  // namespace qkv
