// qkv::Error, the one exception type of qkv, and QKV_CHECK to throw it with a message.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace qkv {

// Thrown for every misuse and bad input. The message names the bad value and what was expected.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
[[noreturn]] void throw_error(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace qkv

// QKV_CHECK(cond, "op: ", a, " expected ", b): throws qkv::Error with the streamed message when cond is false.
#define QKV_CHECK(cond, ...)                              \
  do {                                                    \
    if (!(cond)) ::qkv::detail::throw_error(__VA_ARGS__); \
  } while (0)

#define QKV_FAIL(...) ::qkv::detail::throw_error(__VA_ARGS__)
