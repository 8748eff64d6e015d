#include "core/profile.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

namespace qkv {
namespace {
bool g_profiling = false;
thread_local int t_depth = 0;  // ops entered and not left on this thread
std::mutex g_mu;
std::map<std::string, ProfileRow>& table() {
  static std::map<std::string, ProfileRow> rows;
  return rows;
}
}  // namespace

void set_profiling(bool on) { g_profiling = on; }
bool profiling() { return g_profiling; }

ProfileScope::ProfileScope(const char* op, bool backward)
    : op_(op), backward_(backward), timed_(g_profiling && t_depth == 0) {
  ++t_depth;
  if (timed_) start_ = std::chrono::steady_clock::now();
}

ProfileScope::~ProfileScope() {
  --t_depth;
  if (!timed_) return;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::lock_guard<std::mutex> lock(g_mu);
  ProfileRow& row = table()[op_];
  row.op = op_;
  (backward_ ? row.backward_s : row.forward_s) += s;
  row.calls += backward_ ? 0 : 1;
}

std::vector<ProfileRow> profile_rows() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<ProfileRow> rows;
  for (auto& [op, row] : table()) rows.push_back(row);
  std::sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
    return a.forward_s + a.backward_s > b.forward_s + b.backward_s;
  });
  return rows;
}

void reset_profile() {
  std::lock_guard<std::mutex> lock(g_mu);
  table().clear();
}

std::string profile_report(int64_t steps, double step_s) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-16s %10s %10s %10s %7s %8s\n", "op", "fwd ms", "bwd ms", "total ms", "share",
                "calls");
  out += line;
  double n = static_cast<double>(std::max<int64_t>(steps, 1)), in_ops = 0.0;
  for (const ProfileRow& r : profile_rows()) {
    double f = r.forward_s / n * 1e3, b = r.backward_s / n * 1e3;
    in_ops += f + b;
    std::snprintf(line, sizeof line, "%-16s %10.3f %10.3f %10.3f %6.1f%% %8lld\n", r.op.c_str(), f, b, f + b,
                  100.0 * (f + b) / (step_s * 1e3), static_cast<long long>(r.calls / std::max<int64_t>(steps, 1)));
    out += line;
  }
  double other = step_s * 1e3 - in_ops;
  std::snprintf(line, sizeof line, "%-16s %10s %10s %10.3f %6.1f%%\n", "other", "", "", other,
                100.0 * other / (step_s * 1e3));
  out += line;
  return out;
}

}  // namespace qkv
