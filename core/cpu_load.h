// How many of this process's cores other processes keep busy, from /proc/stat: what sizes the thread team.
#pragma once

#include <string_view>
#include <vector>

namespace qkv {

// Busy and total time, in clock ticks, of the CPUs named in `cpus`, from the text of /proc/stat.
// Busy counts user, nice, system, irq, softirq and steal (a hypervisor's steal is a core we do not get).
struct CpuTicks {
  double busy = 0.0, total = 0.0;
};
CpuTicks parse_proc_stat(std::string_view text, const std::vector<int>& cpus);

// Samples the machine and this process. Each call to others_busy() returns the cores' worth of CPU time
// other processes used on our CPUs since the previous call: (busy ticks - this process's CPU time) / wall
// time. The first call returns 0. Returns a negative value where /proc/stat cannot be read.
class CpuLoad {
 public:
  CpuLoad();
  int cpus() const { return static_cast<int>(cpus_.size()); }
  double others_busy();

 private:
  std::vector<int> cpus_;  // the CPUs this process may run on
  double ticks_per_second_ = 100.0;
  double last_busy_s_ = -1.0, last_own_s_ = 0.0, last_wall_s_ = 0.0;
};

// The team a region should use: as many threads as cores are free of other processes' work, rounded so
// that a core at least three quarters free counts, between 1 and `configured`.
int team_for(int configured, int cpus, double others_busy);

}  // namespace qkv
