#!/usr/bin/python3
"""Resident memory over a long training run: does it stay flat after warm-up?

    /usr/bin/python3 scripts/rss_watch.py [--qkv build/qkv] [--config configs/gpt-baby.json] [--steps 2000]
                                          [--data PATH] [--out out/rss] [--set KEY=VALUE]

Runs `qkv train CONFIG` (evaluations and checkpoints as the config says) and samples the process's VmRSS
from /proc every 0.2 s. After warm-up (the first quarter of the wall time, which holds the first evaluation and
checkpoint of gpt-baby), the median RSS up to five eighths of the run is compared with the median of the rest
(without the last second: the final saves and the exit): a leak raises that level, while a save or an
evaluation only adds a sample or two above it, which the script reports as the highest sample. Passes when the
growth is under 1%. Writes the samples to OUT/rss.tsv (seconds, MB). Linux only
(reads /proc). Standard library only.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "repro"))
import common  # noqa: E402  (scripts/repro/common.py: the qkv binary, the corpus, metrics)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "gpt-baby.json"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--data", default=None,
                    help="data.train (default: the config's; gpt-baby: data/tinyshakespeare.txt)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "rss"))
    ap.add_argument("--set", action="append", default=[], help="extra qkv --set overrides (e.g. train.threads=1)")
    ap.add_argument("--warmup-fraction", type=float, default=0.25, help="share of the wall time counted as warm-up")
    args = ap.parse_args()
    args.qkv = common.check_qkv(args.qkv)
    data = common.gpt_baby_data(args.config, args.data)
    os.makedirs(args.out, exist_ok=True)
    cmd = [args.qkv, "train", args.config, "--set", f"train.max_steps={args.steps}", "--set",
           f"train.out_dir={args.out}", "--overwrite"]  # a rerun measures a new run
    if data:
        cmd += ["--set", "data.train=" + data]
    for kv in args.set:
        cmd += ["--set", kv]
    print("rss_watch:", " ".join(cmd))
    start = time.time()
    samples = []
    with open(os.path.join(args.out, "train.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            mb = rss_mb(proc.pid)
            if mb is not None:
                samples.append((time.time() - start, mb))
            time.sleep(0.2)
    if proc.returncode != 0:
        sys.exit(f"rss_watch: qkv train exited {proc.returncode} (see {args.out}/train.log)")
    with open(os.path.join(args.out, "rss.tsv"), "w") as f:
        f.write("seconds\trss_mb\n")
        for t, mb in samples:
            f.write(f"{t:.2f}\t{mb:.1f}\n")
    total = samples[-1][0]
    w = args.warmup_fraction
    # A leak shows as a level that keeps rising; a save or an evaluation shows as a sample or two above the level
    # (buffers the system allocator hands back at once). Medians compare the levels; the peaks are reported.
    middle = [mb for t, mb in samples if w * total < t <= (w + 1) / 2 * total]
    late = [mb for t, mb in samples if (w + 1) / 2 * total < t <= total - 1.0]
    if not middle or not late:
        sys.exit("rss_watch: the run was too short to sample (use more steps)")
    base, end = statistics.median(middle), statistics.median(late)
    growth = (end - base) / base
    peak = max(mb for _, mb in samples)
    print(f"samples {len(samples)} over {total:.1f} s; median RSS after warm-up {base:.1f} MB, over the last part "
          f"{end:.1f} MB: growth {100 * growth:+.2f}%; highest sample {peak:.1f} MB (saves, evaluation, exit)")
    ok = growth < 0.01
    print(("PASS" if ok else "FAIL") + f" RSS flat after warm-up: growth {100 * growth:+.2f}% (need < 1%)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
