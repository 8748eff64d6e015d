#!/usr/bin/python3
"""The attention lab, quality for cost: the Austen GPT (configs/default.json) trained for the same wall time with
full, local and linear attention; validation loss beside tokens/s.

    /usr/bin/python3 scripts/repro/attention_quality.py [--seconds 120] [--window 32] [--qkv build/qkv]
                                                        [--out out/repro/attention-variants/quality]

Each variant first trains 40 steps to measure its seconds per step, then trains from scratch for the number of
steps that fills --seconds (the cosine schedule ends there, so each run completes its own schedule). Reported per
variant: steps, wall time, median tokens/s, the 20-batch validation estimate and the loss over the whole
validation split (`qkv eval` on the last 10% of data/austen.txt). The window of local attention is --window
(the config's block is 128, so the issue's W = 128 would equal full attention here). A measurement: no target.
"""
import argparse
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ROOT, fmt  # noqa: E402

CALIBRATE_STEPS = 40


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "default.json"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "austen.txt"))
    ap.add_argument("--seconds", type=float, default=120.0, help="training wall time per variant")
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "attention-variants", "quality"))
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    if not os.path.exists(args.corpus):
        sys.exit(f"{args.corpus}: missing (run scripts/get_corpus.sh)")
    os.chdir(ROOT)
    base = ["data.train=" + os.path.abspath(args.corpus), f"model.window={args.window}"]
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    val_file = os.path.join(args.out, "austen-val.txt")
    os.makedirs(args.out, exist_ok=True)
    with open(val_file, "w", encoding="utf-8") as f:
        f.write(text[int(len(text) * 0.9):])

    rows = []
    for kind in ("full", "local", "linear"):
        sets = base + [f"model.attention={kind}"]
        cal_dir = os.path.join(args.out, kind + "-calibrate")
        common.train(qkv, args.config, sets + [f"train.max_steps={CALIBRATE_STEPS}", "train.eval_interval=1000000",
                                               "train.eval_steps=1"], cal_dir, f"{kind}: calibrate")
        lines, _ = common.metrics(cal_dir)
        first, last = lines[0], lines[-1]  # from the first logged step on: no start-up cost
        per_step = (last["elapsed_s"] - first["elapsed_s"]) / (last["step"] - first["step"])
        steps = max(100, int(args.seconds / per_step) // 10 * 10)
        run_dir = os.path.join(args.out, kind)
        seconds = common.train(qkv, args.config, sets + [f"train.max_steps={steps}", f"train.eval_interval={steps}",
                                                         f"train.ckpt_interval={steps}"], run_dir, f"{kind}: train")
        lines, evals = common.metrics(run_dir)
        tps = statistics.median(j["tokens_per_s"] for j in lines[1:])
        whole = common.qkv_eval(qkv, os.path.join(run_dir, "ckpt.qkv"), val_file)
        label = kind + (f" (window {args.window})" if kind == "local" else "")
        rows.append([label, str(steps), f"{seconds:.0f} s", f"{tps:,.0f}", fmt(evals[-1]["val_loss"]),
                     fmt(whole["loss"])])
    common.table(f"Austen GPT ({os.path.relpath(args.config, ROOT)}), about {args.seconds:.0f} s of training per "
                 "attention kind", rows,
                 header=("attention", "steps", "wall time", "tokens/s", "val loss (20 batches)", "val loss (whole split)"))
    common.print_commands()
    return 0


if __name__ == "__main__":
    sys.exit(main())
