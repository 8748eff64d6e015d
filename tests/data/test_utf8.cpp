// UTF-8 decoding and checks, and reading corpus files: the errors name the offset, line and path.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>

#include "core/error.h"
#include "data/text_file.h"
#include "data/utf8.h"

using namespace qkv;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("data: utf8_decode accepts well-formed sequences and rejects ill-formed ones") {
  uint32_t cp = 0;
  CHECK(utf8_decode("A", 0, &cp) == 1);
  CHECK(cp == 0x41);
  CHECK(utf8_decode("\xC3\xA9", 0, &cp) == 2);  // é
  CHECK(cp == 0xE9);
  CHECK(utf8_decode("\xE2\x9C\x93", 0, &cp) == 3);  // ✓
  CHECK(cp == 0x2713);
  CHECK(utf8_decode("\xF0\x9F\x98\x80", 0, &cp) == 4);  // 😀
  CHECK(cp == 0x1F600);
  CHECK(utf8_decode(std::string_view("\0", 1), 0, &cp) == 1);
  CHECK(cp == 0);
  CHECK(utf8_decode("\xC0\x80", 0, &cp) == 0);          // overlong NUL
  CHECK(utf8_decode("\xE0\x80\xAF", 0, &cp) == 0);      // overlong '/'
  CHECK(utf8_decode("\xED\xA0\x80", 0, &cp) == 0);      // surrogate U+D800
  CHECK(utf8_decode("\xF4\x90\x80\x80", 0, &cp) == 0);  // U+110000
  CHECK(utf8_decode("\xE2\x82", 0, &cp) == 0);          // truncated
  CHECK(utf8_decode("\x80", 0, &cp) == 0);              // lone continuation byte
  CHECK(utf8_decode("\xFF", 0, &cp) == 0);

  std::string s;
  for (uint32_t c : {0x41u, 0xE9u, 0x2713u, 0x1F600u}) utf8_append(s, c);
  CHECK(s == "A\xC3\xA9\xE2\x9C\x93\xF0\x9F\x98\x80");
}

TEST_CASE("data: check_utf8 names the byte offset and line of the first invalid sequence") {
  CHECK_NOTHROW(check_utf8("plain \xC3\xA9 text\n", "ok.txt"));
  std::string msg = message_of([] { check_utf8("ab\n\xC3\xA9x\xFF yz", "bad.txt"); });
  CHECK(msg.find("bad.txt") != std::string::npos);
  CHECK(msg.find("byte offset 6") != std::string::npos);
  CHECK(msg.find("line 2") != std::string::npos);
  CHECK(msg.find("0xFF") != std::string::npos);
  // A sequence cut off by the end of the text.
  msg = message_of([] { check_utf8("abc\xE2\x9C", "cut.txt"); });
  CHECK(msg.find("byte offset 3") != std::string::npos);
}

TEST_CASE("data: describe_code_point shows printable characters and escapes the rest") {
  CHECK(describe_code_point('a') == "'a' (U+0061)");
  CHECK(describe_code_point('\n') == "'\\n' (U+000A)");
  CHECK(describe_code_point(0xE9) == "'\xC3\xA9' (U+00E9)");
  CHECK(describe_code_point(0x01) == "U+0001");
  CHECK(describe_code_point(0x7F) == "U+007F");
}

TEST_CASE("data: read_text reports missing, empty and directory paths") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("qkv_test_read_text_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string empty = (dir / "empty.txt").string(), full = (dir / "full.txt").string();
  std::ofstream(empty).close();
  std::ofstream(full, std::ios::binary) << std::string("hi\0there", 8);
  CHECK(read_text(full) == std::string("hi\0there", 8));
  CHECK(message_of([&] { read_text(empty); }).find("empty.txt: is empty") != std::string::npos);
  CHECK(message_of([&] { read_text((dir / "nope.txt").string()); }).find("nope.txt: no such file") !=
        std::string::npos);
  CHECK(message_of([&] { read_text(dir.string()); }).find("is a directory") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE(
    "data: Utf8Stream holds a character split over tokens until its last byte, and replaces only bytes "
    "that can form none") {
  const std::string fffd = "\xEF\xBF\xBD";
  Utf8Stream s;
  CHECK(s.push("the \xF0\x9F") == "the ");  // an emoji's first two bytes: nothing to write yet
  CHECK(s.push("\x98") == "");
  CHECK(s.push("\x80!") == "\xF0\x9F\x98\x80!");
  CHECK(s.push("\xE6") == "");  // a CJK character one byte at a time
  CHECK(s.push("\x97") == "");
  CHECK(s.push("\xA5") == "\xE6\x97\xA5");
  CHECK(s.finish() == "");
  // What BPE runs printed: a lone continuation byte becomes one U+FFFD, the text around it stays.
  CHECK(valid_utf8("thein\x80"
                   "able") == "thein" + fffd + "able");
  // A sequence broken by a byte that cannot continue it: one U+FFFD for the maximal subpart, then the byte.
  Utf8Stream broken;
  CHECK(broken.push("\xF0\x9F\x98") == "");
  CHECK(broken.push("A") == fffd + "A");
  // Overlong forms, surrogates, bytes that never occur: replaced as Unicode's conversion practice says.
  CHECK(valid_utf8("\xE0\x80\xAF") == fffd + fffd + fffd);
  CHECK(valid_utf8("\xED\xA0\x80") == fffd + fffd + fffd);
  CHECK(valid_utf8("\xC0\xFF") == fffd + fffd);
  CHECK(valid_utf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);
  // An unfinished character at the end is one U+FFFD.
  Utf8Stream cut;
  CHECK(cut.push("ab\xE6\x97") == "ab");
  CHECK(cut.finish() == fffd);
  CHECK(cut.finish() == "");
  // Whatever the bytes and however they are cut, the output is valid UTF-8 and valid input passes unchanged.
  uint32_t x = 12345;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes, out;
    Utf8Stream t;
    for (int i = 0; i < 40; ++i) {
      x = x * 1664525u + 1013904223u;
      bytes += static_cast<char>(x >> 24);
      if ((x >> 8) % 3 == 0) out += t.push(std::exchange(bytes, ""));
    }
    out += t.push(bytes) + t.finish();
    CHECK_NOTHROW(check_utf8(out, "stream"));
  }
  const std::string text = "na\xC3\xAFve \xE2\x82\xAC \xF0\x9F\x98\x80 done";
  std::string whole;
  Utf8Stream byte_by_byte;
  for (char c : text) whole += byte_by_byte.push(std::string(1, c));
  CHECK(whole + byte_by_byte.finish() == text);
}
