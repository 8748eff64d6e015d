# Shared by the CLI tests: `source common.sh path/to/qkv` sets $qkv, moves into a fresh temporary folder that is
# removed on exit, and defines fail, expect_exit and write_story_and_gpt_config.
qkv=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }
# The braces' 2>/dev/null keeps bash's own "Killed" notice out of the log when a command dies by a signal.
expect_exit() { # expected-code description command...   (stdout to out.txt, stderr to err.txt)
  local want=$1 what=$2; shift 2
  set +e; { "$@" >out.txt 2>err.txt; } 2>/dev/null; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat err.txt >&2; fail "$what: exit $got, expected $want"; }
}
# story.txt (300 lines of a small story) and gpt.json (a one-layer GPT on it for 60 steps into gpt/).
write_story_and_gpt_config() {
  for i in $(seq 300); do echo "the cat sat on the mat and the dog ate the bone. a bird sang."; done >story.txt
  cat >gpt.json <<'JSON'
{"model": {"kind": "gpt", "n_layer": 1, "n_head": 2, "d_model": 32, "block_size": 32},
 "data": {"train": "story.txt"}, "optim": {"lr": 3e-3, "warmup_steps": 10},
 "train": {"batch_size": 8, "max_steps": 60, "eval_interval": 30, "eval_steps": 4, "out_dir": "gpt", "threads": 1}}
JSON
}
