# Shared by the CLI tests: `source common.sh path/to/qkv` sets $qkv, moves into a fresh temporary folder that is
# removed on exit, and defines fail and expect_exit.
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
