// The load sampler that sizes the thread team: /proc/stat parsing, the team rule, and a real busy process.
#include <doctest/doctest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/cpu_load.h"
#include "core/threads.h"

using namespace qkv;

TEST_CASE("cpu_load: /proc/stat counts busy and total ticks of the CPUs asked for only") {
  const char* text =
      "cpu  100 1 50 1000 10 2 3 4 0 0\n"
      "cpu0 10 1 5 100 2 1 1 4 0 0\n"
      "cpu1 20 0 10 200 3 0 2 0 0 0\n"
      "cpu12 1000 0 0 0 0 0 0 0 0 0\n"
      "intr 12345 0 0\n"
      "cpufreq 1 2 3\n";
  CpuTicks t = parse_proc_stat(text, {0, 1});
  // cpu0: user 10 + nice 1 + system 5 + irq 1 + softirq 1 + steal 4 = 22 busy, + idle 100 + iowait 2
  // cpu1: 20 + 10 + 2 = 32 busy, + 200 + 3
  CHECK(t.busy == 54.0);
  CHECK(t.total == 54.0 + 305.0);
  CHECK(parse_proc_stat(text, {12}).busy == 1000.0);
  CHECK(parse_proc_stat(text, {5}).total == 0.0);
  CHECK(parse_proc_stat("", {0}).total == 0.0);
  CHECK(parse_proc_stat("cpu0 7", {0}).busy == 7.0);  // short lines count what they have
}

TEST_CASE("cpu_load: the team is the cores at least three quarters free, between 1 and the configured count") {
  CHECK(team_for(2, 2, 0.0) == 2);
  CHECK(team_for(2, 2, 0.2) == 2);
  CHECK(team_for(2, 2, 0.3) == 1);  // a busy loop that gets only part of its core still counts
  CHECK(team_for(2, 2, 1.0) == 1);
  CHECK(team_for(2, 2, 2.0) == 1);  // never none
  CHECK(team_for(16, 16, 3.0) == 13);
  CHECK(team_for(4, 2, 0.0) == 2);   // more threads than cores: the cores
  CHECK(team_for(1, 8, 0.0) == 1);   // one thread asked for: one
  CHECK(team_for(8, 8, -1.0) == 8);  // no /proc/stat: the configured count
}

TEST_CASE("cpu_load: a busy process on one of our CPUs shows as about one core of others' work") {
  CpuLoad load;
  REQUIRE(load.cpus() >= 1);
  CHECK(load.others_busy() == 0.0);  // the first call only takes the baseline
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    for (unsigned long i = 0;; ++i) asm volatile("" : "+r"(i));  // the barrier keeps the loop from folding
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // this process sleeps: it is not the load
  double others = load.others_busy();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  CHECK(others > 0.6);
  CHECK(others <= load.cpus() + 0.25);  // /proc/stat counts 10 ms ticks per CPU: a few ticks of slack
}

TEST_CASE("cpu_load: team() gives a region one thread fewer while another process keeps a core busy") {
  CpuLoad probe;
  if (probe.cpus() != 2) {
    MESSAGE("skipped: the check is written for 2 CPUs, this process may use " << probe.cpus());
    return;
  }
  set_threads(2);
  team();  // the first sample: the baseline
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    for (unsigned long i = 0;; ++i) asm volatile("" : "+r"(i));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  int busy = team();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  set_threads(1);
  CHECK(busy == 1);
}
