#include "core/memory_info.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace qkv {
namespace {

// The first number in a file, or -1 ("max", missing, unreadable).
int64_t read_number(const std::string& path) {
  std::ifstream in(path);
  long long v = -1;
  if (!(in >> v)) return -1;
  return v;
}

int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return static_cast<int64_t>(kb) * 1024;
  return -1;
}

// The tightest limit minus usage from the cgroup at `path` up to the root of the hierarchy mounted at
// `mount`; -1 when none is set. A path outside this mount namespace is missing and skipped, which leaves
// the container's own limit at the mount's root.
int64_t cgroup_room(const std::string& mount, std::string path, const char* limit_file, const char* usage_file) {
  int64_t room = -1;
  while (true) {
    std::string dir = mount + (path == "/" ? std::string() : path);
    int64_t limit = read_number(dir + "/" + limit_file), used = read_number(dir + "/" + usage_file);
    if (limit >= 0 && limit < (int64_t{1} << 60) && used >= 0)
      room = room < 0 ? limit - used : std::min(room, limit - used);
    if (path.empty() || path == "/") break;
    size_t slash = path.find_last_of('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return room;
}

// The room left by every cgroup hierarchy that limits memory: v2 (the line "0::PATH") and v1 (the line
// whose controllers include memory).
int64_t cgroup_room() {
  std::ifstream in("/proc/self/cgroup");
  int64_t best = -1;
  auto keep = [&](int64_t room) {
    if (room >= 0) best = best < 0 ? room : std::min(best, room);
  };
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (line.rfind("0::", 0) == 0) {
      keep(cgroup_room("/sys/fs/cgroup", path, "memory.max", "memory.current"));
      keep(cgroup_room("/sys/fs/cgroup/unified", path, "memory.max", "memory.current"));
    }
    std::stringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');)
      if (name == "memory")
        keep(cgroup_room("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes"));
  }
  return best;
}

}  // namespace

int64_t available_memory() {
  int64_t best = -1;
  for (int64_t room : {mem_available(), cgroup_room()})
    if (room >= 0) best = best < 0 ? room : std::min(best, room);
  return best;
}

int64_t resident_memory() {
  std::ifstream in("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

int64_t anonymous_memory() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8)) * 1024;  // "RssAnon:  1234 kB"
  return 0;
}

int64_t peak_resident_memory() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux counts kilobytes
}

}  // namespace qkv
