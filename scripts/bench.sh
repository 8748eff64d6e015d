#!/usr/bin/env bash
# The side-by-side benchmark of issue 6: each case of configs/bench/ in qkv (`qkv bench`) and then in the
# PyTorch reference models (scripts/bench_ref.py under Debian's /usr/bin/python3: PyTorch 1.13 on the same
# OpenBLAS), same shapes, same recipe, same threads; then a markdown table with the machine's limits.
#
# Usage: scripts/bench.sh [--threads T] [--steps N] [--cases abcde] [--quick]
#   --threads  threads for both (default 2, at most nproc); --steps  timed steps (default 20, after 3 warm-ups)
#   --cases    letters of configs/bench/X-*.json (default all); --quick  2 steps after 1 warm-up, and no
#              1-vs-2-thread or generation runs (a smoke test)
# Builds qkv if needed; installs only python3-torch and python3-numpy (Debian) when torch is missing. When the
# default python3 has another torch (PyPI), it runs the reference with it too, on rows of its own. The JSON
# of every run stays in out/bench/. Exits 0 when the floors fail: the last line says which.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
py=/usr/bin/python3
command_line="scripts/bench.sh $*"

usage() {
  sed -n 's/^# \{0,1\}//; 6,9p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

threads=2 steps="" warmup=3 cases=abcde quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="${2:-}"; shift 2 || usage ;;
    --steps) steps="${2:-}"; shift 2 || usage ;;
    --cases) cases="${2:-}"; shift 2 || usage ;;
    --quick) quick=1; shift ;;
    -h | --help) usage ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage ;;
  esac
done
if [[ $quick == 1 ]]; then
  warmup=1
  steps="${steps:-2}"
fi
steps="${steps:-20}"
[[ "$threads" =~ ^[1-9][0-9]*$ && "$steps" =~ ^[1-9][0-9]*$ && "$cases" =~ ^[a-z]+$ ]] || usage
cores="$(nproc)"
if ((threads > cores)); then
  echo "bench.sh: $threads threads capped at nproc = $cores" >&2
  threads=$cores
fi

# Build (ninja rebuilds only what changed; -j2 because the machine has two cores).
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja >&2
fi
ninja -C "$build" -j2 qkv >&2
qkv="$build/qkv"

if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  "$root/scripts/install_missing.sh" python3-torch python3-numpy >&2
fi

out="$root/out/bench"
mkdir -p "$out"
rm -f "$out"/*.json

# A second PyTorch: the default python3's, when it is another interpreter with another torch version.
torch_version() { "$1" -c 'import torch, numpy; print(torch.__version__)' 2>/dev/null; }
pypi=""
default_py="$(command -v python3 || true)"
if [[ -n "$default_py" && "$(realpath "$default_py")" != "$(realpath "$py")" ]]; then
  version="$(torch_version "$default_py" || true)"
  [[ -z "$version" || "$version" == "$(torch_version "$py")" ]] || pypi="$default_py"
fi

ref() { "$py" "$root/scripts/bench_ref.py" "$@"; }
ref_pypi() { "$pypi" "$root/scripts/bench_ref.py" "$@"; }

echo "bench.sh: the machine (sgemm at 2048^3, memcpy) on $threads threads" >&2
"$qkv" bench --machine --json --threads "$threads" >"$out/machine.qkv.json"
peak="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sgemm_peak_gflops"])' "$out/machine.qkv.json")"
ref --info --threads "$threads" >"$out/machine.ref.json"
[[ -z "$pypi" ]] || ref_pypi --info --threads "$threads" >"$out/machine.pypi.json"

config_of() {  # the config file of case letter $1
  local f
  for f in "$root"/configs/bench/"$1"-*.json; do
    [[ -f "$f" ]] && echo "$f" && return 0
  done
  echo "bench.sh: no configs/bench/$1-*.json" >&2
  return 1
}

# Every qkv run uses the one sgemm peak measured above, so that all MFUs share it.
qkv_bench() { "$qkv" bench "$@" --peak-gflops "$peak" --json; }

for ((i = 0; i < ${#cases}; ++i)); do
  c="${cases:i:1}"
  config="$(config_of "$c")"
  echo "bench.sh: case $c ($(basename "$config")): qkv, $steps steps" >&2
  qkv_bench "$config" --steps "$steps" --warmup "$warmup" --threads "$threads" >"$out/$c.qkv.json"
  echo "bench.sh: case $c: PyTorch" >&2
  ref "$out/$c.qkv.json" --steps "$steps" --warmup "$warmup" --threads "$threads" >"$out/$c.ref.json"
  if [[ -n "$pypi" ]]; then
    echo "bench.sh: case $c: PyTorch from $pypi" >&2
    ref_pypi "$out/$c.qkv.json" --steps "$steps" --warmup "$warmup" --threads "$threads" >"$out/$c.pypi.json"
  fi
done

if [[ $quick == 0 ]]; then
  if ((cores >= 2)); then
    b="$(config_of b)"
    echo "bench.sh: case b on 1 thread and on 2" >&2
    qkv_bench "$b" --steps "$steps" --warmup "$warmup" --threads 1 >"$out/scale.1.qkv.json"
    if [[ -f "$out/b.qkv.json" && $threads == 2 ]]; then
      cp "$out/b.qkv.json" "$out/scale.2.qkv.json"
    else
      qkv_bench "$b" --steps "$steps" --warmup "$warmup" --threads 2 >"$out/scale.2.qkv.json"
    fi
  fi
  # Generation on case a's shape: block_size - 1 new tokens, so that the whole run fits in the cache.
  a="$(config_of a)"
  n="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["model"].get("block_size", 64) - 1)' "$a")"
  echo "bench.sh: generation of $n tokens on case a's shape" >&2
  qkv_bench "$a" --steps 1 --warmup 0 --threads "$threads" --generate "$n" >"$out/gen.qkv.json"
  ref "$out/gen.qkv.json" --steps 0 --threads "$threads" --generate "$n" >"$out/gen.ref.json"
  [[ -z "$pypi" ]] || ref_pypi "$out/gen.qkv.json" --steps 0 --threads "$threads" --generate "$n" >"$out/gen.pypi.json"
fi

"$py" "$root/scripts/bench_table.py" "$out" --cases "$cases" --command "$command_line"
