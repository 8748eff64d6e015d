#include "train/cli/precision_option.h"

#include "core/error.h"

namespace qkv::cli {

void add_precision_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--precision", value, "matrix products in fp32, or bf16 summed in fp32 (default: as trained)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

void use_precision(const std::string& option, Precision trained) {
  if (option.empty()) return set_precision(trained);
  std::optional<Precision> p = parse_enum(kPrecisions, option);
  QKV_CHECK(p.has_value(), "--precision: expected one of ", enum_names(kPrecisions), ", got '", option, "'");
  set_precision(*p);
}

}  // namespace qkv::cli
