#!/usr/bin/python3
"""Reproduction 2: the Annotated Transformer's copy task.

    /usr/bin/python3 scripts/repro/copy_task.py [--qkv build/qkv] [--out out/repro/copy] [--seed 1337]
                                                [--steps 1200] [--skip-train] [--no-reference] [--no-qkv]

Trains configs/seq2seq-copy.json on data/copy.tsv (scripts/make_copy_data.sh: 32,000 random length-10
sequences over a-j, so that, as in the original's freshly drawn batches, almost no sequence is seen twice;
batch 80, Noam schedule with factor 0.5 and warmup 400). The recipe is 60 epochs of 20 batches: 1,200 steps
(issue 24). The Annotated Transformer's own 20 epochs (400 steps) leave both frameworks short of 99% on our
task, which is harder than the original's (all 10 symbols are random, where the original fixes the first to
1), and at 400 steps the count moves a lot from run to run. The run still stops at step 400 (--stop-at, a
saved checkpoint) so that the published step count is decoded too: greedy decoding of 1,000 held-out random
sequences (drawn with another seed, none in the training file) with `qkv translate`, counting the exact
copies; then it resumes the same run to --steps (default 1200; the Noam rate does not depend on the step
budget, so the first 400 steps are the same either way) and decodes again. When PyTorch is installed, the
reference Seq2Seq (seq2seq_reference.py) trains the same recipe on the same training lines, is saved at both
step counts and is decoded the same way. Passes when qkv's run copies >= 99% exactly after --steps.
--no-reference and --no-qkv split the two trainings so that they can run side by side (one thread each:
--set train.threads=1 and OMP_NUM_THREADS=1); a last run with --skip-train decodes and judges both.
Published (the Annotated Transformer, greedy_decode after training): a correct copy of 1..10.
"""
import argparse
import math
import os
import random
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import seq2seq_reference  # noqa: E402
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


def train_reference(qkv, args, overrides, copy_tsv, recipe, seconds):
    """The reference's checkpoints {steps: path} after the recipe and after --steps, trained unless --skip-train
    finds them; {} without PyTorch or with --no-reference."""
    workdir = os.path.join(args.out, "ref")
    saved = {recipe: os.path.join(workdir, f"reference-{recipe}.qkv"),
             args.steps: os.path.join(workdir, "reference.qkv")}
    if args.skip_train and all(os.path.exists(p) for p in saved.values()):
        return saved
    torch = None if args.no_reference else common.torch_or_none()
    if torch is None:
        return {}
    config_file = os.path.join(workdir, "resolved-config.json")
    config, init_ckpt = common.resolved_config(qkv, args.config, overrides, os.path.join(workdir, "init"),
                                               save_as=config_file)
    # The lines qkv trains on: train/task.cpp split_lines puts line i in val when floor((i + 1) f) > floor(i f).
    f = config["data"]["val_fraction"]
    with open(copy_tsv) as src:
        lines = [line for line in src if line.strip()]
    train_tsv = os.path.join(workdir, "train.tsv")
    with open(train_tsv, "w") as out:
        out.writelines(line for i, line in enumerate(lines) if math.floor((i + 1) * f) == math.floor(i * f))
    print(f"  PyTorch reference ({torch.get_num_threads()} threads):", flush=True)
    saved, took = seq2seq_reference.train(qkv, config, config_file, init_ckpt, train_tsv, args.steps, args.seed,
                                          workdir, torch, save_at=(recipe,), log_every=100)
    for steps, s in took.items():
        seconds[("reference", steps)] = s
    return saved


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "seq2seq-copy.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "copy"))
    ap.add_argument("--seed", type=int, default=1337, help="train.seed")
    ap.add_argument("--n", type=int, default=1000, help="held-out sequences")
    ap.add_argument("--steps", type=int, default=1200, help="steps of the longer run (the recipe is 400)")
    ap.add_argument("--skip-train", action="store_true",
                    help="reuse OUT/ckpt-400.qkv and OUT/ckpt.qkv (and the reference's, when present)")
    ap.add_argument("--no-reference", action="store_true", help="do not train the PyTorch reference")
    ap.add_argument("--no-qkv", action="store_true", help="do not train or decode qkv (the reference only)")
    ap.add_argument("--set", action="append", default=[], help="extra qkv --set overrides (smoke tests)")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    os.chdir(ROOT)
    copy_tsv = os.path.join(ROOT, "data", "copy.tsv")
    common.run([os.path.join(ROOT, "scripts", "make_copy_data.sh")], nice=False)  # deterministic, a second
    with open(copy_tsv) as f:
        train_pairs = [line.split("\t")[0] for line in f if line.strip()]
    recipe = 400  # the Annotated Transformer's 20 epochs x 20 batches, decoded on the way

    print("copy task (the Annotated Transformer):")
    seconds = {}
    ckpt, ckpt_recipe = os.path.join(args.out, "ckpt.qkv"), os.path.join(args.out, f"ckpt-{recipe}.qkv")
    overrides = [f"train.seed={args.seed}", "data.train=" + copy_tsv, f"train.max_steps={args.steps}"] + args.set
    os.makedirs(args.out, exist_ok=True)
    if not args.skip_train and not args.no_qkv:
        cmd = [qkv, "train", args.config] + [x for kv in overrides for x in ("--set", kv)]
        cmd += ["--set", "train.out_dir=" + args.out, "--stop-at", str(recipe), "--overwrite"]  # a rerun starts over
        print(f"  qkv train to step {recipe}: {common.show(cmd)}", flush=True)
        _, seconds[("qkv", recipe)] = common.run(cmd, log=os.path.join(args.out, "train.log"))
        shutil.copyfile(ckpt, ckpt_recipe)
        cmd = [qkv, "train", "--resume", ckpt]
        print(f"  qkv train, resumed to step {args.steps}: {common.show(cmd)}", flush=True)
        _, rest = common.run(cmd, log=os.path.join(args.out, "train-resumed.log"))
        seconds[("qkv", args.steps)] = seconds[("qkv", recipe)] + rest
    evals, ckpts = [], {}
    if not args.no_qkv:
        _, evals = common.metrics(args.out)
        ckpts["qkv"] = {recipe: ckpt_recipe, args.steps: ckpt}
    reference = train_reference(qkv, args, overrides, copy_tsv, recipe, seconds)
    if reference:
        ckpts["reference"] = reference

    sources = held_out(args.n, train_pairs)
    src_file = os.path.join(args.out, "held-out.src")
    with open(src_file, "w") as f:
        f.write("\n".join(sources) + "\n")
    results = {}
    for who, paths in ckpts.items():
        for steps, path in paths.items():
            start = time.time()
            out, _ = common.run([qkv, "translate", path], stdin=(src_file, "\n".join(sources) + "\n"))
            hyps = out.split("\n")[: len(sources)]
            demo, _ = common.run([qkv, "translate", path], stdin=("<(echo abcdefghij)", "abcdefghij\n"))
            results[(who, steps)] = dict(right=sum(h == s for h, s in zip(hyps, sources)),
                                         decode_s=time.time() - start, demo=demo.strip(),
                                         wrong=[(s, h) for h, s in zip(hyps, sources) if h != s])

    def cell(who, steps, what):
        r = results.get((who, steps))
        if r is None:
            return "not run"
        if what == "val":
            return fmt(common.eval_at(evals, steps)) if who == "qkv" else ""
        if what == "demo":
            return f"abcdefghij -> {r['demo']}"
        if what == "right":
            return f"{r['right']}/{len(sources)} ({100 * r['right'] / len(sources):.1f}%)"
        if what == "wall":
            return "reused" if (who, steps) not in seconds else f"{seconds[(who, steps)]:.1f} s"
        return f"{r['decode_s']:.1f} s"

    rows = []
    for steps in (recipe, args.steps):
        label = f"{steps} steps ({steps // 20} epochs of 20 batches of 80)"
        for what, name, published in (
                ("val", "val loss (5 batches)", ""),
                ("demo", "copy of the ordered sequence", "1..10 -> 1..10 (correct)" if steps == recipe else ""),
                ("right", f"exact copies of {len(sources)} held-out",
                 ">= 99% (target)" if steps == args.steps else ""),
                ("wall", "training wall time (cumulative)", ""),
                ("decode", f"decoding wall time ({len(sources)} greedy)", "")):
            rows.append([f"{label}: {name}", published, cell("reference", steps, what), cell("qkv", steps, what)])
    common.table("copy task: greedy decoding after training", rows)
    for (who, steps), r in results.items():
        for s_, h in r["wrong"][:3]:
            print(f"  {who} wrong after {steps} steps: {s_} -> {h}")
    common.print_commands()
    if args.no_qkv:
        return 0
    acc = results[("qkv", args.steps)]["right"] / len(sources)
    ok = common.verdict("copy task", acc >= 0.99,
                        f"{100 * acc:.1f}% exact copies after {args.steps} steps (need >= 99%); "
                        f"{100 * results[('qkv', recipe)]['right'] / len(sources):.1f}% after the published {recipe}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
