// The machine's memory as a process sees it: what is available to it, and what it holds now.
#pragma once

#include <cstdint>

namespace qkv {

// Bytes this process can still allocate without swapping or being killed: /proc/meminfo's MemAvailable, or
// less when a cgroup (a container, a systemd slice) limits the process tighter: its limit minus its usage,
// for the process's own cgroup and each one above it. -1 when none of these can be read.
int64_t available_memory();

// The process's resident set size now, in bytes (/proc/self/statm); 0 when unknown.
int64_t resident_memory();

// The process's anonymous resident memory now (RssAnon of /proc/self/status: heap and stacks, not the file
// pages of a memory-mapped file, which the kernel can drop), in bytes; 0 when unknown.
int64_t anonymous_memory();

// The most the resident set size has been since the process started, in bytes (getrusage).
int64_t peak_resident_memory();

}  // namespace qkv
