// Where a step's time goes, per op, forward and backward: what `qkv bench --profile` and `qkv train --profile` print.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qkv {

// NOTE [profile]: one process-wide table, switched like the thread setting; while it is off an op pays one
// branch. Only the outermost op is timed: ops called inside another op or inside a backward function count
// as their caller's time, so the rows add up to the time spent in ops.
void set_profiling(bool on);
bool profiling();

class ProfileScope {
 public:
  explicit ProfileScope(const char* op, bool backward = false);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  const char* op_;
  bool backward_, timed_;
  std::chrono::steady_clock::time_point start_;
};

struct ProfileRow {
  std::string op;
  double forward_s = 0.0, backward_s = 0.0;
  int64_t calls = 0;
};
std::vector<ProfileRow> profile_rows();  // the largest total first
void reset_profile();

// A table of milliseconds per step for each op, with each row's share of `step_s` (seconds per step) and the
// time outside ops ("other": the autograd engine, allocation, Python-free glue).
std::string profile_report(int64_t steps, double step_s);

}  // namespace qkv
