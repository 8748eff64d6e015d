#!/usr/bin/env bash
# Faults do not lose work (docs/RELIABILITY.md): a checkpoint write killed or failed at many byte offsets
# (QKV_FAULT, NOTE [fault hook] in core/archive.h), a file size limit, a non-finite loss, and a data file that
# changed before --resume. usage: test_faults.sh path/to/qkv
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"

for i in $(seq 300); do echo "the cat sat on the mat and the dog ate the bone. a bird sang."; done >story.txt
# A checkpoint at every step and no evaluation before the last: the first write of a resumed run is ckpt.qkv.
cat >gpt.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16},
 "data": {"train": "story.txt"}, "optim": {"warmup_steps": 2},
 "train": {"batch_size": 4, "max_steps": 4, "eval_interval": 100, "eval_steps": 1, "log_interval": 1,
           "ckpt_interval": 1, "out_dir": "run", "threads": 1}}
JSON
"$qkv" train gpt.json >train.log
cp run/ckpt.qkv good.qkv  # step 4
# What an unfaulted resume to step 6 computes: every resume below must end with these weights (and the same
# out_dir, which the export's metadata holds).
cp -r run k
"$qkv" train --resume k/ckpt.qkv --set train.out_dir=k --set train.max_steps=6 >/dev/null
"$qkv" export k/ckpt.qkv --to ref.safetensors >/dev/null
size=$(stat -c %s k/ckpt.qkv)  # the size of the writes faulted below (out_dir k)

offsets="0 1 100 $((size / 2)) $((size - 1)) $size"
for k in $(seq 1 15); do offsets="$offsets $((size * k / 16))"; done
offsets=$(echo $offsets | tr ' ' '\n' | sort -nu)

# SIGKILL at each offset of the step-5 write: ckpt.qkv stays the step-4 file, and --resume finishes the run.
for n in $offsets; do
  rm -rf k && cp -r run k
  expect_exit 137 "kill_after_bytes:$n" env QKV_FAULT=kill_after_bytes:$n \
    "$qkv" train --resume k/ckpt.qkv --set train.out_dir=k --set train.max_steps=6
  cmp -s k/ckpt.qkv good.qkv || fail "kill_after_bytes:$n changed k/ckpt.qkv"
  "$qkv" info k/ckpt.qkv --json | grep -q '"step":4' || fail "kill_after_bytes:$n: k/ckpt.qkv does not load"
  expect_exit 0 "resume after kill_after_bytes:$n" "$qkv" train --resume k/ckpt.qkv --set train.out_dir=k \
    --set train.max_steps=6
  "$qkv" export k/ckpt.qkv --to k.safetensors >/dev/null
  cmp -s k.safetensors ref.safetensors || fail "resume after kill_after_bytes:$n ends with other weights"
done

# A full disk at each offset: exit 3, one line naming the step, the reason and the last good checkpoint.
for n in $offsets; do
  expect_exit 3 "enospc_after_bytes:$n" env QKV_FAULT=enospc_after_bytes:$n \
    "$qkv" train --resume run/ckpt.qkv --set train.max_steps=6
  [ "$(wc -l <err.txt)" -eq 1 ] || fail "enospc_after_bytes:$n: not one line: $(cat err.txt)"
  grep -q "step 5: cannot write run/ckpt.qkv: .*No space left on device.*last good checkpoint is run/ckpt.qkv (step 4)" \
    err.txt || fail "enospc_after_bytes:$n message: $(cat err.txt)"
  cmp -s run/ckpt.qkv good.qkv || fail "enospc_after_bytes:$n changed run/ckpt.qkv"
  [ ! -e run/ckpt.qkv.tmp ] || fail "enospc_after_bytes:$n left run/ckpt.qkv.tmp behind"
done

# A file size limit below the checkpoint's size: the write fails with EFBIG (SIGXFSZ ignored), exit 3.
expect_exit 3 "ulimit -f" bash -c "trap '' XFSZ; ulimit -f $((size / 2048)); exec '$qkv' train --resume run/ckpt.qkv \
  --set train.max_steps=6"
grep -q "step 5: cannot write run/ckpt.qkv: .*File too large" err.txt || fail "ulimit -f message: $(cat err.txt)"
cmp -s run/ckpt.qkv good.qkv || fail "ulimit -f changed run/ckpt.qkv"

expect_exit 2 "unparsable QKV_FAULT" env QKV_FAULT=kill_after_bytes:ten "$qkv" info run/ckpt.qkv
grep -q 'QKV_FAULT="kill_after_bytes:ten": expected kill_after_bytes:N or enospc_after_bytes:N' err.txt ||
  fail "unparsable QKV_FAULT message: $(cat err.txt)"

# A huge learning rate makes the gradient norm NaN at step 2 (tests/train/test_trainer.cpp checks the weights).
expect_exit 3 "non-finite loss" "$qkv" train gpt.json --set optim.lr=1e30 --set train.out_dir=nan
[ "$(wc -l <err.txt)" -eq 1 ] || fail "non-finite loss: not one line: $(cat err.txt)"
grep -q "step [0-9]*: the \(loss\|gradient norm\) is .*, not finite.*last good checkpoint is nan/ckpt.qkv" err.txt ||
  fail "non-finite loss message: $(cat err.txt)"
expect_exit 0 "skip_nonfinite" "$qkv" train gpt.json --set optim.lr=1e30 --set train.out_dir=skip \
  --set train.skip_nonfinite=true
grep '"skipped"' skip/metrics.jsonl | tail -1 | grep -q '"skipped":3' ||
  fail "skipped steps 2 to 4 not counted: $(cat skip/metrics.jsonl)"

# The data file changed before --resume: exit 2 naming it, unless --allow-data-change.
cp -r run data_run
echo "the dog sat on the cat." >>story.txt  # characters the vocabulary has
expect_exit 2 "changed data" "$qkv" train --resume data_run/ckpt.qkv --set train.out_dir=data_run \
  --set train.max_steps=6
[ "$(wc -l <err.txt)" -eq 1 ] || fail "changed data: not one line: $(cat err.txt)"
grep -q "data.train story.txt is not the file data_run/ckpt.qkv was trained on: recorded [0-9]* bytes, FNV-1a 64 \
[0-9a-f]*, now [0-9]* bytes, .*--allow-data-change" err.txt || fail "changed data message: $(cat err.txt)"
expect_exit 0 "--allow-data-change" "$qkv" train --resume data_run/ckpt.qkv --set train.out_dir=data_run \
  --set train.max_steps=6 --allow-data-change
grep -q "warning: data.train story.txt is not the file" err.txt || fail "no warning: $(cat err.txt)"
# The run records the file it went on with, so the next resume accepts it.
expect_exit 0 "resume after --allow-data-change" "$qkv" train --resume data_run/ckpt.qkv \
  --set train.out_dir=data_run --set train.max_steps=7
[ ! -s err.txt ] || fail "resume after --allow-data-change warned again: $(cat err.txt)"
echo "faults: 1 passed, 0 failed"
