// What a run reports: JSON lines in OUT_DIR/metrics.jsonl, and a progress line on the terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace qkv {

// Appends one JSON object per line and flushes it, so a crash loses nothing already logged.
class MetricsLog {
 public:
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& line);

 private:
  std::string path_;
  std::FILE* file_;
};

// Keeps the lines of `path` (a metrics.jsonl) whose step is at most `step`, and drops the rest (and a line a
// crash cut short): a resumed run logs those steps again. A missing file stays missing.
void keep_metrics_through(const std::string& path, int64_t step);

// On a terminal, rewrites one status line in place; otherwise prints plain lines (logs, CI). Stdout may be
// gone (the `| tee` that the same Ctrl-C killed): writes then fail quietly, and the line saying how the run
// ended goes to stderr instead.
class Progress {
 public:
  Progress();
  void update(const std::string& line);  // transient status
  void print(const std::string& line);   // a line that stays
  void finish(const std::string& line);  // how the run ended: on stderr when stdout is gone
  void close();                          // ends the status line, so that a message on stderr starts a line
  ~Progress();

 private:
  bool tty_;
  bool open_ = false;         // a status line is on screen
  bool stdout_lost_ = false;  // a write to stdout failed
};

// Seconds on the steady clock: for durations only.
double now_s();

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace qkv
