#!/usr/bin/env bash
# Writes the copy task of the Annotated Transformer as TSV: random length-10 sequences over the letters a-j,
# each paired with itself (source<TAB>target). Deterministic: the same file on every machine.
# usage: scripts/make_copy_data.sh [pairs=32000] [out=data/copy.tsv]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-32000}
out=${2:-data/copy.tsv}
mkdir -p "$(dirname "$out")"
awk -v n="$pairs" 'BEGIN {
  srand(20171206);  # fixed seed: the data is part of the experiment
  for (i = 0; i < n; i++) {
    s = "";
    for (j = 0; j < 10; j++) s = s substr("abcdefghij", int(rand() * 10) + 1, 1);
    print s "\t" s;
  }
}' >"$out.tmp"
mv "$out.tmp" "$out"
echo "make_copy_data: wrote $out ($pairs pairs)"
