#!/usr/bin/env bash
# GPT-2's formats from the command line, without Python: a small trained GPT of GPT-2's architecture goes out
# as a Hugging Face folder and as llm.c's file and comes back with the same logits, bit for bit; what cannot
# go out, or in, is refused in one line; train.init_from takes an imported model's shape and crops its
# positions. (scripts/test_hf_gpt2.py checks the same formats against transformers.)
# usage: test_gpt2_formats.sh path/to/qkv
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/common.sh" "$1"

fixture="$root/tests/train/fixtures/gpt2-tiny"
"$qkv" tokenizer import "$fixture/encoder.json" "$fixture/vocab.bpe" --out tiny.tok >/dev/null
for i in $(seq 200); do echo "the cat sat on the mat, and the other cat ate."; done >story.txt
cat >gpt2.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 2, "n_head": 2, "d_model": 16, "block_size": 16, "bias": true,
           "activation": "gelu_tanh"},
 "data": {"train": "story.txt", "tokenizer": "tiny.tok"},
 "train": {"batch_size": 4, "max_steps": 10, "eval_interval": 10, "eval_steps": 2, "out_dir": "base", "threads": 1}}
JSON
"$qkv" train gpt2.json >/dev/null
"$qkv" logits base/ckpt.qkv --text "the cat sat on the mat" --out want.safetensors >/dev/null
same_logits() { # checkpoint description
  "$qkv" logits "$1" --text "the cat sat on the mat" --out got.safetensors >/dev/null
  cmp -s want.safetensors got.safetensors || fail "$2: the logits differ from the original's"
}

# 1. Out as a Hugging Face folder, in again.
"$qkv" export base/ckpt.qkv --format hf --out hf >/dev/null
for f in config.json model.safetensors vocab.json merges.txt; do [ -s "hf/$f" ] || fail "export --format hf: no $f"; done
grep -q '"activation_function": "gelu_new"' hf/config.json || fail "config.json: $(cat hf/config.json)"
"$qkv" import hf --out from_hf.qkv >out.txt
grep -q "Hugging Face GPT-2, F32): gpt, 2 layers, 2 heads, d_model 16, block_size 16" out.txt || fail "$(cat out.txt)"
same_logits from_hf.qkv "Hugging Face round trip"

# 2. Out as llm.c's checkpoint, in again (llm.c's file holds no tokenizer).
"$qkv" export base/ckpt.qkv --format llmc --out tiny.bin >/dev/null
[ "$(od -An -tu4 -N8 tiny.bin | tr -s ' ')" = " 20240326 3" ] || fail "llm.c header: $(od -An -tu4 -N32 tiny.bin)"
expect_exit 2 "llm.c without --tokenizer" "$qkv" import tiny.bin --out x.qkv
grep -q "holds no tokenizer; give --tokenizer" err.txt || fail "$(cat err.txt)"
"$qkv" import tiny.bin --tokenizer tiny.tok --out from_llmc.qkv >/dev/null
same_logits from_llmc.qkv "llm.c round trip"

# 3. Refusals, one line each.
one_line() { [ "$(wc -l <err.txt)" -eq 1 ] && grep -q "$1" err.txt || fail "expected one line with '$1': $(cat err.txt)"; }
"$qkv" init gpt2.json --set model.positions=rope --out rope.qkv >/dev/null
expect_exit 2 "a RoPE model as Hugging Face GPT-2" "$qkv" export rope.qkv --format hf --out rope_hf
one_line "holds GPT-2's architecture only, and this model has model.positions rope (expected learned)"
[ ! -e rope_hf ] || fail "a refused export left rope_hf behind"
"$qkv" init gpt2.json --set model.activation=relu --out relu.qkv >/dev/null
expect_exit 2 "a ReLU model as llm.c" "$qkv" export relu.qkv --format llmc --out relu.bin
one_line "model.activation relu (llm.c has gelu_tanh only)"
mkdir pickle && cp hf/config.json pickle/ && echo x >pickle/pytorch_model.bin
expect_exit 2 "a pickle" "$qkv" import pickle --out p.qkv
one_line "pytorch_model.bin, a Python pickle, which qkv does not read"
expect_exit 2 "--config with a folder" "$qkv" import hf --config gpt2.json --out p.qkv
one_line "is a folder, read as Hugging Face's"
sed 's/"n_embd": 16/"n_embd": 16, "layer_norm_epsilon": 1e-6/' hf/config.json >eps.json && mv eps.json hf/config.json
expect_exit 2 "another LayerNorm eps" "$qkv" import hf --out p.qkv
one_line "layer_norm_epsilon 1e-06, expected 1e-05"

# 4. init_from an imported model: a config of data and training keys only takes its shape and every weight; a
# smaller block_size keeps the first positions; a larger one is refused.
cat >tune.json <<'JSON'
{"data": {"train": "story.txt"}, "optim": {"lr": 1e-3},
 "train": {"init_from": "from_llmc.qkv", "batch_size": 4, "max_steps": 4, "eval_interval": 4, "eval_steps": 2,
           "out_dir": "tune", "threads": 1}}
JSON
"$qkv" train tune.json >out.txt
grep -q "its model: gpt, 2 layers, 2 heads, d_model 16, block_size 16" out.txt &&
  grep -q ": 0 parameters kept their initialisation" out.txt || fail "init_from: $(cat out.txt)"
"$qkv" train tune.json --set model.block_size=8 --set train.out_dir=tune8 >out.txt
grep -q "transformer.wpe.weight cropped from 16 to 8 positions" out.txt &&
  grep -q ": 0 parameters kept their initialisation" out.txt || fail "crop: $(cat out.txt)"
expect_exit 2 "a larger block_size" "$qkv" train tune.json --set model.block_size=32 --set train.out_dir=tune32
one_line "model.block_size 32 is larger than the 16 learned positions of init_from from_llmc.qkv"
echo "gpt2 formats: all checks passed"
