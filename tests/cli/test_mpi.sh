#!/usr/bin/env bash
# Data-parallel training under mpirun (a QKV_MPI build): 2 ranks of batch B compute what one process of batch 2B
# computes; a run resumes on another number of ranks; a rank that dies or hangs ends the job.
# usage: test_mpi.sh path/to/qkv path/to/compare_runs
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
compare=$(realpath "$2")
# As root, in a container, over the loopback interface only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
mpi() { local n=$1; shift; mpirun --oversubscribe --bind-to none -np "$n" "$@"; }

for i in $(seq 300); do echo "the cat sat on the mat and the dog ate the bone. a bird sang."; done >story.txt
cat >gpt.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 32, "dropout": 0.0},
 "data": {"train": "story.txt"}, "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 50, "eval_interval": 25, "eval_steps": 4, "log_interval": 1,
           "out_dir": "gpt", "threads": 1}}
JSON
# Sequences of 1 to 8 symbols: batches are padded, and the loss is the mean over real target tokens.
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { n = 1 + int(rand() * 8); w = "";
     for (j = 0; j < n; j++) w = w substr("abcde", int(rand() * 5) + 1, 1); print w "\t" w } }' >copy.tsv
cat >s2s.json <<'JSON'
{"model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 12, "dropout": 0.0,
           "positions": "sinusoidal"},
 "data": {"task": "seq2seq", "train": "copy.tsv"},
 "optim": {"name": "adam", "lr": 0.5, "beta2": 0.98, "schedule": "noam", "warmup_steps": 20},
 "train": {"batch_size": 8, "max_steps": 50, "eval_interval": 25, "eval_steps": 4, "log_interval": 1,
           "out_dir": "s2s", "threads": 1}}
JSON

for m in gpt s2s; do
  # The first step's gradients, summed over the ranks, against one process with the whole batch.
  "$qkv" init $m.json --out $m-b8.qkv >/dev/null
  "$qkv" init $m.json --set train.batch_size=16 --out $m-b16.qkv >/dev/null
  mpi 2 "$qkv" step $m-b8.qkv --out $m-two.safetensors >/dev/null
  "$qkv" step $m-b16.qkv --out $m-one.safetensors >/dev/null
  "$compare" grads $m-two.safetensors $m-one.safetensors 1e-5 || fail "$m: 2 ranks' gradients differ"
  # 50 AdamW steps.
  mpi 2 "$qkv" train $m.json --set train.out_dir=$m-two >$m-two.log
  "$qkv" train $m.json --set train.batch_size=16 --set train.out_dir=$m-one >$m-one.log
  "$compare" losses $m-two/metrics.jsonl $m-one/metrics.jsonl 1e-3 || fail "$m: 2 ranks' losses differ"
  grep -q "data parallel: 2 ranks" $m-two.log || fail "$m: the log does not say it runs on 2 ranks"
done
# Only rank 0 writes: one metrics line per step.
[ "$(grep -c '"train_loss"' gpt-two/metrics.jsonl)" -eq 50 ] || fail "metrics.jsonl has other than 50 step lines"

# Resume on another number of ranks: 2 ranks -> 1 process, and 1 process (global batch 16) -> 2 ranks.
mpi 2 "$qkv" train gpt.json --set train.out_dir=r21 --stop-at 25 >/dev/null
"$qkv" train --resume r21/ckpt.qkv >r21.log
"$compare" losses r21/metrics.jsonl gpt-two/metrics.jsonl 1e-3 || fail "2 ranks resumed on 1 process differ"
"$qkv" train gpt.json --set train.global_batch=16 --set train.out_dir=r12 --stop-at 25 >/dev/null
mpi 2 "$qkv" train --resume r12/ckpt.qkv >r12.log
"$compare" losses r12/metrics.jsonl gpt-one/metrics.jsonl 1e-3 || fail "1 process resumed on 2 ranks differs"
# A global batch the ranks cannot split is said.
mpi 2 "$qkv" train --resume gpt-one/ckpt.qkv --set train.max_steps=51 >split.log
grep -q "cannot be split" split.log || fail "no note that the data order changes: $(cat split.log)"

# A config error on the ranks: exit 2 and one message, not a hang.
expect_exit 2 "global batch not divisible" mpi 2 "$qkv" train gpt.json --set train.global_batch=12 --set train.out_dir=bad
grep -q "not a multiple" err.txt || fail "global batch error: $(cat err.txt)"

# A rank killed mid-run ends the job; the last checkpoint loads.
long=(train gpt.json --set train.max_steps=1000000 --set train.ckpt_interval=20 --set train.out_dir=dead)
mpi 2 "$qkv" "${long[@]}" >dead.log 2>&1 &
job=$!
for _ in $(seq 300); do [ -f dead/ckpt.qkv ] && break; sleep 0.1; done
[ -f dead/ckpt.qkv ] || fail "the long run wrote no checkpoint"
pkill -KILL -f -n "qkv train gpt.json.*out_dir=dead" || fail "no rank to kill"
for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then kill -KILL $job; fail "mpirun still runs 30 s after a rank died"; fi
wait $job && fail "mpirun exited 0 after a rank died"
"$qkv" info dead/ckpt.qkv >/dev/null || fail "the last checkpoint does not load"

# A rank that hangs (stopped) ends the job after train.comm_timeout, with a message naming it.
mpi 2 "$qkv" "${long[@]}" --set train.out_dir=hang --set train.comm_timeout=2 >hang.log 2>&1 &
job=$!
for _ in $(seq 300); do [ -f hang/ckpt.qkv ] && break; sleep 0.1; done
victim=$(pgrep -f -n "qkv train gpt.json.*out_dir=hang") || fail "no rank to stop"
kill -STOP "$victim"
for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
kill -CONT "$victim" 2>/dev/null || true
if kill -0 $job 2>/dev/null; then kill -KILL $job; fail "mpirun still runs 30 s after a rank hung"; fi
wait $job && fail "mpirun exited 0 after a rank hung"
grep -q "waited .* for the other ranks" hang.log || fail "no timeout message: $(tail -5 hang.log)"
echo "test_mpi: all passed"
