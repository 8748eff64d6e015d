#include "core/cpu_load.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace qkv {
namespace {

double seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace

CpuTicks parse_proc_stat(std::string_view text, const std::vector<int>& cpus) {
  CpuTicks t;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // "cpuN user nice system idle iowait irq softirq steal ..."; the summary line "cpu " has no number.
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] < '0' || line[3] > '9') continue;
    int cpu = -1;
    const char* p = line.data() + 3;
    const char* end = line.data() + line.size();
    auto [q, ec] = std::from_chars(p, end, cpu);
    if (ec != std::errc{} || std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) continue;
    double field[8] = {};
    p = q;
    for (double& f : field) {
      while (p < end && *p == ' ') ++p;
      unsigned long long v = 0;
      auto [r, e] = std::from_chars(p, end, v);
      if (e != std::errc{}) break;
      f = static_cast<double>(v);
      p = r;
    }
    double busy = field[0] + field[1] + field[2] + field[5] + field[6] + field[7];
    t.busy += busy;
    t.total += busy + field[3] + field[4];
  }
  return t;
}

CpuLoad::CpuLoad() : cpus_(allowed_cpus()) {
  long hz = sysconf(_SC_CLK_TCK);
  if (hz > 0) ticks_per_second_ = static_cast<double>(hz);
}

double CpuLoad::others_busy() {
  std::ifstream in("/proc/stat");
  if (!in || cpus_.empty()) return -1.0;
  std::stringstream text;
  text << in.rdbuf();
  double busy_s = parse_proc_stat(text.str(), cpus_).busy / ticks_per_second_;
  double own_s = seconds(CLOCK_PROCESS_CPUTIME_ID), wall_s = seconds(CLOCK_MONOTONIC);
  double others = 0.0;
  if (last_busy_s_ >= 0.0 && wall_s > last_wall_s_)
    others = std::max(0.0, (busy_s - last_busy_s_) - (own_s - last_own_s_)) / (wall_s - last_wall_s_);
  last_busy_s_ = busy_s, last_own_s_ = own_s, last_wall_s_ = wall_s;
  return others;
}

int team_for(int configured, int cpus, double others_busy) {
  if (configured <= 1 || others_busy < 0.0) return std::max(configured, 1);
  double free = static_cast<double>(cpus) - others_busy;
  return std::clamp(static_cast<int>(std::floor(free + 0.25)), 1, configured);
}

}  // namespace qkv
