// The caching allocator behind every tensor buffer: 64-byte aligned blocks kept in size-class free lists.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qkv {

// NOTE [allocator]: a training step allocates the same buffer sizes every step, so after the first step
// every request is served from the free lists (misses stay flat). Sizes are rounded up to a class so that
// slightly different sizes share blocks. Building with QKV_NO_ALLOC_CACHE sends every request straight
// to aligned_alloc/free, so that AddressSanitizer sees every use. The counts of bytes in use and their peak
// are kept in both builds; without the cache every request counts as a miss and nothing is cached.
struct AllocatorStats {
  int64_t bytes_in_use = 0;       // handed out and not yet returned (rounded to the size class)
  int64_t bytes_cached = 0;       // returned and kept in the free lists
  int64_t hits = 0;               // requests served from the cache
  int64_t misses = 0;             // requests that went to the system allocator
  int64_t peak_bytes_in_use = 0;  // the most bytes_in_use has been since the start or reset_peak_bytes()
};

void* alloc_buffer(size_t bytes);
void free_buffer(void* ptr, size_t bytes);  // `bytes` is the size passed to alloc_buffer

AllocatorStats allocator_stats();
void empty_cache();  // gives every cached block back to the system

// Starts a new high-water mark at the current bytes_in_use, so that the peak of one region of code (one
// forward + backward, say) is peak_bytes_in_use minus the bytes_in_use read right after this call.
void reset_peak_bytes();

}  // namespace qkv
