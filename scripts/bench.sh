#!/usr/bin/env bash
# The side-by-side benchmark of issue 6: each case of configs/bench/ in qkv (`qkv bench`) and then in the
# PyTorch reference models (scripts/bench_ref.py under Debian's /usr/bin/python3: PyTorch 1.13 on the same
# OpenBLAS, the parity reference), same shapes, same recipe, same threads; then a markdown table with the
# machine's limits.
#
# Usage: scripts/bench.sh [--threads T] [--steps N] [--cases abcde] [--quick] [--peers] [--busy]
#   --threads  threads for all (default 2, at most nproc); --steps  timed steps (default 20, after 3 warm-ups)
#   --cases    letters of configs/bench/X-*.json (default all); --quick  2 steps after 1 warm-up, and no
#              1-vs-2-thread or generation runs (a smoke test)
#   --peers    also qkv in bf16 (train.precision), and the newest PyTorch from PyPI, as PyTorch 2 users write the model (SDPA attention, fused or
#              foreach optimizer), in fp32 and under bf16 autocast, and its torch.matmul rates (2048^3, own shapes)
#   --busy     every program twice, idle and with a busy loop pinned to core 1, plus qkv busy on 1 thread
# Builds qkv if needed; installs only python3-torch and python3-numpy (Debian) when torch is missing.
# --peers runs the virtual environment $QKV_TORCH2_VENV (default ~/.cache/qkv/torch2, outside the repository),
# creating it with `python3 -m venv` and `pip install torch numpy` (several GB; never in CI) when missing.
# The JSON of every run stays in out/bench/. Exits 0 when the floors fail: the last line says which.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
py=/usr/bin/python3
command_line="scripts/bench.sh $*"

usage() {
  sed -n 's/^# \{0,1\}//; 7,13p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

threads=2 steps="" warmup=3 cases=abcde quick=0 peers=0 busy=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="${2:-}"; shift 2 || usage ;;
    --steps) steps="${2:-}"; shift 2 || usage ;;
    --cases) cases="${2:-}"; shift 2 || usage ;;
    --quick) quick=1; shift ;;
    --peers) peers=1; shift ;;
    --busy) busy=1; shift ;;
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
venv="${QKV_TORCH2_VENV:-$HOME/.cache/qkv/torch2}"
t2py="$venv/bin/python"
case "$(realpath -m "$venv")/" in
  "$(realpath "$root")"/*) echo "bench.sh: QKV_TORCH2_VENV=$venv is inside the repository; put it outside" >&2; exit 2 ;;
esac
if [[ $busy == 1 ]] && ((cores < 2)); then
  echo "bench.sh: --busy pins its loop to core 1 and needs 2 cores (nproc = $cores)" >&2
  exit 2
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

# --peers: PyTorch 2 from PyPI in a virtual environment outside the repository, made here when missing.
if [[ $peers == 1 ]]; then
  if ! "$t2py" -c 'import torch, numpy' 2>/dev/null; then
    echo "bench.sh: --peers: no torch in $venv; creating it with python3 -m venv and pip install torch numpy" \
      "(the newest PyTorch from PyPI, several GB)" >&2
    base="$(command -v python3 || echo /usr/bin/python3)"
    if [[ ! -x "$t2py" ]] && ! "$base" -m venv "$venv" >&2; then
      "$root/scripts/install_missing.sh" python3-venv >&2  # Debian's python3 needs it for ensurepip
      "$base" -m venv --clear "$venv" >&2
    fi
    "$t2py" -m pip install --upgrade torch numpy >&2
  fi
  if ! "$t2py" -c 'import sys, torch; sys.exit(int(torch.__version__.split(".")[0]) < 2)'; then
    version="$("$t2py" -c 'import torch; print(torch.__version__)')"
    echo "bench.sh: --peers needs torch >= 2 in $venv; it has $version" >&2
    exit 2
  fi
fi

ref() { "$py" "$root/scripts/bench_ref.py" "$@"; }
ref_t2() { "$t2py" "$root/scripts/bench_ref.py" "$@"; }

# --busy: a busy loop pinned to core 1, started before and stopped after each busy run; the traps stop it
# whenever the script ends.
busy_pid=""
stop_busy() {
  if [[ -n "$busy_pid" ]]; then
    kill "$busy_pid" 2>/dev/null || true
    wait "$busy_pid" 2>/dev/null || true
    busy_pid=""
  fi
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT
trap 'stop_busy; exit 143' TERM
start_busy() {
  taskset -c 1 "$py" -c 'while True: pass' </dev/null >/dev/null 2>&1 &
  busy_pid=$!
}
# busy_run NAME CMD...: CMD's JSON into $out/NAME.busy.json while the busy loop runs.
busy_run() {
  local name="$1"
  shift
  start_busy
  "$@" >"$out/$name.busy.json"
  stop_busy
}
# measure NAME CMD...: CMD's JSON into $out/NAME.json, idle; with --busy then again under the busy loop.
measure() {
  "${@:2}" >"$out/$1.json"
  [[ $busy == 0 ]] || busy_run "$@"
}

echo "bench.sh: the machine (sgemm at 2048^3, memcpy) on $threads threads" >&2
"$qkv" bench --machine --json --threads "$threads" >"$out/machine.qkv.json"
peak="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sgemm_peak_gflops"])' "$out/machine.qkv.json")"
ref --info --threads "$threads" >"$out/machine.ref.json"
if [[ $peers == 1 ]]; then
  echo "bench.sh: PyTorch 2's torch.matmul at 2048^3, fp32 and bf16" >&2
  ref_t2 --info --matmul --threads "$threads" >"$out/machine.t2.json"
fi

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

busy_note=""
[[ $busy == 0 ]] || busy_note=", idle and busy"
for ((i = 0; i < ${#cases}; ++i)); do
  c="${cases:i:1}"
  config="$(config_of "$c")"
  run=(--steps "$steps" --warmup "$warmup" --threads "$threads")
  echo "bench.sh: case $c ($(basename "$config")): qkv, $steps steps$busy_note" >&2
  measure "$c.qkv" qkv_bench "$config" "${run[@]}"
  if [[ $busy == 1 ]] && ((threads > 1)); then
    echo "bench.sh: case $c: qkv on 1 thread, busy" >&2
    busy_run "$c.qkv1" qkv_bench "$config" --steps "$steps" --warmup "$warmup" --threads 1
  fi
  if [[ $peers == 1 ]]; then
    echo "bench.sh: case $c: qkv bf16$busy_note" >&2
    measure "$c.qkvbf16" "$qkv" bench "$config" "${run[@]}" --precision bf16 --json
  fi
  echo "bench.sh: case $c: PyTorch (Debian)$busy_note" >&2
  measure "$c.ref" ref "$out/$c.qkv.json" "${run[@]}"
  if [[ $peers == 1 ]]; then
    echo "bench.sh: case $c: PyTorch 2 fp32$busy_note" >&2
    measure "$c.t2" ref_t2 "$out/$c.qkv.json" "${run[@]}" --pytorch2
    echo "bench.sh: case $c: PyTorch 2 bf16 autocast$busy_note" >&2
    measure "$c.t2bf16" ref_t2 "$out/$c.qkv.json" "${run[@]}" --pytorch2 --bf16
    echo "bench.sh: case $c: PyTorch 2's torch.matmul on the step's GEMM shapes, fp32 and bf16" >&2
    ref_t2 "$out/$c.qkv.json" --gemm-shapes --threads "$threads" >"$out/$c.t2gemm.json"
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
  if [[ $peers == 1 ]]; then
    ref_t2 "$out/gen.qkv.json" --steps 0 --threads "$threads" --generate "$n" --pytorch2 >"$out/gen.t2.json"
  fi
fi

"$py" "$root/scripts/bench_table.py" "$out" --cases "$cases" --threads "$threads" --command "$command_line"
