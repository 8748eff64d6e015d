// The thread setting shared by qkv's OpenMP loops and its GEMM, and the grain below which loops run serially.
#pragma once

#include <cstdint>

namespace qkv {

// The configured count. n <= 0 restores the default: OMP_NUM_THREADS if set, else all cores.
void set_threads(int n);
int threads();

// The threads a parallel region uses now: threads(), fewer while other processes keep some of our cores
// busy (sampled from /proc/stat every 100 ms), so that no region waits on a thread the OS has descheduled.
// Only timing depends on it: work is split by threads(), never by team(), so results do not change.
// QKV_ADAPTIVE_THREADS=0 in the environment keeps it at threads().
int team();

// The calling thread's index in the current parallel region, in [0, threads()): picks per-thread scratch.
int thread_index();
bool in_parallel();  // inside a parallel region, of any size

// Elementwise loops shorter than this run on one thread: below it, waking the pool costs more than it saves.
constexpr int64_t kGrain = 1 << 14;

// Reductions sum fixed chunks of this many elements and then add the chunk sums in order, so the result
// does not depend on the thread count.
constexpr int64_t kReduceChunk = 1 << 12;

// 2 when OpenBLAS is the OpenMP build (the one qkv needs: one thread pool), 1 for pthreads, 0 sequential.
int blas_parallel_mode();

}  // namespace qkv
