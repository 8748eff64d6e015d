#!/usr/bin/env bash
# Builds bench_ops in build/ (Release, cmake + ninja -j2) if needed, then runs it: qkv::matmul against raw
# cblas_sgemm, and the elementwise ops and layernorm against memcpy bandwidth.
# Usage: scripts/bench_ops.sh [threads]   (default 2). OPENBLAS_CORETYPE is left as the caller has it.
set -euo pipefail

threads="${1:-2}"
if ! [[ "$threads" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [threads >= 1]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja >&2
fi
# ninja rebuilds only what changed; -j2 because the machine has two cores.
ninja -C "$build" -j2 bench_ops >&2

exec "$build/bench_ops" "$threads"
