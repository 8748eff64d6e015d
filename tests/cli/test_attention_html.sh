#!/usr/bin/env bash
# qkv attention through the binary: the HTML page and the SVG of a tiny GPT, a seq2seq's three kinds of map, exit
# code 2 for bad input, and, when chromium is installed, a headless screenshot of the page that is not blank.
# usage: test_attention_html.sh path/to/qkv
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"

for i in $(seq 200); do echo "the bank of the river was steep & the <cat> sat on the mat."; done >story.txt
cat >gpt.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 40},
 "data": {"train": "story.txt"}, "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 40, "eval_interval": 40, "eval_steps": 2, "out_dir": "gpt", "threads": 1}}
JSON
"$qkv" train gpt.json >train.log

# Every layer and head: 2 x 2 tables of 31 x 31 cells, each row summing to 1, nothing fetched from outside.
text="the bank of the river was steep"
"$qkv" attention gpt/ckpt.qkv --text "$text" --out attn.html >out.txt
[ "$(grep -c '<table class="map"' attn.html)" -eq 4 ] || fail "expected 4 heatmaps, got $(grep -c '<table class="map"' attn.html)"
[ "$(grep -o 'data-w="' attn.html | wc -l)" -eq $((4 * 31 * 31)) ] || fail "expected $((4 * 31 * 31)) cells"
[ "$(grep -o 'data-layer="[0-9]*" data-head="[0-9]*"' attn.html | sort -u | wc -l)" -eq 4 ] ||
  fail "the heatmaps do not name 4 distinct layer/head pairs"
[ "$(grep -c '^<tr><th>.*data-w=' attn.html)" -eq $((4 * 31)) ] || fail "expected $((4 * 31)) rows"
grep '^<tr><th>.*data-w=' attn.html | awk '{ n = split($0, a, "data-w=\""); s = 0; for (i = 2; i <= n; i++) s += a[i] + 0
  if (s < 0.9999 || s > 1.0001) { print "row sums to " s; bad++ } } END { exit bad > 0 }' || fail "a row does not sum to 1"
# Causal: the first query sees only itself, so its row is 1 then zeros.
row0=$(grep -m1 '^<tr><th>.*data-w=' attn.html | grep -o 'data-w="[^"]*"' | tr '\n' ' ')
[[ "$row0" == 'data-w="1" data-w="0" data-w="0" '* ]] || fail "first row of a causal map: $row0"
! grep -Eq '<script|src=|href="[^#]|url\(' attn.html || fail "the page refers to something outside itself"
# An index links each map; the masked (future) cells of a causal map are drawn as such, not as weight 0.
[ "$(grep -o '<a href="#self-l[0-9]-h[0-9]">' attn.html | sort -u | wc -l)" -eq 4 ] || fail "the index does not link 4 maps"
[ "$(grep -o '<td class="m" data-w="0"' attn.html | wc -l)" -eq $((4 * 31 * 30 / 2)) ] || fail "masked cells not marked"

# Labels are escaped: '<' and '&' as entities, never raw markup.
"$qkv" attention gpt/ckpt.qkv --text "the <cat> & the" --layer 1 --out escaped.html >/dev/null
[ "$(grep -c '<table class="map"' escaped.html)" -eq 2 ] || fail "--layer 1 should give its 2 heads"
grep -q '<th>&lt;</th>' escaped.html && grep -q '<th>&amp;</th>' escaped.html || fail "labels not escaped"
! grep -q '<cat>' escaped.html || fail "raw <cat> in the page"

# One head as SVG: a rect per cell with its weight.
"$qkv" attention gpt/ckpt.qkv --text "$text" --layer 1 --head 1 --svg --out one.svg >/dev/null
[ "$(head -c 4 one.svg)" == "<svg" ] || fail "one.svg is not an SVG"
[ "$(grep -c '<rect [^>]*data-w="' one.svg)" -eq $((31 * 31)) ] || fail "expected $((31 * 31)) rects in one.svg"
grep -q 'data-kind="self" data-layer="1" data-head="1"' one.svg || fail "one.svg does not hold layer 1 head 1"

# Seq2seq: the encoder's maps, and with --target the decoder's self- and cross-attention.
awk 'BEGIN { srand(5); for (i = 0; i < 100; i++) { w = ""; for (j = 0; j < 4; j++) w = w substr("abcde", int(rand() * 5) + 1, 1); print w "\t" w } }' >copy.tsv
cat >s2s.json <<'JSON'
{"model": {"kind": "seq2seq", "n_layer": 1, "n_head": 2, "d_model": 16, "block_size": 8},
 "data": {"task": "seq2seq", "train": "copy.tsv"}, "train": {"out_dir": "s2s", "threads": 1}}
JSON
"$qkv" init s2s.json --out s2s.qkv >/dev/null
"$qkv" attention s2s.qkv --text abcd --target abc --out s2s.html >/dev/null
for kind in self decoder-self cross; do
  [ "$(grep -c "data-kind=\"$kind\"" s2s.html)" -eq 2 ] || fail "seq2seq: expected 2 $kind maps"
done
"$qkv" attention s2s.qkv --text abcd --target abc --kind cross --svg --out cross.svg >/dev/null
[ "$(grep -c '<rect [^>]*data-w="' cross.svg)" -eq $((4 * 4)) ] || fail "cross.svg: BOS + 3 queries over 4 keys"

# Bad input: exit 2 and one line naming the problem.
long=$(printf 'the bank %.0s' $(seq 6))
expect_exit 2 "a text longer than block_size" "$qkv" attention gpt/ckpt.qkv --text "$long" --out x.html
grep -q "54 tokens, longer than the model's block_size 40" err.txt || fail "too long: $(cat err.txt)"
expect_exit 2 "--layer out of range" "$qkv" attention gpt/ckpt.qkv --text "the" --layer 2 --out x.html
grep -q -- "--layer 2 is out of range: the model has layers 0 to 1" err.txt || fail "bad layer: $(cat err.txt)"
expect_exit 2 "--head out of range" "$qkv" attention gpt/ckpt.qkv --text "the" --head 5 --out x.html
grep -q -- "--head 5 is out of range: the model has heads 0 to 1" err.txt || fail "bad head: $(cat err.txt)"
expect_exit 2 "--target on a GPT" "$qkv" attention gpt/ckpt.qkv --text "the" --target "bank" --out x.html
expect_exit 2 "a character the tokenizer lacks" "$qkv" attention gpt/ckpt.qkv --text "zzz" --out x.html
expect_exit 2 "no --text" "$qkv" attention gpt/ckpt.qkv --out x.html
expect_exit 2 "a missing checkpoint" "$qkv" attention missing.qkv --text "the" --out x.html
[ ! -e x.html ] || fail "a failed run wrote x.html"

# The page in a real browser: a screenshot that is not blank. A blank page compresses to a tiny PNG, so the
# map's screenshot must be at least twice the size of a blank page's at the same window size.
if ! command -v chromium >/dev/null; then
  echo "chromium not found: screenshot check skipped"
  exit 0
fi
shoot() { # page.html shot.png
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d -p "$work")" \
    --screenshot="$2" --window-size=1200,900 "file://$PWD/$1" >>chromium.log 2>&1 || { cat chromium.log >&2; fail "chromium on $1"; }
  [ -s "$2" ] || fail "chromium wrote no $2"
  [ "$(head -c 8 "$2" | od -An -tx1 | tr -d ' \n')" == "89504e470d0a1a0a" ] || fail "$2 is not a PNG"
}
echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>' >blank.html
start=$(date +%s.%N)
shoot attn.html attn.png
end=$(date +%s.%N)
shoot blank.html blank.png
map_bytes=$(stat -c %s attn.png) blank_bytes=$(stat -c %s blank.png)
echo "chromium: screenshot of the map in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s;" \
  "PNG $map_bytes bytes, blank page $blank_bytes bytes"
[ "$map_bytes" -ge $((2 * blank_bytes)) ] || fail "the screenshot looks blank: $map_bytes bytes vs $blank_bytes for a blank page"
