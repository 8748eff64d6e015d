#!/usr/bin/env bash
# A newcomer's first hour (issue 23), one check per trap: a run never replaces another run's files, resume
# writes where the checkpoint is and works from any folder, a closed stdout and signals inside a long step or
# evaluation end a run cleanly, the impossible is refused before step 1, the console is short and valid UTF-8,
# and mistakes get a line that says what to do. usage: test_newcomer.sh path/to/qkv
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/common.sh" "$1"

write_story_and_gpt_config
step_of() { "$qkv" info "$1" --json | grep -o '"step":[0-9]*' | cut -d: -f2; }
now_ms() { date +%s%3N; }

# 1. A second run into an out_dir that holds a run never replaces it.
"$qkv" train gpt.json >train.log
cp gpt/ckpt.qkv first.qkv
cp gpt/metrics.jsonl first.jsonl
expect_exit 0 "the same finished run again" "$qkv" train gpt.json
grep -q "gpt already holds this run, finished at step 60 with the same config and data: nothing to train" out.txt ||
  fail "rerun: $(cat out.txt)"
expect_exit 2 "another run into gpt" "$qkv" train gpt.json --set train.max_steps=5
grep -q "train.out_dir gpt already holds a run (ckpt.qkv at step 60, best.qkv, metrics.jsonl)" err.txt &&
  grep -q -- "--resume gpt/ckpt.qkv" err.txt && grep -q -- "--overwrite" err.txt || fail "refusal: $(cat err.txt)"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "refusal is not one line: $(cat err.txt)"
cmp -s gpt/ckpt.qkv first.qkv && cmp -s gpt/metrics.jsonl first.jsonl || fail "a refused run changed gpt/"
expect_exit 0 "--overwrite" "$qkv" train gpt.json --set train.max_steps=5 --set train.eval_interval=5 --overwrite
[ "$(step_of gpt/ckpt.qkv)" -eq 5 ] || fail "--overwrite did not train the new run"
[ "$(grep -c . gpt/metrics.jsonl)" -eq 2 ] || fail "--overwrite kept the old metrics: $(cat gpt/metrics.jsonl)"
[ "$(step_of gpt/best.qkv)" -eq 5 ] || fail "--overwrite kept the old best.qkv"
# Siblings: a trained run's checkpoint as `init --out` or `import --out` is refused; a file of one's own is not.
expect_exit 2 "init over a trained checkpoint" "$qkv" init gpt.json --out gpt/ckpt.qkv
grep -q "init: --out gpt/ckpt.qkv is the checkpoint of a trained run (step 5)" err.txt || fail "init: $(cat err.txt)"
expect_exit 0 "init over an untrained one" bash -c "'$qkv' init gpt.json --out u.qkv && '$qkv' init gpt.json --out u.qkv"
"$qkv" export first.qkv --out w.safetensors >/dev/null
expect_exit 2 "import over a trained checkpoint" "$qkv" import w.safetensors --config gpt.json --out gpt/ckpt.qkv
expect_exit 0 "import --overwrite" "$qkv" import w.safetensors --config gpt.json --out gpt/ckpt.qkv --overwrite

# 2. --resume writes into the checkpoint's folder, not the one it records; an older checkpoint of a folder
# may not overwrite its newer one.
"$qkv" train gpt.json --set train.out_dir=full --stop-at 20 >/dev/null
cp -r full full_copy
"$qkv" train --resume full_copy/ckpt.qkv --set train.max_steps=40 >resume.log
grep -q "^writes: full_copy/" resume.log || fail "resume does not say where it writes: $(cat resume.log)"
[ "$(step_of full_copy/ckpt.qkv)" -eq 40 ] && [ "$(step_of full/ckpt.qkv)" -eq 20 ] ||
  fail "resuming full_copy wrote into full"
steps=$(grep -o '"step":[0-9]*' full_copy/metrics.jsonl | grep -v val | cut -d: -f2 | tr '\n' ' ')
grep '"train_loss"' full_copy/metrics.jsonl | grep -o '"step":[0-9]*' | cut -d: -f2 | sort -n | uniq -d | grep -q . &&
  fail "a step is logged twice: $steps"
"$qkv" train gpt.json --set train.out_dir=b --stop-at 40 >/dev/null  # best.qkv at 30, ckpt.qkv at 40
expect_exit 2 "resume an older checkpoint into its folder" "$qkv" train --resume b/best.qkv
grep -q -- "--resume b/best.qkv (step 30): b/ckpt.qkv is newer (step 40)" err.txt || fail "older: $(cat err.txt)"
[ "$(step_of b/ckpt.qkv)" -eq 40 ] || fail "the refused resume changed b/ckpt.qkv"
expect_exit 0 "resume an older checkpoint elsewhere" "$qkv" train --resume b/best.qkv --set train.out_dir=b30
[ "$(step_of b/ckpt.qkv)" -eq 40 ] && [ "$(step_of b30/ckpt.qkv)" -eq 60 ] || fail "resume into b30"
expect_exit 2 "resume into another run's folder" "$qkv" train --resume full_copy/ckpt.qkv --set train.out_dir=b
grep -q "which holds another run" err.txt || fail "another run's folder: $(cat err.txt)"

# 3. Resume works from any folder (the data's absolute path is recorded) and still refuses a changed file.
mkdir away
(cd away && "$qkv" train --resume ../full/ckpt.qkv --set train.max_steps=30 >../away.log) ||
  fail "resume from another folder: $(cat away.log)"
[ "$(step_of full/ckpt.qkv)" -eq 30 ] || fail "resume from another folder did not continue full/"
cp -r full changed
echo "the dog sat." >>story.txt
(cd away && "$qkv" train --resume ../changed/ckpt.qkv --set train.max_steps=35 >/dev/null 2>../err.txt) &&
  fail "resumed on a changed file"
grep -q "data.train story.txt is not the file ../changed/ckpt.qkv was trained on" err.txt || fail "changed: $(cat err.txt)"
for i in $(seq 300); do echo "the cat sat on the mat and the dog ate the bone. a bird sang."; done >story.txt

# 4. A closed stdout (the `| tee` that the same Ctrl-C killed) does not kill the run: it saves, exits 130 and
# says so on stderr.
"$qkv" train gpt.json --set train.out_dir=pipe --set train.max_steps=1000000 --set train.log_interval=1 \
  2>pipe.err > >(head -n 1 >/dev/null) &
pid=$!
for i in $(seq 300); do [ -s pipe/metrics.jsonl ] && [ "$(wc -l <pipe/metrics.jsonl)" -ge 20 ] && break; sleep 0.1; done
kill -INT $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 130 ] || fail "Ctrl-C with a closed stdout: exit $code, expected 130 ($(cat pipe.err))"
grep -q "saved pipe/ckpt.qkv" pipe.err || fail "the stopped line is lost: $(cat pipe.err)"
[ "$(step_of pipe/ckpt.qkv)" -ge 20 ] || fail "no checkpoint after Ctrl-C with a closed stdout"

# 5. A step that cannot fit in memory is refused at once, with the estimate, and nothing is written.
start=$(now_ms)
expect_exit 2 "a step bigger than memory" "$qkv" train gpt.json --set train.batch_size=2000000 --set train.out_dir=huge
[ $(($(now_ms) - start)) -lt 5000 ] || fail "the memory refusal took $(($(now_ms) - start)) ms"
grep -q "memory: a training step needs about [0-9.]* [GTP]B (weights and gradients .*, activations .*), but .* is available" \
  err.txt || fail "memory refusal: $(cat err.txt)"
[ ! -e huge ] || fail "a refused run created its out_dir"
grep -q "^memory: about [0-9.]* [kMG]B at peak" train.log || fail "no memory estimate at start: $(cat train.log)"

# 6. SIGTERM inside a long step, or SIGINT inside a long evaluation, ends the run within moments; the last
# completed step is saved, not the unfinished one.
cat >long.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32}, "data": {"train": "story.txt"},
 "train": {"batch_size": 8, "grad_accum": 4000, "max_steps": 5, "out_dir": "long", "threads": 1}}
JSON
"$qkv" train long.json >long.log 2>&1 &
pid=$!
for i in $(seq 300); do grep -q "^writes:" long.log 2>/dev/null && break; sleep 0.1; done
sleep 1  # inside step 1, which takes several seconds
start=$(now_ms)
kill -TERM $pid
set +e; wait $pid; code=$?; set -e
took=$(($(now_ms) - start))
[ $code -eq 143 ] || fail "SIGTERM in a long step: exit $code ($(tail -3 long.log))"
[ $took -lt 3000 ] || fail "SIGTERM in a long step took $took ms to end the run"
grep -q "stopped during step 1; saved long/ckpt.qkv at step 0" long.log || fail "long step: $(tail -2 long.log)"
[ "$(step_of long/ckpt.qkv)" -eq 0 ] || fail "the unfinished step was saved"
"$qkv" train gpt.json --set train.out_dir=eval --set train.eval_interval=1 --set train.eval_steps=50000 \
  --set train.log_interval=1 >eval.log 2>&1 &
pid=$!
for i in $(seq 300); do [ -s eval/metrics.jsonl ] && break; sleep 0.1; done
sleep 0.5  # inside the evaluation after step 1
start=$(now_ms)
kill -INT $pid
set +e; wait $pid; code=$?; set -e
took=$(($(now_ms) - start))
[ $code -eq 130 ] && [ $took -lt 3000 ] || fail "SIGINT in a long evaluation: exit $code after $took ms"
[ "$(step_of eval/ckpt.qkv)" -eq 1 ] && grep -q "stopped during the evaluation after step 1; saved eval/ckpt.qkv" eval.log ||
  fail "the step before the evaluation was not saved: $(tail -2 eval.log)"
# A second signal ends the process at once (128 + the signal), and the checkpoint on disk stays whole.
"$qkv" train --resume long/ckpt.qkv >long2.log 2>&1 &
pid=$!
for i in $(seq 300); do grep -q "^writes:" long2.log 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid
kill -TERM $pid 2>/dev/null || true
set +e; wait $pid; code=$?; set -e
[ $code -eq 143 ] || fail "two SIGTERMs: exit $code"
[ "$(step_of long/ckpt.qkv)" -eq 0 ] || fail "the checkpoint did not survive two signals"

# 7. Every split is checked before step 1: a val split shorter than one window is refused at once.
expect_exit 2 "a val split shorter than a window" "$qkv" train gpt.json --set model.block_size=1024 \
  --set data.val_fraction=0.05 --set train.out_dir=short
grep -q "val split of story.txt: 931 tokens, shorter than one window of block_size + 1 = 1025" err.txt ||
  fail "short split: $(cat err.txt)"
[ ! -e short/metrics.jsonl ] || fail "a refused run started"

# 9. A pinned decay_steps past max_steps is named at the start; the shipped recipes follow max_steps.
"$qkv" train gpt.json --set optim.decay_steps=2000 --set train.max_steps=20 --set train.out_dir=pinned >pinned.log
grep -q "note: optim.decay_steps 2000 is past train.max_steps 20: the learning rate ends at" pinned.log ||
  fail "no note on decay_steps: $(cat pinned.log)"
"$qkv" init "$root/configs/gpt-baby.json" --set data.train=story.txt --set train.max_steps=500 \
  --out baby.qkv >/dev/null
"$qkv" info baby.qkv | grep -q '"decay_steps": 500' || fail "gpt-baby does not decay over max_steps"

# 10. A short start: a summary, not the config (which is in the out_dir and behind --verbose); values as written.
[ "$(sed -n '/^step /q;p' train.log | wc -l)" -le 8 ] || fail "the start is long: $(sed -n '/^step /q;p' train.log)"
grep -q "^config: the defaults with .*optim.lr=0.003" train.log || fail "no changed keys: $(cat train.log)"
! grep -q "0.899999\|9.99999" train.log || fail "float artefacts in the log"
grep -q '"beta1": 0.9,' gpt/config.json || fail "config.json: $(cat gpt/config.json)"
"$qkv" train gpt.json --set train.out_dir=verbose --set train.max_steps=1 --verbose >verbose.log
grep -q '"beta1": 0.9,' verbose.log && grep -q '"eps": 1e-08' verbose.log || fail "--verbose: $(cat verbose.log)"

# 11. The end says how long it took and how fast it went.
grep -Eq "^done: step 60 \(60 steps in [0-9hms]+, [0-9]+ tokens/s on average\)" train.log || fail "end: $(tail -1 train.log)"

# 12. Samples are labelled, and everything printed is valid UTF-8 even from byte-level BPE models.
grep -q "^sample at step 30:" train.log && grep -q "^  | " train.log || fail "unlabelled samples: $(cat train.log)"
for i in $(seq 100); do printf 'caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 na\xc3\xafve r\xc3\xa9sum\xc3\xa9\n'; done >utf8.txt
cat >bpe.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32},
 "data": {"train": "utf8.txt", "tokenizer": "bpe", "vocab_size": 300},
 "train": {"batch_size": 8, "max_steps": 4, "eval_interval": 2, "eval_steps": 1, "out_dir": "bpe", "threads": 1}}
JSON
"$qkv" train bpe.json >bpe.log
iconv -f UTF-8 -t UTF-8 bpe.log >/dev/null || fail "the BPE training log is not valid UTF-8"
"$qkv" sample bpe/ckpt.qkv --prompt "caf" --tokens 400 --seed 5 >sample.txt
iconv -f UTF-8 -t UTF-8 sample.txt >/dev/null || fail "qkv sample wrote invalid UTF-8"
awk 'BEGIN { srand(3); for (i = 0; i < 200; i++) print "caf\xc3\xa9 \xe6\x97\xa5\tcaf\xc3\xa9 \xe6\x97\xa5" }' >pairs.tsv
echo '{"model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 16},
 "data": {"task": "seq2seq", "train": "pairs.tsv", "tokenizer": "bpe", "vocab_size": 270}}' >s2s.json
"$qkv" init s2s.json --out s2s.qkv >/dev/null
printf 'caf\xc3\xa9\n\xe6\x97\xa5\n' | "$qkv" translate s2s.qkv >translated.txt
iconv -f UTF-8 -t UTF-8 translated.txt >/dev/null || fail "qkv translate wrote invalid UTF-8"

# 13. Mistakes get a line that says what to do.
expect_exit 2 "an unknown command" "$qkv" generate
grep -q "'generate' is not a qkv command (did you mean sample?); the commands are: train, sample," err.txt ||
  fail "unknown command: $(cat err.txt)"
expect_exit 2 "a checkpoint as the config" "$qkv" train gpt/ckpt.qkv
grep -q "gpt/ckpt.qkv is a qkv checkpoint, not a JSON config (to continue its run: qkv train --resume gpt/ckpt.qkv)" \
  err.txt || fail "checkpoint as config: $(cat err.txt)"
expect_exit 2 "a missing data file" "$qkv" train gpt.json --set data.train=nosuch.txt --set train.out_dir=x
grep -q "^qkv: error: data.train: nosuch.txt: no such file" err.txt || fail "missing file: $(cat err.txt)"
expect_exit 2 "a missing init_from" "$qkv" train gpt.json --set train.init_from=nosuch.qkv --set train.out_dir=x
grep -q "train.init_from: nosuch.qkv: no such file" err.txt || fail "missing init_from: $(cat err.txt)"
expect_exit 2 "a missing tokenizer file" "$qkv" train gpt.json --set data.tokenizer=nosuch.tok --set train.out_dir=x
grep -q "data.tokenizer: nosuch.tok: no such file" err.txt || fail "missing tokenizer: $(cat err.txt)"
"$qkv" tokenizer train --data story.txt --out story.tok >/dev/null
expect_exit 2 "a tokenizer file as the config" "$qkv" train story.tok
grep -q "story.tok is a qkv tokenizer file, not a JSON config" err.txt || fail "tokenizer as config: $(cat err.txt)"

# 14. --help shows defaults; one rule for the smallest BPE vocabulary: 256 bytes and the task's specials.
"$qkv" sample --help | grep -q -- "--tokens.*=200" || fail "sample --help lacks the default of --tokens"
"$qkv" tokenizer train --help | grep -q -- "--type TEXT=bpe" || fail "tokenizer train --help lacks --type's default"
"$qkv" tokenizer train --help | grep -q -- "=512" || fail "tokenizer train --help lacks --vocab-size's default"
expect_exit 0 "256 for an lm, as tokenizer train" "$qkv" init gpt.json --set data.tokenizer=bpe \
  --set data.vocab_size=256 --out lm256.qkv
"$qkv" tokenizer train --data story.txt --type bpe --vocab-size 256 --out t256.tok >/dev/null
expect_exit 2 "255 for an lm" "$qkv" init gpt.json --set data.tokenizer=bpe --set data.vocab_size=255 --out x.qkv
grep -q "data.vocab_size must be in \[256, 1048576\] for a BPE tokenizer" err.txt || fail "255: $(cat err.txt)"
expect_exit 2 "259 for seq2seq" "$qkv" init s2s.json --set data.vocab_size=258 --out x.qkv
grep -q "must be in \[259, 1048576\] for a BPE tokenizer (the 256 byte tokens and seq2seq's special tokens PAD, BOS, EOS)" \
  err.txt || fail "258 for seq2seq: $(cat err.txt)"
echo "newcomer: 1 passed, 0 failed"
