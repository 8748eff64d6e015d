// How subcommands print a result: one JSON object (--json) or a line for people.
#pragma once

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace qkv::cli {

inline void print_json_or(bool json, const nlohmann::json& j, const std::string& text) {
  std::printf("%s\n", json ? j.dump().c_str() : text.c_str());
}

// JSON has no NaN: an absent value (no validation yet) is null.
inline nlohmann::json nan_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace qkv::cli
