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
mkdir -p "$corpus"/{checkpoint,safetensors,tokenizer,tokenizer_import,config,llmc,token_file}
cp configs/*.json "$corpus/config/"

repo=$PWD
cd "$work"
printf 'the cat sat on the mat.\nROMEO: a bird sang, \xc3\xa9t\xc3\xa9!\n' >text.txt
for i in 1 2 3 4; do cat text.txt; done >long.txt
for i in 1 2 3 4 5 6 7 8 9 10; do printf 'pos\tgood fine\nneg\tbad sad\n'; done >labels.tsv
for i in 1 2 3 4 5 6 7 8 9 10; do printf 'abc\tabc\ncab\tcab\n'; done >pairs.tsv

# Models as small as a model can be: one layer, d_model 8, a few tokens.
tiny='"n_layer": 1, "n_head": 2, "d_model": 8, "block_size": 8'
cat >gpt.json <<JSON
{"model": {"kind": "gpt", $tiny}, "data": {"train": "long.txt"}}
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

"$qkv" init gpt.json --set model.bias=true --set model.activation=gelu_tanh --out gpt2.qkv >/dev/null
"$qkv" export gpt2.qkv --format llmc --out "$corpus/llmc/tiny.bin" >/dev/null

"$qkv" tokenizer train --data text.txt --type char --out "$corpus/tokenizer/char.tok" >/dev/null
"$qkv" tokenizer train --data long.txt --type bpe --vocab-size 280 --out "$corpus/tokenizer/bpe.tok" >/dev/null

# Token files as `qkv prepare` writes them: nanoGPT's raw uint16 tokens with their meta.json, an llm.c shard.
"$qkv" prepare text.txt long.txt --tokenizer "$corpus/tokenizer/bpe.tok" --out tokens >/dev/null 2>&1
cp tokens/train.bin tokens/meta.json "$corpus/token_file/"
"$qkv" prepare long.txt --tokenizer "$corpus/tokenizer/bpe.tok" --out shards --format llmc --name s >/dev/null 2>&1
cp shards/s_val_000000.bin "$corpus/token_file/shard.bin"

# GPT-2's forms of the tiny vocabulary of tests/train/fixtures/gpt2-tiny (the shapes fuzz::tokenizer_import cuts
# its input into): encoder.json, a blank line, vocab.bpe; a tokenizer.json; a tiktoken rank file.
tiny="$repo/tests/train/fixtures/gpt2-tiny"
{ cat "$tiny/encoder.json"; printf '\n\n'; cat "$tiny/vocab.bpe"; } >"$corpus/tokenizer_import/encoder-vocab.txt"
python3 - "$tiny" "$corpus/tokenizer_import" <<'PY'
import base64, json, sys
tiny, out = sys.argv[1], sys.argv[2]
vocab = json.load(open(tiny + "/encoder.json", encoding="utf-8"))
merges = [l for l in open(tiny + "/vocab.bpe", encoding="utf-8").read().split("\n")[1:] if l]
tj = {"normalizer": None, "added_tokens": [{"id": 262, "content": "<|endoftext|>", "special": True}],
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
      "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
json.dump(tj, open(out + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
bs = list(range(33, 127)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs = bs[:] + [256 + i for i in range(256 - len(bs))]
bs += [b for b in range(256) if b not in bs]
byte = {chr(c): b for b, c in zip(bs, cs)}
with open(out + "/tiny.tiktoken", "wb") as f:
    for key, rank in sorted(vocab.items(), key=lambda kv: kv[1])[:-1]:
        f.write(base64.b64encode(bytes(byte[c] for c in key)) + b" " + str(rank).encode() + b"\n")
PY

# Overrides follow the JSON, one "--set key=value" a line (the format of fuzz::config in fuzz/fuzz_inputs.h).
{
  cat gpt.json
  printf -- '--set train.max_steps=5\n--set optim.schedule=noam\n--set data.train=other.txt'
} >"$corpus/config/gpt-with-overrides.json"

big=$(find "$corpus" -type f -size +64k)
[ -z "$big" ] || { echo "make_corpus.sh: seeds over 64 KB: $big" >&2; exit 1; }
(cd "$corpus" && find . -type f | sort | xargs ls -l | awk '{ print $5, $9 }')
