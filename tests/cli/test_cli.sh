#!/usr/bin/env bash
# End to end through the qkv binary: train a tiny model of each task, then sample, eval, info, export, import,
# tokenizer, and the exit codes of bad input. usage: test_cli.sh path/to/qkv
set -euo pipefail
tests_dir=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$0")/common.sh" "$1"

write_story_and_gpt_config
"$qkv" train gpt.json >train.log
grep -q '"val_loss"' gpt/metrics.jsonl || fail "no eval line in metrics.jsonl"
first=$(grep val_loss gpt/metrics.jsonl | head -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
last=$(grep val_loss gpt/metrics.jsonl | tail -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a && b < 2.5) }' || fail "gpt val loss did not fall: $first -> $last"

out=$("$qkv" sample gpt/ckpt.qkv --prompt "the cat" --tokens 40 --seed 3)
[[ "$out" == "the cat"* ]] || fail "sample does not start with the prompt: $out"
[ "$(echo "$out" | wc -c)" -ge 48 ] || fail "sample too short: $out"
[ "$out" == "$("$qkv" sample gpt/ckpt.qkv --prompt "the cat" --tokens 40 --seed 3)" ] || fail "sample not seeded"

"$qkv" eval gpt/ckpt.qkv --data story.txt --json >eval.json
grep -q '"perplexity"' eval.json || fail "eval --json lacks perplexity: $(cat eval.json)"
"$qkv" info gpt/ckpt.qkv --json >info.json
grep -q '"kind":"gpt"' info.json && grep -q '"step":60' info.json || fail "info: $(cat info.json)"
"$qkv" export gpt/ckpt.qkv --to gpt.safetensors >/dev/null
"$qkv" import gpt.safetensors --config gpt.json --out imported.qkv >/dev/null
[ "$("$qkv" sample imported.qkv --prompt "the" --tokens 30)" == "$("$qkv" sample gpt/ckpt.qkv --prompt "the" --tokens 30)" ] ||
  fail "export then import changed the model"
"$qkv" init gpt.json --out init.qkv >/dev/null
grep -q '"step":0' <("$qkv" info init.qkv --json) || fail "init is not at step 0"

"$qkv" tokenizer train --data story.txt --type bpe --vocab-size 300 --out story.tok >/dev/null
ids=$(echo "the bird sang" | "$qkv" tokenizer encode story.tok)
[ "$(echo "$ids" | "$qkv" tokenizer decode story.tok)" == "the bird sang" ] || fail "tokenizer round trip"
# --whole: all of stdin as one text, its newlines tokens too, on one line of ids.
printf 'the cat\nthe bird\n' | "$qkv" tokenizer encode story.tok --whole >whole.ids
[ "$(wc -l <whole.ids)" -eq 1 ] || fail "tokenizer encode --whole gave $(wc -l <whole.ids) lines"
[ "$("$qkv" tokenizer decode story.tok <whole.ids)" == "$(printf 'the cat\nthe bird\n')" ] || fail "--whole round trip"

# tokenizer import: GPT-2's form on a tiny vocabulary (tests/train/fixtures/gpt2-tiny: GPT-2's 256 bytes in its
# order, six merges, <|endoftext|> = 262), its ids, <|endoftext|> only when asked, and a .tok as data.tokenizer.
tiny=$tests_dir/train/fixtures/gpt2-tiny
"$qkv" tokenizer import "$tiny/vocab.bpe" "$tiny/encoder.json" --out tiny.tok >import.log
grep -q "263 tokens (6 merges, 1 specials)" import.log || fail "tokenizer import: $(cat import.log)"
[ "$(printf 'the cat<|endoftext|>' | "$qkv" tokenizer encode tiny.tok)" == "83 257 261 27 91 68 77 67 78 69 83 68 87 83 91 29" ] ||
  fail "tokenizer encode with an imported tokenizer"
[ "$(printf 'the cat<|endoftext|>' | "$qkv" tokenizer encode tiny.tok --allow-special)" == "83 257 261 262" ] ||
  fail "tokenizer encode --allow-special"
"$qkv" train gpt.json --set data.tokenizer=tiny.tok --set train.max_steps=2 --set train.out_dir=tiny >tiny.log
grep -q "vocabulary 263 (bpe)" tiny.log || fail "data.tokenizer as a .tok file: $(cat tiny.log)"
# tokenizer extract: the checkpoint's tokenizer is the file it was trained with, byte for byte.
"$qkv" tokenizer extract tiny/ckpt.qkv --out tiny-extracted.tok >/dev/null
cmp -s tiny.tok tiny-extracted.tok || fail "tokenizer extract wrote another file than the one trained with"
expect_exit 2 "tokenizer extract of a text file" "$qkv" tokenizer extract story.txt --out x.tok
"$qkv" train gpt.json --set model.kind=encoder --set data.task=mlm --set data.tokenizer=tiny.tok \
  --set train.max_steps=2 --set train.out_dir=tinymlm >tinymlm.log
grep -q "<PAD> = 263, <MASK> = 264, <CLS> = 265, <UNK> = 266 added" tinymlm.log ||
  fail "mlm with a .tok file lacking its specials: $(cat tinymlm.log)"
for bad in "tokenizer import $tiny/encoder.json --out x.tok:expected encoder.json + vocab.bpe" \
  "tokenizer import $tiny/vocab.bpe $tiny/vocab.bpe --out x.tok:got a merge list" \
  "tokenizer import nothing.json --out x.tok:nothing.json: no such file" \
  "tokenizer import story.tok --out x.tok:story.tok: already a qkv tokenizer file"; do
  expect_exit 2 "${bad%%:*}" $qkv ${bad%%:*}
  grep -q -- "${bad#*:}" err.txt || fail "${bad%%:*}: $(cat err.txt)"
  [ "$(wc -l <err.txt)" -eq 1 ] || fail "${bad%%:*}: not one line: $(cat err.txt)"
done
expect_exit 2 "an unknown --pattern" "$qkv" tokenizer import "$tiny/encoder.json" "$tiny/vocab.bpe" --pattern x --out x.tok
printf 'IQ== 0\n' >r.tiktoken
expect_exit 2 "tiktoken without --pattern" "$qkv" tokenizer import r.tiktoken --out x.tok
grep -q "give --pattern gpt2" err.txt || fail "tiktoken without --pattern: $(cat err.txt)"
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >wp.json
expect_exit 2 "a WordPiece tokenizer.json" "$qkv" tokenizer import wp.json --out x.tok
grep -q "wp.json: a WordPiece model" err.txt || fail "WordPiece: $(cat err.txt)"

# MLM, classification and seq2seq: each lowers its validation loss.
cat >mlm.json <<'JSON'
{"model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32},
 "data": {"task": "mlm", "train": "story.txt"}, "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 60, "eval_interval": 30, "eval_steps": 4, "out_dir": "mlm", "threads": 1}}
JSON
for i in $(seq 200); do echo -e "pos\tgood great fine lovely"; echo -e "neg\tbad awful poor sad"; done >reviews.tsv
cat >cls.json <<'JSON'
{"model": {"kind": "encoder", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32},
 "data": {"task": "classify", "train": "reviews.tsv"}, "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 60, "eval_interval": 30, "eval_steps": 4, "out_dir": "cls", "threads": 1}}
JSON
awk 'BEGIN { srand(5); for (i = 0; i < 300; i++) { w = ""; for (j = 0; j < 4; j++) w = w substr("abcde", int(rand() * 5) + 1, 1); print w "\t" w } }' >copy.tsv
cat >s2s.json <<'JSON'
{"model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 12, "positions": "sinusoidal"},
 "data": {"task": "seq2seq", "train": "copy.tsv"},
 "optim": {"name": "adam", "lr": 0.5, "beta2": 0.98, "schedule": "noam", "warmup_steps": 20},
 "train": {"batch_size": 16, "max_steps": 100, "eval_interval": 20, "eval_steps": 4, "out_dir": "s2s", "threads": 1}}
JSON
for run in mlm cls s2s; do
  "$qkv" train $run.json >$run.log
  first=$(grep val_loss $run/metrics.jsonl | head -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
  last=$(grep val_loss $run/metrics.jsonl | tail -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "$run val loss did not fall: $first -> $last"
done
# MLM eval reports the masked-token accuracy, a fraction, beside the loss.
"$qkv" eval mlm/ckpt.qkv --data story.txt --json >eval_mlm.json
awk -F'"accuracy":' 'NF > 1 { split($2, a, /[,}]/); exit !(a[1] >= 0 && a[1] <= 1) } NF == 1 { exit 1 }' eval_mlm.json ||
  fail "MLM eval lacks a masked-token accuracy: $(cat eval_mlm.json)"
[ "$(printf 'good great\nbad awful\n' | "$qkv" classify cls/ckpt.qkv | tr '\n' ' ')" == "pos neg " ] ||
  fail "classify: $(printf 'good great\nbad awful\n' | "$qkv" classify cls/ckpt.qkv)"
[ "$(echo abcd | "$qkv" translate s2s/ckpt.qkv --beam 2 | wc -l)" -eq 1 ] || fail "translate"
"$qkv" eval s2s/ckpt.qkv --data copy.tsv --json | grep -q '"bleu"' || fail "seq2seq eval lacks BLEU"
# eval's line for people, per task; it reads the checkpoint and --data only, not the training files.
mkdir -p away && cp story.txt away/eval.txt && cp reviews.tsv away/eval_cls.tsv && cp copy.tsv away/eval_s2s.tsv
(
  cd away
  grep -Eqx 'loss [0-9.]+  perplexity [0-9.]+  \(18592 tokens\)' <("$qkv" eval ../gpt/ckpt.qkv --data eval.txt) || fail "eval gpt"
  grep -Eqx 'loss [0-9.]+  perplexity [0-9.]+  \([0-9]+ tokens\)  masked-token accuracy [0-9.e-]+ \([0-9]+ masked\)' \
    <("$qkv" eval ../mlm/ckpt.qkv --data eval.txt) || fail "eval mlm"
  grep -Eqx 'loss [0-9.e-]+  accuracy [0-9.]+  \(400 examples\)' <("$qkv" eval ../cls/ckpt.qkv --data eval_cls.tsv) || fail "eval cls"
  grep -Eqx 'loss [0-9.e-]+  BLEU [0-9.]+  \(300 pairs, greedy\)' <("$qkv" eval ../s2s/ckpt.qkv --data eval_s2s.tsv) || fail "eval s2s"
)

# Ctrl-C saves a checkpoint and exits 130; SIGTERM exits 143.
for sig in INT TERM; do
  "$qkv" train gpt.json --set train.max_steps=1000000 --set train.out_dir=sig$sig >sig.log &
  pid=$!
  for i in $(seq 300); do [ -s sig$sig/metrics.jsonl ] && break; sleep 0.1; done
  kill -$sig $pid
  set +e; wait $pid; code=$?; set -e
  want=130; [ $sig == TERM ] && want=143
  [ $code -eq $want ] || fail "SIG$sig: exit $code, expected $want"
  "$qkv" info sig$sig/ckpt.qkv --json | grep -q '"step":[1-9]' || fail "no checkpoint after SIG$sig"
done

# bf16: a run records its precision, sample and eval follow it or --precision, and a resume in the other
# precision says it is not bit for bit.
"$qkv" train gpt.json --set train.precision=bf16 --set train.max_steps=20 --set train.out_dir=bf16 >bf16.log
grep -q '"precision": "bf16"' <("$qkv" info bf16/ckpt.qkv) || fail "info does not show bf16"
[ "$("$qkv" sample bf16/ckpt.qkv --prompt "the" --tokens 20 --seed 1)" == \
  "$("$qkv" sample bf16/ckpt.qkv --prompt "the" --tokens 20 --seed 1 --precision bf16)" ] || fail "sample: bf16 by default"
bf=$("$qkv" eval bf16/ckpt.qkv --data story.txt --json)
fp=$("$qkv" eval bf16/ckpt.qkv --data story.txt --json --precision fp32)
[ "$bf" != "$fp" ] || fail "eval --precision fp32 gave the bf16 loss: $bf"
"$qkv" train --resume bf16/ckpt.qkv --set train.max_steps=25 --set train.precision=fp32 >bf16_resume.log
grep -q "trained in bf16 and continues in fp32" bf16_resume.log || fail "no note on a resume in fp32: $(cat bf16_resume.log)"

# Bad input: exit 2 with one line naming the problem.
expect_exit 2 "unknown key" "$qkv" train gpt.json --set model.n_layers=2
grep -q "did you mean model.n_layer" err.txt || fail "unknown key message: $(cat err.txt)"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "error is not one line: $(cat err.txt)"
expect_exit 2 "wrong type" "$qkv" train gpt.json --set model.n_layer='"two"'
grep -q "model.n_layer must be an integer" err.txt || fail "wrong type message: $(cat err.txt)"
expect_exit 2 "missing data" "$qkv" train gpt.json --set data.train=nothing.txt
grep -q "nothing.txt" err.txt || fail "missing file message: $(cat err.txt)"
expect_exit 2 "bad option" "$qkv" sample gpt/ckpt.qkv --tokens=-5
expect_exit 2 "truncated checkpoint" bash -c "head -c 500 gpt/ckpt.qkv >cut.qkv && '$qkv' info cut.qkv"
expect_exit 2 "wrong kind" bash -c "echo abc | '$qkv' translate gpt/ckpt.qkv"
grep -q "holds a gpt model, expected seq2seq" err.txt || fail "wrong kind message: $(cat err.txt)"
expect_exit 2 "unknown character" "$qkv" sample gpt/ckpt.qkv --prompt "Z"
grep -q "'Z'" err.txt || fail "unknown character message: $(cat err.txt)"
expect_exit 2 "unknown precision" "$qkv" sample gpt/ckpt.qkv --precision fp16
expect_exit 2 "unknown QKV_ISA" env QKV_ISA=avx1024 "$qkv" sample gpt/ckpt.qkv --tokens 2
grep -q "QKV_ISA=avx1024: unknown instruction set" err.txt || fail "QKV_ISA message: $(cat err.txt)"
if ! grep -q amx_tile /proc/cpuinfo; then
  expect_exit 2 "QKV_ISA the CPU lacks" env QKV_ISA=amx "$qkv" sample gpt/ckpt.qkv --tokens 2
  grep -q "this CPU lacks amx" err.txt || fail "QKV_ISA=amx message: $(cat err.txt)"
fi
# A forced lower path still runs bf16, on the plain path, and says once that it is slower.
QKV_ISA=avx2 "$qkv" sample bf16/ckpt.qkv --tokens 5 --precision bf16 2>isa_err.txt >/dev/null
[ "$(grep -c "slower than fp32" isa_err.txt)" -eq 1 ] || fail "plain bf16 path note: $(cat isa_err.txt)"
expect_exit 2 "unknown train.precision" "$qkv" train gpt.json --set train.precision=half
grep -q "train.precision" err.txt || fail "train.precision message: $(cat err.txt)"
expect_exit 2 "bench without a config" "$qkv" bench --steps 1
grep -q "give a config (or --machine)" err.txt || fail "bench usage message: $(cat err.txt)"
expect_exit 2 "bench --generate on an encoder" "$qkv" bench mlm.json --set model.vocab_size=40 --generate 2
grep -q "needs a gpt model" err.txt || fail "bench --generate message: $(cat err.txt)"
echo "cli: 1 passed, 0 failed"
