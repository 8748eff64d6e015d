#!/usr/bin/env bash
# ThreadSanitizer over the core's threaded ops (docs/RELIABILITY.md, issue 7): an optional CI step.
#
#   scripts/tsan.sh [doctest filters...]     default: the whole doctest suite (151 cases, about 12 s here);
#                                            -sf='*tests/core/*' for the core's 47 cases, -tc='threads:*'
#
# Why clang and LLVM's OpenMP: GCC's libgomp synchronises its thread pool in code TSan does not see, so every
# hand-off between the main thread and the workers is reported as a race. LLVM's libomp (libomp-14-dev) reports
# its fork, join, barriers and reductions to the Archer tool (libarcher.so, shipped in the same package) through
# OMPT, and Archer tells TSan. libomp 14 loads Archer by itself when the program is built with TSan; it is named
# in OMP_TOOL_LIBRARIES anyway so that a missing tool fails loudly instead of flooding us with false reports
# (with OMP_TOOL=disabled the core suite gives about 150 of them).
# ignore_noninstrumented_modules=1 (Archer asks for it): libomp's own internals are not instrumented, and
# without it TSan reports a mutex that libomp initialises in a worker and locks in the main thread.
# OpenBLAS (Debian's OpenMP build) is not instrumented either: its memory accesses are invisible to TSan and
# the same option ignores its calls into intercepted functions, so no suppressions file is needed. It runs its
# GEMM threads on libomp too (its GOMP_* calls bind to libomp's GNU-compatible entry points, which come first
# in the link order), so Archer sees those regions as well.
# Two threads: the parallel loops really split (the threading tests set their own counts).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QKV_TSAN_BUILD:-build-tsan}
archer=/usr/lib/llvm-14/lib/libarcher.so
scripts/install_missing.sh clang-14 libomp-14-dev libclang-rt-14-dev
[ -e "$archer" ] || { echo "tsan.sh: $archer is missing (libomp-14-dev)"; exit 1; }

# A debug-ish build with clang 14: -O1 keeps it quick, -g names the lines; the library's own OpenMP is libomp
# (FindOpenMP picks -fopenmp=libomp for clang). Only the test binary is needed.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-14 -DQKV_NATIVE=OFF \
  -DCMAKE_CXX_FLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" >/dev/null
cmake --build "$build" --target qkv_tests -j2

filters=("$@")
echo "tsan.sh: OMP_NUM_THREADS=2 OMP_TOOL_LIBRARIES=$archer TSAN_OPTIONS=ignore_noninstrumented_modules=1:halt_on_error=0:exitcode=66" \
  "$build/qkv_tests ${filters[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
OMP_NUM_THREADS=2 OMP_TOOL_LIBRARIES="$archer" ARCHER_OPTIONS=verbose=1 \
  TSAN_OPTIONS="ignore_noninstrumented_modules=1:halt_on_error=0:exitcode=66" \
  "$build/qkv_tests" "${filters[@]}" >"$log" 2>&1
code=$?
set -e
cat "$log"
reports=$(grep -c "WARNING: ThreadSanitizer" "$log" || true)
if ! grep -q "Archer detected OpenMP application with TSan" "$log"; then
  echo "FAIL tsan.sh: Archer was not loaded, so TSan cannot see OpenMP's synchronisation"
  exit 1
fi
if [ "$code" -ne 0 ] || [ "$reports" -ne 0 ]; then
  echo "FAIL tsan.sh: exit $code, $reports ThreadSanitizer reports"
  exit 1
fi
echo "PASS tsan.sh: qkv_tests ${filters[*]:-(all cases)} under ThreadSanitizer on 2 threads (libomp + Archer): 0 reports"
