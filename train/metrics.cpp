#include "train/metrics.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "core/archive.h"
#include "core/error.h"

namespace qkv {

MetricsLog::MetricsLog(const std::string& path, bool append)
    : path_(path), file_(std::fopen(path.c_str(), append ? "a" : "w")) {
  QKV_CHECK(file_ != nullptr, path, ": cannot be opened for writing");
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

void MetricsLog::write(const nlohmann::json& line) {
  std::string s = line.dump() + "\n";
  QKV_CHECK(std::fwrite(s.data(), 1, s.size(), file_) == s.size() && std::fflush(file_) == 0, path_,
            ": write failed (disk full?)");
}

void keep_metrics_through(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::istringstream in(read_file(path));
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() <= step)
      kept += line + "\n";
  }
  write_file_atomic(path, kept, /*faults=*/false);
}

Progress::Progress() : tty_(::isatty(STDOUT_FILENO) == 1) {}

void Progress::update(const std::string& line) {
  if (!tty_) return print(line);
  std::printf("\r\033[K%s", line.c_str());
  stdout_lost_ = std::fflush(stdout) != 0;
  open_ = !stdout_lost_;
}

void Progress::print(const std::string& line) {
  if (stdout_lost_) return;
  if (open_) std::printf("\r\033[K");
  std::printf("%s\n", line.c_str());
  stdout_lost_ = std::fflush(stdout) != 0;
  open_ = false;
}

void Progress::finish(const std::string& line) {
  print(line);
  if (stdout_lost_) std::fprintf(stderr, "%s\n", line.c_str());
}

void Progress::close() {
  if (open_) std::printf("\n");
  std::fflush(stdout);
  open_ = false;
}

Progress::~Progress() { close(); }

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string format_duration(double seconds) {
  long s = seconds > 0 ? static_cast<long>(seconds + 0.5) : 0;
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace qkv
