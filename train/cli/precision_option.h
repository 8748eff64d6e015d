// The --precision option of the commands that run a model, and the precision it leaves the process in.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/precision.h"

namespace qkv::cli {

// Adds --precision fp32|bf16 to cmd; an empty value means the precision the model was trained in.
void add_precision_option(CLI::App* cmd, std::string& value);

// Sets the process's precision: the option's when given, else `trained` (the checkpoint's or config's).
void use_precision(const std::string& option, Precision trained);

}  // namespace qkv::cli
