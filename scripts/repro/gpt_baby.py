#!/usr/bin/python3
"""Reproduction 1: nanoGPT's CPU recipe (configs/gpt-baby.json) on tinyshakespeare, qkv beside PyTorch.

    /usr/bin/python3 scripts/repro/gpt_baby.py [--data data/tinyshakespeare.txt] [--seeds 1337,1338,1339]
                                               [--qkv build/qkv] [--no-reference] [--no-qkv] [--threads N]
                                               [--precision fp32|bf16]

For each seed, qkv trains configs/gpt-baby.json (--set train.seed=S) and the PyTorch reference
(scripts/reference: the same GPT, nanoGPT's initialisation, torch.optim.AdamW with two parameter groups, warmup
100 then cosine 1e-3 -> 1e-4, clip 1.0, batch 12 of random windows of 64 from a torch.Generator seeded with S,
2,000 steps) trains the same recipe. Both report nanoGPT's estimate (mean loss of 20 random batches of the val
split, every 250 steps) and the loss over the whole val split: non-overlapping windows of 64 over the last 10%
of the characters (nanoGPT's data[int(n*0.9):]), the mean of the window losses, as `qkv eval` computes it.

--precision bf16 trains qkv with train.precision=bf16 and the reference under torch.autocast("cpu",
dtype=torch.bfloat16) (forward and loss, evaluations included), as a PyTorch user writes mixed precision; run
the script with another interpreter (a virtual environment's python) to time another PyTorch.

Passes when qkv's mean whole-split val loss is within 0.02 of the reference's mean over the same seeds (without
PyTorch there is nothing to check against). The mean of the 20-batch estimates is printed beside nanoGPT's
published 1.88, which is that estimate from one run: the whole split is a different measurement, and the
reference trained this way lands near 1.90 on it, so 1.88 is not a bound on the whole-split loss.
"""
import argparse
import math
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ROOT, fmt  # noqa: E402

PUBLISHED_VAL = 1.88  # nanoGPT README, CPU recipe, 2,000 iterations
NANOGPT_HERE = {"val": {250: 2.4447, 1000: 2.0528, 2000: 1.8857}, "train": {2000: 1.7648}, "seconds": 68.8}
EVAL_STEPS = (250, 1000, 2000)


# ---------------------------------------------------------------------------------------------- reference


def nanogpt_init(model, n_layer, torch):
    """nanoGPT's GPT._init_weights: N(0, 0.02) for Linear and Embedding weights, c_proj weights
    N(0, 0.02 / sqrt(2 n_layer)), zero biases, LayerNorm weights 1 (the tied head is wte)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in "." + name or name.startswith("transformer.ln_f"):
                p.fill_(0.0 if name.endswith("bias") else 1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                p.normal_(0.0, std)


def train_reference(config, text, seed, steps, torch, bf16=False):
    from reference import models, train_ref
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = len(data)
    train, val = data[: int(n * 0.9)], data[int(n * 0.9):]
    m, t = config["model"], config["train"]
    B, T = t["batch_size"], m["block_size"]
    torch.manual_seed(seed)
    model = models.GPT(models.ModelConfig(**dict(m, vocab_size=len(chars))))
    nanogpt_init(model, m["n_layer"], torch)
    resolved = {"optim": config["optim"], "train": dict(t, max_steps=steps), "model": m}
    optimizer = train_ref.make_optimizer(model, resolved["optim"])
    g = torch.Generator().manual_seed(seed)

    def batch(split, gen):
        ix = torch.randint(len(split) - T, (B,), generator=gen)
        return torch.stack([split[i:i + T] for i in ix]), torch.stack([split[i + 1:i + 1 + T] for i in ix])

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    def loss_of(model_, b):
        with autocast():
            return model_(b[0], b[1])[1]

    def estimate(step):
        model.eval()
        out = {}
        with torch.no_grad(), autocast():
            for name, split in (("train", train), ("val", val)):
                ge = torch.Generator().manual_seed(seed * 1000003 + step * 2 + (name == "val"))
                out[name] = sum(float(model(*batch(split, ge))[1]) for _ in range(t["eval_steps"])) / t["eval_steps"]
        model.train()
        return out

    evals, start = {}, time.time()
    model.train()
    for step in range(1, steps + 1):
        loss, _, _ = train_ref.train_step(model, optimizer, resolved, step, [batch(train, g)], loss_of)
        if step % t["eval_interval"] == 0 or step == steps:
            evals[step] = estimate(step)
            print(f"    step {step}: train loss {evals[step]['train']:.6f}, val loss {evals[step]['val']:.6f}",
                  flush=True)
    seconds = time.time() - start
    model.eval()
    with torch.no_grad(), autocast():  # the whole val split: non-overlapping windows of T, mean of window losses
        W = (len(val) - 1) // T
        x = val[: W * T].view(W, T)
        y = val[1: W * T + 1].view(W, T)
        total = 0.0
        for i in range(0, W, 256):
            logits, _ = model(x[i:i + 256])
            per = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), y[i:i + 256],
                                                    reduction="none").mean(1)
            total += float(per.double().sum())
    return {"evals": evals, "whole": total / W, "seconds": seconds, "tokens": W * T, "model": model}


def cross_check(qkv, model, config_file, val_file, workdir):
    """The reference's weights through `qkv import` and `qkv eval`: the whole-split loss measured by qkv's code."""
    from reference import safetensors_io
    os.makedirs(workdir, exist_ok=True)
    weights, ckpt = os.path.join(workdir, "reference.safetensors"), os.path.join(workdir, "reference.qkv")
    safetensors_io.write(weights, {k: v.detach().numpy() for k, v in model.state_dict().items()})
    common.run([qkv, "import", weights, "--config", config_file, "--out", ckpt])
    return common.qkv_eval(qkv, ckpt, val_file)["loss"]


# ---------------------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=common.SHAKESPEARE)
    ap.add_argument("--seeds", default="1337,1338,1339")
    ap.add_argument("--steps", type=int, default=2000, help="training steps (2000: the recipe; fewer: a smoke test)")
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "gpt-baby.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "gpt-baby"))
    ap.add_argument("--no-reference", action="store_true", help="skip the PyTorch reference")
    ap.add_argument("--no-qkv", action="store_true", help="skip qkv (reference only)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch threads (qkv uses all cores)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="qkv's train.precision, and autocast bf16 for the reference")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = os.path.abspath(args.data)
    if not os.path.exists(data):
        sys.exit(f"{data}: no such file (pass --data)")
    os.chdir(ROOT)
    qkv = common.check_qkv(args.qkv)
    config_file = os.path.join(args.out, "resolved-config.json")
    precision = [f"train.precision={args.precision}"]
    config, _ = common.resolved_config(qkv, args.config, ["data.train=" + data, f"train.max_steps={args.steps}"] +
                                       precision, args.out, save_as=config_file)
    with open(data, encoding="utf-8") as f:
        text = f.read()
    torch = None if args.no_reference else common.torch_or_none()
    if torch is not None:
        torch.set_num_threads(args.threads)
    elif not args.no_reference:
        print("PyTorch is not installed for this interpreter: the reference columns read 'not run'")

    val_file = os.path.join(args.out, "val-split.txt")
    with open(val_file, "w", encoding="utf-8") as f:
        f.write(text[int(len(text) * 0.9):])
    print(f"gpt-baby: {data} ({len(text)} characters; val split: the last {len(text) - int(len(text) * 0.9)} "
          f"characters in {val_file}); seeds {seeds}; {args.steps} steps")

    qkv_runs, ref_runs = {}, {}
    for seed in seeds:
        if not args.no_qkv:
            out_dir = os.path.join(args.out, f"seed{seed}")
            seconds = common.train(qkv, args.config, [f"train.seed={seed}", "data.train=" + data,
                                                      f"train.max_steps={args.steps}"] + precision, out_dir,
                                   f"qkv seed {seed}")
            _, ev = common.metrics(out_dir)
            whole = common.qkv_eval(qkv, os.path.join(out_dir, "ckpt.qkv"), val_file)
            qkv_runs[seed] = {"evals": {j["step"]: {"train": j["eval_train_loss"], "val": j["val_loss"]} for j in ev},
                              "whole": whole["loss"], "seconds": seconds, "tokens": whole["tokens"]}
            print(f"  qkv seed {seed}: whole-split val loss {whole['loss']:.4f} over {whole['tokens']} tokens")
        if torch is not None:
            print(f"  PyTorch reference seed {seed} ({torch.get_num_threads()} threads):", flush=True)
            r = train_reference(config, text, seed, args.steps, torch, bf16=args.precision == "bf16")
            ref_runs[seed] = r
            r["qkv_eval"] = cross_check(qkv, r.pop("model"), config_file, val_file, os.path.join(args.out, f"ref{seed}"))
            print(f"  PyTorch reference seed {seed}: whole-split val loss {r['whole']:.4f} over {r['tokens']} tokens "
                  f"(its weights through qkv import + qkv eval: {r['qkv_eval']:.4f}), {r['seconds']:.1f} s of training")

    def cell(runs, seed, step, key="val"):
        r = runs.get(seed)
        return fmt(r["evals"].get(step, {}).get(key)) if r else "not run"

    rows = []
    last = args.steps
    for seed in seeds:
        for step in [s for s in EVAL_STEPS if s < last] + [last]:
            pub = fmt(PUBLISHED_VAL, 2) if step == 2000 else ""
            issue = fmt(NANOGPT_HERE["val"].get(step)) if step in NANOGPT_HERE["val"] else ""
            rows.append([f"seed {seed}: val loss at {step} (20 batches)", pub, issue, cell(ref_runs, seed, step),
                         cell(qkv_runs, seed, step)])
        rows.append([f"seed {seed}: train loss at {last} (20 batches)", "",
                     fmt(NANOGPT_HERE["train"].get(last)) if last == 2000 else "", cell(ref_runs, seed, last, "train"),
                     cell(qkv_runs, seed, last, "train")])
        rows.append([f"seed {seed}: val loss, whole split", "", "",
                     fmt(ref_runs[seed]["whole"]) if seed in ref_runs else "not run",
                     fmt(qkv_runs[seed]["whole"]) if seed in qkv_runs else "not run"])
        rows.append([f"seed {seed}: wall time of training", "", f"{NANOGPT_HERE['seconds']} s" if last == 2000 else "",
                     f"{ref_runs[seed]['seconds']:.1f} s" if seed in ref_runs else "not run",
                     f"{qkv_runs[seed]['seconds']:.1f} s" if seed in qkv_runs else "not run"])
    mean = lambda runs, f: sum(f(r) for r in runs.values()) / len(runs) if runs else None
    ref_mean, qkv_mean = mean(ref_runs, lambda r: r["whole"]), mean(qkv_runs, lambda r: r["whole"])
    rows.append([f"mean over {len(seeds)} seeds: val loss at {last} (20 batches)",
                 fmt(PUBLISHED_VAL, 2) if last == 2000 else "", "",
                 fmt(mean(ref_runs, lambda r: r["evals"][last]["val"])), fmt(mean(qkv_runs, lambda r: r["evals"][last]["val"]))])
    rows.append([f"mean over {len(seeds)} seeds: val loss, whole split", "", "", fmt(ref_mean), fmt(qkv_mean)])
    common.table("nanoGPT's CPU recipe (gpt-baby): published | nanoGPT + PyTorch 1.13 on this kind of machine "
                 "(from the issue) | the PyTorch reference here | qkv here",
                 rows, header=("", "published", "nanoGPT here (issue)", "PyTorch reference here", "qkv here"))
    print(f"\nwhole-split val loss: {fmt(len(text) - int(len(text) * 0.9), 0)} characters, "
          f"{next(iter({**ref_runs, **qkv_runs}.values()))['tokens'] if ref_runs or qkv_runs else '-'} of them scored "
          f"(non-overlapping windows of 64)")
    common.print_commands()
    ok = True
    if qkv_mean is not None:
        est = mean(qkv_runs, lambda r: r["evals"][last]["val"])
        print(f"qkv's mean 20-batch val loss at step {last}: {est:.4f}, beside nanoGPT's published "
              f"{PUBLISHED_VAL:.2f} (one run; not a target)")
        if ref_mean is not None:
            ok &= common.verdict("gpt-baby against the PyTorch reference", abs(qkv_mean - ref_mean) <= 0.02,
                                 f"qkv's mean whole-split val loss {qkv_mean:.4f} - the reference's {ref_mean:.4f} = "
                                 f"{qkv_mean - ref_mean:+.4f} over {len(seeds)} seeds (need within 0.02)")
        else:
            print("gpt-baby: no PyTorch reference, so the target (within 0.02 of it) was not checked")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
