#!/usr/bin/python3
"""Reproduction 2: the Annotated Transformer's copy task.

    /usr/bin/python3 scripts/repro/copy_task.py [--qkv build/qkv] [--out out/repro/copy] [--seed 1337]
                                                [--skip-train]

Trains configs/seq2seq-copy.json (data/copy.tsv from scripts/make_copy_data.sh: 32,000 random length-10
sequences over a-j, so that, as in the original's freshly drawn batches, almost no sequence is seen twice; 400 steps of batch 80, as the Annotated Transformer's 20 epochs of 20 batches of 80; Noam schedule,
factor 0.5, warmup 400), then greedy-decodes 1,000 held-out random sequences (drawn with another seed, none
of them in the training file) with `qkv translate` and counts the exact copies. Passes at >= 99%.
Published (the Annotated Transformer, greedy_decode after training): a correct copy of 1..10.
"""
import argparse
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ROOT, fmt  # noqa: E402

HELD_OUT_SEED = 20240601  # not make_copy_data.sh's 20171206
SYMBOLS = "abcdefghij"


def held_out(n, train_pairs):
    rng = random.Random(HELD_OUT_SEED)
    seen, out = set(train_pairs), []
    while len(out) < n:
        s = "".join(rng.choice(SYMBOLS) for _ in range(10))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "seq2seq-copy.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "copy"))
    ap.add_argument("--seed", type=int, default=1337, help="train.seed")
    ap.add_argument("--n", type=int, default=1000, help="held-out sequences")
    ap.add_argument("--skip-train", action="store_true", help="reuse OUT/ckpt.qkv")
    ap.add_argument("--set", action="append", default=[], help="extra qkv --set overrides (smoke tests)")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    os.chdir(ROOT)
    copy_tsv = os.path.join(ROOT, "data", "copy.tsv")
    common.run([os.path.join(ROOT, "scripts", "make_copy_data.sh")], nice=False)  # deterministic, a second
    with open(copy_tsv) as f:
        train_pairs = [line.split("\t")[0] for line in f if line.strip()]

    print("copy task (the Annotated Transformer):")
    seconds = None
    ckpt = os.path.join(args.out, "ckpt.qkv")
    if not args.skip_train:
        seconds = common.train(qkv, args.config, [f"train.seed={args.seed}", "data.train=" + copy_tsv] + args.set,
                               args.out, "qkv train")
    _, evals = common.metrics(args.out)
    last = evals[-1]

    sources = held_out(args.n, train_pairs)
    src_file = os.path.join(args.out, "held-out.src")
    with open(src_file, "w") as f:
        f.write("\n".join(sources) + "\n")
    start = time.time()
    out, _ = common.run([qkv, "translate", ckpt], stdin=(src_file, "\n".join(sources) + "\n"))
    decode_s = time.time() - start
    hyps = out.split("\n")[: len(sources)]
    right = sum(h == s for h, s in zip(hyps, sources))
    wrong = [(s, h) for h, s in zip(hyps, sources) if h != s]
    acc = right / len(sources)
    demo, _ = common.run([qkv, "translate", ckpt], stdin=("<(echo abcdefghij)", "abcdefghij\n"))
    demo = demo.strip()

    common.table("copy task: greedy decoding after training", [
        ["training", "20 epochs x 20 batches of 80", "not run", f"{last['step']} steps of 80 (seed {args.seed})"],
        ["final val loss (label-smoothed 0, 5 batches)", "", "not run", fmt(last["val_loss"])],
        ["copy of the ordered sequence", "1..10 -> 1..10 (correct)", "not run", f"abcdefghij -> {demo}"],
        [f"exact copies of {len(sources)} held-out sequences", "", "not run",
         f"{right}/{len(sources)} ({100 * acc:.1f}%)"],
        ["training wall time", "", "not run", "reused" if seconds is None else f"{seconds:.1f} s"],
        ["decoding wall time (1,000 greedy)", "", "not run", f"{decode_s:.1f} s"],
    ])
    for s, h in wrong[:5]:
        print(f"  wrong: {s} -> {h}")
    common.print_commands()
    ok = common.verdict("copy task", acc >= 0.99, f"{100 * acc:.1f}% exact copies (need >= 99%)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
