#!/usr/bin/env python3
"""Data-parallel scaling on this machine and the communication model for several machines.

    python3 scripts/mpi_scaling.py [--qkv build-mpi/qkv] [--steps 20] [--data PATH] [--out out/mpi-scaling]

1. The gpt-shakespeare-char shape (configs/gpt-shakespeare-char.json, global batch 16 of 256 tokens) trained
   for --steps steps as 1 rank x 2 threads (batch 16) and as 2 ranks x 1 thread (`mpirun --bind-to none`,
   batch 8 each), one after the other: median tokens/s over the logged steps (the first 3 left out) and the
   time in the gradient allreduce per step (metrics.jsonl's allreduce_s).
2. For each reference config: the gradient bytes one allreduce sends (4 bytes x parameters, from `qkv init`)
   and the ring allreduce time 2 (N - 1) / N x bytes / bandwidth for N machines on 10 and 100 Gbit/s links.
Needs a QKV_MPI build and Open MPI's mpirun. Run it on an idle machine: 2-thread runs suffer from any other job.
"""
import argparse
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "repro"))
import common  # noqa: E402  (scripts/repro/common.py: the qkv binary, the corpus, metrics)
from common import ROOT  # noqa: E402

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}
CONFIGS = ["gpt-baby", "default", "gpt-shakespeare-char", "encoder-mlm", "seq2seq-copy", "seq2seq-de-en"]


def run_case(qkv, ranks, threads, batch, steps, data, out_dir):
    cmd = [qkv, "train", os.path.join(ROOT, "configs", "gpt-shakespeare-char.json"), "--set", "data.train=" + data,
           "--set", f"train.batch_size={batch}", "--set", f"train.max_steps={steps}", "--set", "train.log_interval=1",
           "--set", "train.eval_steps=1", "--set", f"train.eval_interval={steps}",
           "--set", f"train.ckpt_interval={steps}", "--set", f"train.threads={threads}",
           "--set", "train.out_dir=" + out_dir, "--overwrite"]  # a rerun measures a new run
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] + cmd
    os.environ.update(MPI_ENV)
    common.run(cmd, nice=False)
    lines, _ = common.metrics(out_dir)
    tps = statistics.median(j["tokens_per_s"] for j in lines[3:])
    allreduce_ms = 1000.0 * lines[-1].get("allreduce_s", 0.0) / len(lines)
    return tps, allreduce_ms


def params_of(qkv, name, workdir):
    config = os.path.join(ROOT, "configs", name + ".json")
    data = json.load(open(config))["data"]["train"]
    if "shakespeare" in name or name == "gpt-baby":
        data = common.SHAKESPEARE
    ckpt = os.path.join(workdir, name + ".qkv")
    common.run([qkv, "init", config, "--set", "data.train=" + data, "--out", ckpt])
    out, _ = common.run([qkv, "info", ckpt, "--json"])
    return json.loads(out)["params"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=os.path.join(ROOT, "build-mpi", "qkv"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--data", default=common.SHAKESPEARE)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "mpi-scaling"))
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    os.chdir(ROOT)  # the configs name their data relative to the checkout
    os.makedirs(args.out, exist_ok=True)

    print(f"1. gpt-shakespeare-char shape, global batch 16 x 256 tokens, {args.steps} steps")
    one, _ = run_case(qkv, 1, 2, 16, args.steps, args.data, os.path.join(args.out, "1x2"))
    two, ms = run_case(qkv, 2, 1, 8, args.steps, args.data, os.path.join(args.out, "2x1"))
    print("| layout | tokens/s (median) | vs 1 x 2 | allreduce ms/step |\n|---|---|---|---|")
    print(f"| 1 rank x 2 threads | {one:,.0f} | 1.00x | - |")
    print(f"| 2 ranks x 1 thread | {two:,.0f} | {two / one:.2f}x | {ms:.1f} |")

    print("\n2. Gradient bytes per step and ring-allreduce time, 2 (N - 1) / N x bytes / bandwidth")
    print("| config | parameters | bytes per allreduce | N = 2, 10 Gbit/s | N = 8, 10 Gbit/s | N = 2, 100 Gbit/s "
          "| N = 8, 100 Gbit/s |\n|---|---|---|---|---|---|---|")
    for name in CONFIGS:
        n = params_of(qkv, name, args.out)
        nbytes = 4 * n
        cells = []
        for gbit in (10, 100):
            for N in (2, 8):
                cells.append(1000.0 * 2 * (N - 1) / N * nbytes / (gbit * 1e9 / 8))
        print(f"| {name} | {n:,} | {nbytes / 1e6:.1f} MB | {cells[0]:.1f} ms | {cells[1]:.1f} ms | {cells[2]:.2f} ms "
              f"| {cells[3]:.2f} ms |")
    common.print_commands()


if __name__ == "__main__":
    main()
