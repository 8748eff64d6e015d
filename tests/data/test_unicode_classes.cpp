// The generated Unicode class table: letters, numbers and White_Space as GPT-2's pattern means them, at the
// edges where a hand-made table or Python's str.isspace() would differ.
#include <doctest/doctest.h>

#include <string>

#include "data/unicode_classes.h"

using namespace qkv;

TEST_CASE("unicode classes: letters (L*), numbers (N*), White_Space, and everything else") {
  CHECK(std::string(unicode_tables_version()) == "15.0.0");
  for (uint32_t cp : {0x41u, 0x7Au, 0xAAu, 0xB5u, 0xC0u, 0xE9u, 0x1C5u, 0x2B0u, 0x5D0u, 0x627u, 0x4E00u, 0x9FFFu,
                      0xAC00u, 0x20000u, 0x31350u})
    CHECK_MESSAGE(unicode_class(cp) == CharClass::Letter, cp);
  // Nd, Nl (U+2160 ROMAN NUMERAL ONE, U+3007 IDEOGRAPHIC NUMBER ZERO) and No (superscripts, fractions).
  for (uint32_t cp : {0x30u, 0x39u, 0xB2u, 0xBDu, 0x660u, 0x966u, 0x2160u, 0x3007u, 0xFF10u, 0x1D7CEu})
    CHECK_MESSAGE(unicode_class(cp) == CharClass::Number, cp);
  // White_Space is 25 code points; U+001C..U+001F (str.isspace) and U+200B, U+180E (no longer) are not in it.
  int spaces = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) spaces += unicode_class(cp) == CharClass::Space;
  CHECK(spaces == 25);
  for (uint32_t cp :
       {0x9u, 0xDu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u})
    CHECK_MESSAGE(unicode_class(cp) == CharClass::Space, cp);
  // Marks, symbols, emoji, format characters, private use, non-characters and unassigned code points.
  for (uint32_t cp : {0x0u, 0x1Cu, 0x1Fu, 0x21u, 0x27u, 0x5Fu, 0x301u, 0x180Eu, 0x200Bu, 0x200Du, 0x20ACu, 0xE000u,
                      0xFFFFu, 0x1F600u, 0x2FFFFu, 0x10FFFFu})
    CHECK_MESSAGE(unicode_class(cp) == CharClass::Other, cp);
}
