#!/usr/bin/env bash
# Regenerates the fuzzers' seed corpora in fuzz/corpus/<target>/: small valid files made by qkv itself, so that
# the fuzzers start from inputs that get past the magic and the checksums. usage: fuzz/make_corpus.sh [path/to/qkv]
set -euo pipefail
cd "$(dirname "$0")/.."
qkv=$(realpath "${1:-build/qkv}")
corpus=$PWD/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$corpus"
mkdir -p "$corpus"/{checkpoint,safetensors,tokenizer,config}
cp configs/*.json "$corpus/config/"

cd "$work"
printf 'the cat sat on the mat.\nROMEO: a bird sang, \xc3\xa9t\xc3\xa9!\n' >text.txt
for i in 1 2 3 4; do cat text.txt; done >long.txt
for i in 1 2 3 4 5 6 7 8 9 10; do printf 'pos\tgood fine\nneg\tbad sad\n'; done >labels.tsv
for i in 1 2 3 4 5 6 7 8 9 10; do printf 'abc\tabc\ncab\tcab\n'; done >pairs.tsv

# Models as small as a model can be: one layer, d_model 8, a few tokens.
tiny='"n_layer": 1, "n_head": 2, "d_model": 8, "block_size": 8'
cat >gpt.json <<JSON
{"model": {"kind": "gpt", $tiny}, "data": {"train": "text.txt"}}
JSON
cat >mlm.json <<JSON
{"model": {"kind": "encoder", $tiny}, "data": {"task": "mlm", "train": "long.txt", "tokenizer": "bpe",
 "vocab_size": 264}}
JSON
cat >classify.json <<JSON
{"model": {"kind": "encoder", $tiny, "pooling": "mean"}, "data": {"task": "classify", "train": "labels.tsv"}}
JSON
cat >seq2seq.json <<JSON
{"model": {"kind": "seq2seq", $tiny, "positions": "sinusoidal"}, "data": {"task": "seq2seq", "train": "pairs.tsv"}}
JSON
for name in gpt mlm classify seq2seq; do
  "$qkv" init $name.json --out "$corpus/checkpoint/$name.qkv" >/dev/null
  "$qkv" export "$corpus/checkpoint/$name.qkv" --out "$corpus/safetensors/$name.safetensors" >/dev/null
done

"$qkv" tokenizer train --data text.txt --type char --out "$corpus/tokenizer/char.tok" >/dev/null
"$qkv" tokenizer train --data long.txt --type bpe --vocab-size 280 --out "$corpus/tokenizer/bpe.tok" >/dev/null

# Overrides follow the JSON, one "--set key=value" a line (the format of fuzz::config in fuzz/fuzz_inputs.h).
{
  cat gpt.json
  printf -- '--set train.max_steps=5\n--set optim.schedule=noam\n--set data.train=other.txt'
} >"$corpus/config/gpt-with-overrides.json"

big=$(find "$corpus" -type f -size +64k)
[ -z "$big" ] || { echo "make_corpus.sh: seeds over 64 KB: $big" >&2; exit 1; }
(cd "$corpus" && find . -type f | sort | xargs ls -l | awk '{ print $5, $9 }')
