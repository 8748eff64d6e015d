#!/usr/bin/env bash
# The memory estimate against the measured peak RSS (NOTE [memory estimate]): one step of `qkv bench --memory`
# on two configs of 0.7 and 1.2 GB, and a two-step `qkv train` of 0.7 GB with an evaluation between the steps,
# whose start-up line and closing line give the estimate and the peak. Each must be within 25%. Registered only for builds without sanitizers, whose
# allocations are not qkv's. usage: test_memory.sh path/to/qkv
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"

within() { # what estimated measured (MB)
  awk -v e="$2" -v m="$3" 'BEGIN { exit !(m >= 300 && e >= 0.75 * m && e <= 1.25 * m) }' ||
    fail "$1: estimated $2 MB, measured $3 MB: not within 25% (or under 300 MB)"
  echo "memory: $1: estimated $2 MB, measured $3 MB"
}

echo '{"model": {"vocab_size": 65}, "train": {"threads": 1}}' >base.json
bench() { # name, then --set arguments
  local name=$1
  shift
  "$qkv" bench base.json --memory --json "$@" >bench.json
  within "$name" "$(grep -o '"estimated_peak_mb":[0-9.]*' bench.json | cut -d: -f2)" \
    "$(grep -o '"peak_rss_mb":[0-9.]*' bench.json | cut -d: -f2)"
}
bench "gpt, 2 layers, d 384, 32 x 256 tokens" --set model.n_layer=2 --set model.d_model=384 \
  --set model.block_size=256 --set train.batch_size=32
bench "encoder (mlm), 1 layer, d 128, 16 x 1024 tokens, 5000 words" --set model.kind=encoder --set data.task=mlm \
  --set model.n_layer=1 --set model.vocab_size=5000 --set model.block_size=1024 --set train.batch_size=16

# A training run with its data, evaluations and checkpoints: the estimate it starts with, the peak it ends with.
for i in $(seq 4000); do echo "the cat sat on the mat and the dog ate the bone. a bird sang."; done >story.txt
cat >run.json <<'JSON'
{"model": {"n_layer": 2, "d_model": 384, "n_head": 4, "block_size": 256}, "data": {"train": "story.txt"},
 "train": {"batch_size": 32, "max_steps": 2, "eval_interval": 1, "eval_steps": 1, "out_dir": "run", "threads": 1}}
JSON
"$qkv" train run.json >train.log
estimated=$(sed -n 's/^memory: about \([0-9.]*\) \([MG]\)B at peak.*/\1 \2/p' train.log |
  awk '{ print $2 == "G" ? $1 * 1000 : $1 }')
peak=$(sed -n 's/.*peak memory \([0-9.]*\) \([MG]\)B (estimated.*/\1 \2/p' train.log | awk '{ print $2 == "G" ? $1 * 1000 : $1 }')
[ -n "$estimated" ] && [ -n "$peak" ] || fail "no estimate or peak in the train log: $(cat train.log)"
within "qkv train, gpt, 2 layers, d 384, 32 x 256 tokens" "$estimated" "$peak"
echo "memory: 1 passed, 0 failed"
