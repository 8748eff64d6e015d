#!/usr/bin/env bash
# Fails when a source file includes a header from a layer above its own (docs/DESIGN.md, "Layers"):
#   core  <- nn, data  <- train (with train/formats)  <- train/cli
# core may include only core; nn core and nn; data core and data; train all but train/cli; train/cli all.
# Usage: scripts/check_layers.sh [ROOT]   (default: this repository; tests give a tree of their own)
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"

# The layers a file in `dir` may include from, as a regex over the include path.
allowed_for() {
  case "$1" in
    core | core/*) echo '^core/' ;;
    nn | nn/*) echo '^(core|nn)/' ;;
    data | data/*) echo '^(core|data)/' ;;
    train/cli | train/cli/*) echo '^(core|nn|data|train)/' ;;
    train | train/*) echo '^(core|nn|data|train/formats/|train/[^/]+$)' ;;
    *) echo '' ;;
  esac
}

bad=0
while IFS= read -r file; do
  allowed="$(allowed_for "$(dirname "$file")")"
  [[ -z "$allowed" ]] && continue
  # Project headers are included with quotes and a path from the root ("nn/gpt.h").
  while IFS=: read -r line include; do
    if ! [[ "$include" =~ $allowed ]]; then
      echo "$file:$line: includes \"$include\", a layer above $(dirname "$file")/" >&2
      bad=1
    fi
  done < <(awk -F'"' '/^[ \t]*#[ \t]*include[ \t]*"/ { print FNR ":" $2 }' "$file")
done < <(find core nn data train -name '*.h' -o -name '*.cpp' 2>/dev/null | sort)

if ((bad)); then
  echo "check_layers: includes point up the layers (see docs/DESIGN.md)" >&2
  exit 1
fi
echo "check_layers: every include points down or within its layer"
