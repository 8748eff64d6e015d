#!/usr/bin/env bash
# `qkv prepare` and training on token files, end to end: nanoGPT's shakespeare-char from train.bin trains with
# the losses of the text file bit for bit; a BPE corpus with <|endoftext|> in llm.c shards trains with falling
# loss; bad token files exit 2 with one line; --resume fingerprints token files by sampled blocks; a 2 GB
# (sparse) token file keeps the anonymous memory of a small one. usage: test_prepare.sh path/to/qkv
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/common.sh" "$1"
shakespeare=$repo/data/tinyshakespeare.txt

# 1. nanoGPT's data/shakespeare_char/prepare.py: 65 characters, train.bin 1,003,854 tokens, val.bin 111,540.
"$qkv" tokenizer train --data "$shakespeare" --type char --out chars.tok >/dev/null
"$qkv" prepare "$shakespeare" --tokenizer chars.tok --out sc --threads 1 >prepare.log 2>progress.log
grep -q "wrote sc/train.bin: 1003854 tokens" prepare.log || fail "prepare: $(cat prepare.log)"
grep -q "wrote sc/val.bin: 111540 tokens" prepare.log || fail "prepare: $(cat prepare.log)"
[ "$(stat -c %s sc/train.bin)" -eq 2007708 ] || fail "train.bin is not 1003854 uint16 tokens"
grep -q '"dtype": "uint16"' sc/meta.json && grep -q '"vocab_size": 65' sc/meta.json || fail "meta.json: $(cat sc/meta.json)"
grep -q "$(sha256sum chars.tok | cut -c1-64)" sc/meta.json || fail "meta.json lacks the tokenizer's sha256"
grep -q "prepare: 1.1 of 1.1 MB (100%)" progress.log || fail "no progress: $(cat progress.log)"
# "First Citizen": F=18 i=47 r=56 s=57 t=58, as nanoGPT's stoi numbers them.
[ "$(od -An -tu2 -N10 sc/train.bin | tr -s ' ')" == " 18 47 56 57 58" ] || fail "train.bin starts $(od -An -tu2 -N10 sc/train.bin)"

# The same run from the text and from the token files: the same windows of the same tokens, so the same losses.
short=(--set train.max_steps=16 --set train.eval_interval=8 --set train.eval_steps=2 --set train.log_interval=1
  --set train.threads=1 --set model.n_layer=2)
"$qkv" train "$repo/configs/gpt-baby.json" --set data.train="$shakespeare" --set train.out_dir=text "${short[@]}" >text.log
"$qkv" train "$repo/configs/gpt-baby.json" --set data.train=sc/train.bin --set data.val=sc/val.bin \
  --set data.tokenizer=chars.tok --set train.out_dir=bin "${short[@]}" >bin.log
grep -q "data: sc/train.bin: 1003854 train tokens, 111540 val tokens, vocabulary 65" bin.log || fail "$(cat bin.log)"
grep -q "memory-mapped" bin.log || fail "token files not said to be memory-mapped: $(cat bin.log)"
losses() { grep -o '"\(train_loss\|val_loss\|eval_train_loss\)":[^,}]*' "$1"; }
[ "$(losses text/metrics.jsonl | wc -l)" -eq 20 ] || fail "expected 16 train and 4 eval losses: $(cat text/metrics.jsonl)"
[ "$(losses text/metrics.jsonl)" == "$(losses bin/metrics.jsonl)" ] ||
  fail "train.bin and the text gave different losses: $(diff <(losses text/metrics.jsonl) <(losses bin/metrics.jsonl))"

# qkv eval on val.bin scores the windows of the same text.
tail -c +1003855 "$shakespeare" >val.txt
"$qkv" eval bin/ckpt.qkv --data sc/val.bin --json >eval_bin.json
"$qkv" eval bin/ckpt.qkv --data val.txt --json >eval_text.json
grep -q '"tokens":111488' eval_bin.json || fail "eval of val.bin: $(cat eval_bin.json)"
[ "$(sed 's/"file":"[^"]*"//' eval_bin.json)" == "$(sed 's/"file":"[^"]*"//' eval_text.json)" ] ||
  fail "eval of val.bin differs from eval of its text: $(cat eval_bin.json eval_text.json)"

# --resume: the token files are found and fingerprinted again, and the run continues bit for bit.
"$qkv" train "$repo/configs/gpt-baby.json" --set data.train=sc/train.bin --set data.val=sc/val.bin \
  --set data.tokenizer=chars.tok --set train.out_dir=stopped "${short[@]}" --stop-at 8 >/dev/null
cp stopped/ckpt.qkv at8.qkv
"$qkv" train --resume stopped/ckpt.qkv >/dev/null
[ "$(losses stopped/metrics.jsonl)" == "$(losses bin/metrics.jsonl)" ] || fail "resume on token files changed the losses"
# A changed block of val.bin (its first 4 KB are sampled) is a changed file.
printf '\x01\x00' | dd of=sc/val.bin bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 2 "resume on a changed val.bin" "$qkv" train --resume at8.qkv --set train.out_dir=again
grep -q "data.val sc/val.bin is not the file at8.qkv was trained on: .*FNV-1a 64 of sampled blocks" err.txt ||
  fail "changed token file: $(cat err.txt)"

# 2. A BPE corpus of three documents, each followed by <|endoftext|>, in llm.c's shards; the loss falls.
for i in $(seq 150); do echo "the cat sat on the mat and the dog ate the bone."; done >a.txt
for i in $(seq 150); do echo "a bird sang in the tree while the sun went down."; done >b.txt
for i in $(seq 60); do echo "the dog and the bird sat in the sun."; done >c.txt
cat a.txt b.txt c.txt >abc.txt
"$qkv" tokenizer train --data abc.txt --type bpe --vocab-size 300 --special '<|endoftext|>' --out story.tok >tok.log
grep -q "300 tokens" tok.log || fail "tokenizer train --special: $(cat tok.log)"
"$qkv" prepare a.txt b.txt c.txt --tokenizer story.tok --out shards --format llmc --shard-tokens 2000 --name story \
  >llmc.log 2>/dev/null
grep -q "llmc, uint16, vocabulary 300, end-of-text 299" llmc.log || fail "prepare --format llmc: $(cat llmc.log)"
# c.txt (661 tokens with its end-of-text) is the val shard; a.txt and b.txt make 4502 train tokens, 3 shards.
[ "$(ls shards | tr '\n' ' ')" == "meta.json story_train_000001.bin story_train_000002.bin story_train_000003.bin story_val_000000.bin " ] ||
  fail "shard names: $(ls shards)"
header=$(od -An -td4 -N12 shards/story_train_000001.bin | tr -s ' ')
[ "$header" == " 20240520 1 2000" ] || fail "llm.c header: $header"
[ "$(stat -c %s shards/story_train_000001.bin)" -eq $((1024 + 2 * 2000)) ] || fail "shard size"
cat >lm.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32},
 "data": {"train": "shards/story_train_*.bin", "val": "shards/story_val_*.bin", "tokenizer": "story.tok"},
 "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 60, "eval_interval": 30, "eval_steps": 4, "out_dir": "llmc", "threads": 1}}
JSON
"$qkv" train lm.json >llmc_train.log
grep -q "4502 train tokens, 661 val tokens" llmc_train.log &&
  grep -q "data.train 3 llm.c shards (uint16), memory-mapped; data.val 1 llm.c shard" llmc_train.log ||
  fail "$(cat llmc_train.log)"
first=$(grep val_loss llmc/metrics.jsonl | head -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
last=$(grep val_loss llmc/metrics.jsonl | tail -1 | sed 's/.*"val_loss":\([0-9.e+-]*\).*/\1/')
train_first=$(grep -o '"train_loss":[0-9.]*' llmc/metrics.jsonl | head -1 | cut -d: -f2)
train_last=$(grep -o '"train_loss":[0-9.]*' llmc/metrics.jsonl | tail -1 | cut -d: -f2)
awk -v a="$first" -v b="$last" -v c="$train_first" -v d="$train_last" 'BEGIN { exit !(b < a && d < c - 2) }' ||
  fail "loss on shards did not fall: val $first -> $last, train $train_first -> $train_last"

# Text encoded in small chunks has the ids of the whole text, <|endoftext|> after it.
"$qkv" prepare abc.txt --tokenizer story.tok --out whole --val-fraction 0 --chunk-bytes 40 >/dev/null 2>&1
want="$("$qkv" tokenizer encode story.tok --whole <abc.txt) 299"
[ "$(od -An -tu2 -v whole/train.bin | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')" == "$want" ] ||
  fail "chunked prepare differs from tokenizer encode --whole"
[ "$(stat -c %s whole/val.bin)" -eq 0 ] || fail "--val-fraction 0 left tokens in val.bin"

# 3. Bad files: exit 2, one line naming the file and what is wrong.
mkdir -p bad
cp shards/story_train_000001.bin bad/version.bin
printf '\x02' | dd of=bad/version.bin bs=1 seek=4 conv=notrunc 2>/dev/null
head -c 2000 shards/story_train_000001.bin >bad/short.bin
mkdir -p odd && printf 'abc' >odd/train.bin
mkdir -p mixed && cp shards/story_train_000001.bin mixed/m_1.bin && printf 'abcd' >mixed/m_2.bin
mkdir -p big_ids && printf '\x05\x00\xff\xff\x05\x00' >big_ids/train.bin
for f in $(seq 40); do printf '\x05\x00'; done >>big_ids/train.bin
mkdir -p wronghash && cp sc/train.bin sc/val.bin wronghash/ &&
  sed 's/"tokenizer_sha256": "[0-9a-f]*"/"tokenizer_sha256": "00ff"/' sc/meta.json >wronghash/meta.json
base=(train lm.json --set train.max_steps=2 --set train.out_dir=bad_run --overwrite)
for bad in "bad/version.bin|story.tok|bad/version.bin: llm.c shard of version 2, expected 1" \
  "bad/short.bin|story.tok|bad/short.bin: 2000 bytes do not match the llm.c header's 2000 tokens" \
  "odd/train.bin|story.tok|odd/train.bin: 3 bytes, not a whole number of uint16 tokens" \
  "mixed/m_*.bin|story.tok|mixed/m_2.bin: starts with 1684234849, not llm.c's magic 20240520" \
  "big_ids/train.bin|story.tok|big_ids/train.bin: token id 65535 at token 1 (byte 2) is outside the vocabulary of 300" \
  "wronghash/train.bin|chars.tok|meta.json beside it records tokenizer chars.tok with sha256 00ff..., but data.tokenizer" \
  "sc/train.bin|story.tok|meta.json beside it records a vocabulary of 65 ids, but the model's tokenizer has 300" \
  "nothing_*.bin|story.tok|data.train: nothing_\*.bin: matches no file"; do
  IFS='|' read -r file tok want <<<"$bad"
  expect_exit 2 "$file" "$qkv" "${base[@]}" --set data.train="$file" --set data.val= --set data.tokenizer="$tok" \
    --set train.eval_interval=1 --set model.block_size=4 --set train.batch_size=64
  grep -q -- "$want" err.txt || fail "$file: $(cat err.txt)"
  [ "$(wc -l <err.txt)" -eq 1 ] || fail "$file: not one line: $(cat err.txt)"
done
expect_exit 2 "a token file without its tokenizer" "$qkv" train lm.json --set data.tokenizer=char \
  --set train.out_dir=notok
grep -q "holds token ids: give the tokenizer file they were prepared with as data.tokenizer" err.txt ||
  fail "no tokenizer: $(cat err.txt)"
expect_exit 2 "prepare with a missing text" "$qkv" prepare nosuch.txt --tokenizer story.tok --out x
grep -q "nosuch.txt: no such file" err.txt || fail "prepare nosuch: $(cat err.txt)"
printf 'the end.\n' >plain.txt
printf 'the caf\xc3\xa9.\n' >accent.txt
expect_exit 2 "prepare with a character the vocabulary lacks" "$qkv" prepare plain.txt accent.txt \
  --tokenizer chars.tok --out x
grep -q "accent.txt: in the text from byte 0: .*U+00E9" err.txt || fail "prepare, unknown character: $(cat err.txt)"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "prepare, unknown character: not one line: $(cat err.txt)"

# 4. Flat memory: a 2 GB token file (sparse: zeros, token 0) against a 2 MB one, over the same steps.
mkdir -p small big
head -c 2000000 /dev/zero >small/train.bin
truncate -s 2200000000 big/train.bin
rss() {
  "$qkv" train "$repo/configs/gpt-baby.json" --set data.train="$1/train.bin" --set data.tokenizer=chars.tok \
    --set train.out_dir="run_$1" "${short[@]}" --verbose >"$1.log"
  sed -n 's/.*RssAnon \([0-9]*\) kB.*/\1/p' "$1.log"
}
small_kb=$(rss small)
big_kb=$(rss big)
grep -q "data: big/train.bin: 989999998 train tokens, 110000002 val tokens" big.log || fail "$(cat big.log)"
echo "RssAnon at the end: 2 MB token file ${small_kb} kB, 2.2 GB token file ${big_kb} kB"
[ $((big_kb - small_kb)) -lt 51200 ] || fail "RssAnon grew with the file: ${small_kb} kB -> ${big_kb} kB"
echo "test_prepare: all passed"
