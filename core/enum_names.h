// Enum <-> name tables: one table per enum serves both parsing and printing, so the two cannot disagree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qkv {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

// The name of `value` in `table`, or "?" for a value the table lacks.
template <class E, size_t N>
constexpr const char* enum_name(const EnumName<E> (&table)[N], E value) {
  for (const EnumName<E>& entry : table)
    if (entry.value == value) return entry.name;
  return "?";
}

// The value named `name`, or nullopt when no entry has that name.
template <class E, size_t N>
constexpr std::optional<E> parse_enum(const EnumName<E> (&table)[N], std::string_view name) {
  for (const EnumName<E>& entry : table)
    if (name == entry.name) return entry.value;
  return std::nullopt;
}

// "a, b, c": the names, for error messages.
template <class E, size_t N>
std::string enum_names(const EnumName<E> (&table)[N]) {
  std::string out;
  for (const EnumName<E>& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.name);
  return out;
}

}  // namespace qkv
