#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz: clang++ 14, QKV_FUZZ=ON) and runs each for SECONDS on a copy of its
# seed corpus, so the repository is not modified. A crash, a sanitizer report, a timeout or running out of memory
# fails the run (exit 1) after every target ran; the input is saved in fuzz/crashes/<target>/, where the test
# suite (tests/train/test_fuzz_regressions.cpp) replays it. usage: fuzz/run.sh [SECONDS=30]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(checkpoint safetensors tokenizer tokenizer_import config llmc token_file)

cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DQKV_FUZZ=ON >/dev/null
cmake --build build-fuzz -j2 --target "${targets[@]/#/fuzz_}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/found"
  cp fuzz/corpus/"$t"/* "$work/$t/corpus/"
  echo "== fuzz_$t, ${seconds} s"
  # TMPDIR: the tokenizer target's scratch file goes to the work directory, which is removed at the end.
  # An input that takes 20 s counts as a hang.
  if TMPDIR="$work" LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp:print_suppressions=0" \
    build-fuzz/fuzz_"$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$work/$t/found/" "$work/$t/corpus" >"$work/$t/log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t/log" | tail -1 || true
    grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work/$t/log" || true
  else
    failed=1
    tail -n 80 "$work/$t/log"
    mkdir -p fuzz/crashes/"$t"
    for f in "$work/$t/found"/*; do
      [ -e "$f" ] || continue
      cp "$f" fuzz/crashes/"$t"/
      echo "fuzz_$t: crashing input saved as fuzz/crashes/$t/$(basename "$f")"
    done
  fi
done
[ "$failed" -eq 0 ] || { echo "fuzzing found crashes (above)"; exit 1; }
echo "== fuzzing: no crashes"
