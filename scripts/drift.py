#!/usr/bin/python3
"""Determinism across thread counts: how far do 100 training steps on 1 and on 2 threads drift apart?

    /usr/bin/python3 scripts/drift.py [--qkv build/qkv] [--config configs/gpt-baby.json] [--steps 100]
                                     [--data PATH] [--out out/drift] [--tolerance 1e-4]

Trains CONFIG for STEPS steps four times with the same seed and log_interval 1: twice with train.threads=1 and
twice with train.threads=2. Our own kernels use fixed chunking and give the same bits on any thread count
(tests/core/test_threads.cpp); OpenBLAS's sgemm may split its work by thread count, so the 1- and 2-thread runs
may differ in the last bits and drift apart through training. Passes when the two runs with the same thread count
give identical losses at every step, and the largest relative difference between the 1- and 2-thread losses,
|l2 - l1| / |l1| over all steps, is under TOLERANCE. Standard library only.
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "repro"))
import common  # noqa: E402  (scripts/repro/common.py: the qkv binary, the corpus, metrics)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(args, data, threads, name):
    out = os.path.join(args.out, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    # No checkpoint or evaluation before the end: only the training steps matter here.
    cmd = [args.qkv, "train", args.config, "--set", f"train.max_steps={args.steps}", "--set", "train.log_interval=1",
           "--set", f"train.threads={threads}", "--set", f"train.ckpt_interval={args.steps}", "--set",
           f"train.eval_interval={args.steps}", "--set", f"train.out_dir={out}"]
    if data:
        cmd += ["--set", "data.train=" + data]
    print("drift:", " ".join(cmd))
    with open(os.path.join(out, "train.log"), "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"drift: qkv train exited {code} (see {out}/train.log)")
    loss = {j["step"]: j["train_loss"] for j in common.metrics(out)[0]}
    if sorted(loss) != list(range(1, args.steps + 1)):
        sys.exit(f"drift: {out}/metrics.jsonl does not hold a train loss for each of steps 1 to {args.steps}")
    return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "gpt-baby.json"))
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--data", default=None,
                    help="data.train (default: the config's; gpt-baby: data/tinyshakespeare.txt)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "drift"))
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    args.qkv = common.check_qkv(args.qkv)
    data = common.gpt_baby_data(args.config, args.data)

    one, one_again = train(args, data, 1, "t1"), train(args, data, 1, "t1-again")
    two, two_again = train(args, data, 2, "t2"), train(args, data, 2, "t2-again")
    ok = True
    for a, b, what in ((one, one_again, "1 thread"), (two, two_again, "2 threads")):
        differ = [s for s in a if a[s] != b[s]]
        verdict = f"identical losses at all {len(a)} steps" if not differ else \
            f"{len(differ)} steps differ, the first is step {differ[0]}"
        print(f"drift: two runs on {what}: {verdict}")
        ok &= not differ
    rel = {s: abs(two[s] - one[s]) / abs(one[s]) for s in one}
    worst = max(rel, key=lambda s: rel[s])
    bitwise = sum(1 for s in one if one[s] == two[s])
    first = min((s for s in one if one[s] != two[s]), default=None)
    print(f"drift: 1 vs 2 threads: {bitwise} of {len(one)} steps give bitwise the same loss"
          f"{'' if first is None else f' (the first to differ: step {first})'}")
    print(f"drift: largest relative difference {rel[worst]:.3e} at step {worst} "
          f"({one[worst]!r} vs {two[worst]!r}); at step {args.steps}: {rel[args.steps]:.3e}")
    for s in (1, 10, 25, 50, 75, args.steps):
        if s in rel:
            print(f"  step {s:4d}: 1 thread {one[s]:.9f}  2 threads {two[s]:.9f}  relative {rel[s]:.3e}")
    ok &= rel[worst] < args.tolerance
    print(("PASS" if ok else "FAIL") + f" drift: same-thread runs identical; 1 vs 2 threads at most "
          f"{rel[worst]:.3e} relative (need < {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
