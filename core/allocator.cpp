#include "core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace qkv {
namespace {

constexpr size_t kAlign = 64;

// Rounds up to 64 bytes, and above 64 KiB to one of 8 steps per power of two (at most 12.5% waste).
size_t size_class(size_t bytes) {
  size_t n = (bytes + kAlign - 1) / kAlign * kAlign;
  if (n == 0) n = kAlign;
  if (n <= (size_t{64} << 10)) return n;
  size_t top = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = top / 8;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_lists;  // size class -> blocks
  AllocatorStats stats;
  ~Cache() {
    for (auto& [size, blocks] : free_lists)
      for (void* p : blocks) std::free(p);
  }
};

Cache& cache() {
  static Cache c;  // NOTE: function-local so that it outlives tensors in other static objects' ctors
  return c;
}

#ifndef QKV_NO_ALLOC_CACHE
constexpr int64_t kCacheSlack = int64_t{64} << 20;  // see NOTE [cache bound]
#endif

void release_cached(Cache& c) {
  for (auto& [size, blocks] : c.free_lists)
    for (void* p : blocks) std::free(p);
  c.free_lists.clear();
  c.stats.bytes_cached = 0;
}

// Every handed-out byte goes through here, cached or not, so that the peak holds in both builds.
void add_in_use(AllocatorStats& stats, size_t n) {
  stats.bytes_in_use += static_cast<int64_t>(n);
  stats.peak_bytes_in_use = std::max(stats.peak_bytes_in_use, stats.bytes_in_use);
}

}  // namespace

void* alloc_buffer(size_t bytes) {
  size_t n = size_class(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
#ifndef QKV_NO_ALLOC_CACHE
  auto it = c.free_lists.find(n);
  if (it != c.free_lists.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    c.stats.hits++;
    c.stats.bytes_cached -= static_cast<int64_t>(n);
    add_in_use(c.stats, n);
    return p;
  }
  // NOTE [cache bound]: shapes that change (padded batches, decoding) leave blocks of sizes never asked for
  // again. A miss while the cache holds more than the tensors in use (and over kCacheSlack) gives them all
  // back, so memory stays within about twice what is in use; a fixed-shape loop never misses and never flushes.
  if (c.stats.bytes_cached > std::max<int64_t>(kCacheSlack, c.stats.bytes_in_use)) release_cached(c);
#endif
  void* p = std::aligned_alloc(kAlign, n);
  if (!p) throw std::bad_alloc();
  c.stats.misses++;
  add_in_use(c.stats, n);
  return p;
}

void free_buffer(void* ptr, size_t bytes) {
  if (!ptr) return;
  size_t n = size_class(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.bytes_in_use -= static_cast<int64_t>(n);
#ifndef QKV_NO_ALLOC_CACHE
  c.free_lists[n].push_back(ptr);
  c.stats.bytes_cached += static_cast<int64_t>(n);
#else
  std::free(ptr);
#endif
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  release_cached(c);
}

void reset_peak_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

}  // namespace qkv
