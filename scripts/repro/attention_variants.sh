#!/usr/bin/env bash
# The attention lab's reproduction (results in docs/RESULTS.md): the cost of full, local (window 128) and linear
# attention for T = 64 ... 16,384 on one log-log chart with fitted slopes, then the Austen GPT trained for the
# same wall time with each kind. usage: scripts/repro/attention_variants.sh [seconds of training per kind, 120]
# Run it on an idle machine: every figure is a timing. Needs build/ (scripts/setup.sh) and data/austen.txt
# (scripts/get_corpus.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=out/repro/attention-variants
/usr/bin/python3 scripts/repro/attention_cost.py --variants kernel,local,linear --max-t 16384 --out "$out"
/usr/bin/python3 scripts/repro/attention_quality.py --seconds "${1:-120}" --out "$out/quality"
