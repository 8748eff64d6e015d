#!/usr/bin/env bash
# scripts/check_layers.sh passes on this repository and fails on a tree with includes that point up a layer.
set -euo pipefail
check="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check_layers.sh"

"$check" >/dev/null || { echo "FAIL: the repository's own includes point up a layer"; exit 1; }

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/core" "$tree/nn" "$tree/data" "$tree/train/formats" "$tree/train/cli"
printf '#include "core/tensor.h"\n' >"$tree/core/ok.cpp"
printf '#include "core/tensor.h"\n#include "nn/module.h"\n' >"$tree/nn/ok.cpp"
printf '#include "data/tokenizer.h"\n#include "train/formats/safetensors.h"\n' >"$tree/train/ok.cpp"
printf '#include "train/config.h"\n#include "train/cli/svg.h"\n' >"$tree/train/cli/ok.cpp"
"$check" "$tree" >/dev/null || { echo "FAIL: a tree with only downward includes was refused"; exit 1; }

expect_refused() {  # file, text, the line the message must name
  printf '%b' "$2" >"$tree/$1"
  if msg="$("$check" "$tree" 2>&1)"; then
    echo "FAIL: $1 including upward passed"
    exit 1
  fi
  grep -qF "$3" <<<"$msg" || { echo "FAIL: the message does not name $3: $msg"; exit 1; }
  rm "$tree/$1"
}
expect_refused core/bad.cpp '#include "core/tensor.h"\n#include "nn/gpt.h"\n' 'core/bad.cpp:2: includes "nn/gpt.h"'
expect_refused nn/bad.h '#include "data/tokenizer.h"\n' 'nn/bad.h:1: includes "data/tokenizer.h"'
expect_refused data/bad.cpp '#include "nn/gpt.h"\n' 'data/bad.cpp:1'
expect_refused train/bad.cpp '#include "train/cli/commands.h"\n' 'train/bad.cpp:1'
expect_refused train/formats/bad.h '#include "train/cli/svg.h"\n' 'train/formats/bad.h:1'
echo "check_layers: passes the repository, refuses 5 upward includes"
