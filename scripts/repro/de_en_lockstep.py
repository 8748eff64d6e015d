#!/usr/bin/python3
"""English-German, qkv and the PyTorch reference in lockstep: the same initial weights, the same batches, the
two training losses compared step by step until they part.

    /usr/bin/python3 scripts/repro/de_en_lockstep.py [--steps 200] [--variants full,dropout,...] [--seed 1337]
                                                     [--control f64|perturb] [--mask-test K [--mask-first S]]
                                                     [--reuse] [--qkv build/qkv] [--out out/repro/de-en-lockstep]

de_en.py trains each model from its own initial weights, on its own batch order and with its own dropout masks,
so a gap in BLEU may be chance or a difference in the training. This script removes the chance where it can:

1. The data split of de_en.py (the same 500 test and 500 dev pairs, the rest for training).
2. For each variant (the EN-DE recipe with some --set overrides): `qkv init` writes the initial checkpoint,
   `qkv export` its weights, which the reference loads strictly (so both start from qkv's weights, biases 0).
3. `qkv step --steps N` makes N updates exactly as `qkv train` does and writes every step's batch (src, tgt_in,
   targets: qkv's length-bucketed batches, padding included), the first step's logits and gradients, and the N
   losses. The reference (scripts/reference Seq2Seq, train_ref.train_step: torch.optim.Adam, the schedule,
   clipping) replays the same N batches and its losses are compared with qkv's.

The variants turn the recipe's features on one at a time from a plain start (dropout 0, no label smoothing, a
constant rate, batch 1 so no padding): +smoothing, +noam, +padding (batch 64), then the whole recipe with
dropout 0 (full) and with its dropout 0.1 (dropout). With dropout 0 the two losses must agree to float rounding
until the trajectories drift apart (Adam amplifies rounding); with dropout each draws its own masks, so only the
mean loss over the steps can be compared (the per-step differences give its standard error).

Float32 rounding differs between any two implementations, and Adam amplifies it, so the losses part sooner or
later. --control f64 replays the reference a second time in double precision: where both float32 runs leave the
double one at about the same step, their parting is rounding, not a difference in what they compute.
--control perturb instead starts the reference from weights changed by float rounding.

--mask-test K compares the dropout path at fixed weights (the reference's after the variant full): for K qkv
seeds, qkv's loss of the seed's first batch under its one dropout mask (`qkv import` with train.seed set, then
`qkv step --steps 1`) beside the reference's mean over 20 masks of the same batch; with the same sites, rates and
scaling the mean difference is 0 within its standard error.
"""
import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # scripts/: parity.py's helpers and the reference package
import common  # noqa: E402
import de_en  # noqa: E402
from common import ROOT  # noqa: E402

PLAIN = ["model.dropout=0", "optim.label_smoothing=0", "optim.schedule=constant", "optim.lr=0.0005",
         "train.batch_size=1"]
# name: (overrides on the recipe, what it adds). Later overrides win, so each variant is PLAIN with one change.
VARIANTS = {
    "plain": (PLAIN, "dropout 0, smoothing 0, constant lr 5e-4, batch 1 (no padding)"),
    "smoothing": (PLAIN + ["optim.label_smoothing=0.1"], "plain + label smoothing 0.1"),
    "noam": (PLAIN + ["optim.schedule=noam", "optim.lr=1.0"], "plain + the Noam schedule (factor 1, warmup 1000)"),
    "padding": (PLAIN + ["train.batch_size=64"], "plain + batch 64 (padded, length-bucketed)"),
    "full": (["model.dropout=0"], "the recipe with dropout 0 (smoothing 0.1, Noam, batch 64)"),
    "dropout": ([], "the recipe as trained (dropout 0.1): each side its own masks"),
}
SHOW = (1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 500, 1000)


def replay(step_file, steps, seed, torch, control=None):
    """The reference's losses on qkv's batches from qkv's initial weights, and the first step's largest logit and
    gradient differences. Writes the reference's final weights to after.safetensors beside step_file. control
    (nothing is written): "f64", the same replay in double precision, the float32 runs' common yardstick; or
    "perturb", every initial weight w becomes w (1 + 2^-23 z), z ~ N(0, 1), a change of the size of float
    rounding, to show how fast rounding alone parts two runs of the same code."""
    import numpy as np
    import parity
    from reference import safetensors_io, train_ref
    s, meta = safetensors_io.read(step_file)
    config = json.loads(meta["qkv.config"])  # the resolved config `qkv step` ran with
    d = os.path.dirname(step_file)
    model, _, _, init_meta = parity.load_reference(os.path.join(d, "init.safetensors"))
    if control == "f64":
        model.double()
    if control == "perturb":
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1 + 2.0 ** -23 * torch.randn(p.shape, generator=g))
    model.train()
    torch.manual_seed(seed)  # the reference's dropout masks (variant "dropout")
    optimizer = train_ref.make_optimizer(model, config["optim"])
    captured, grads, losses = [], {}, []

    def record_grads():
        grads.update({n: p.grad.detach().clone() for n, p in model.named_parameters()})

    loss_of = parity.loss_function("seq2seq", captured)
    for step in range(1, steps + 1):
        loss, _, _ = train_ref.train_step(model, optimizer, config, step, parity.step_batches(s, step, 1), loss_of,
                                          record_grads if step == 1 else None)
        losses.append(loss)
        if step == 1:
            logits_diff = parity.max_diff(s["logits"], captured[0].numpy())
        captured.clear()
    if control is None:
        safetensors_io.write(os.path.join(d, "after.safetensors"),
                             {k: v.detach().numpy() for k, v in model.state_dict().items()}, init_meta)
    grad_diff = max(parity.max_diff(s["grad." + n], g.numpy()) for n, g in grads.items())
    grad_max = max(float(np.abs(g.numpy()).max()) for g in grads.values())
    return [float(x) for x in s["loss"]], losses, logits_diff, grad_diff, grad_max


def parting(d):
    """When the differences d (step 1 first) first exceed 1e-4, 1e-3 and 1e-2."""
    first = {tol: next((i + 1 for i, x in enumerate(d) if abs(x) > tol), None) for tol in (1e-4, 1e-3, 1e-2)}
    return ", ".join(f"|diff| > {tol:g} first at step {first[tol]}" if first[tol] else f"|diff| <= {tol:g} throughout"
                     for tol in first)


def compare(name, what, q, r, logits_diff, grad_diff, grad_max, control=None, kind=""):
    """Prints the step-by-step table and returns a summary line. control: the control replay's losses (kind: its
    name)."""
    d = [a - b for a, b in zip(q, r)]
    print(f"\n{name}: {what}")
    print(f"  step 1: logits max |diff| {logits_diff:.2e}, gradients max |diff| {grad_diff:.2e} (largest |g| "
          f"{grad_max:.3g})")
    extra = f" qkv - {kind} | reference - {kind} |" if control else ""
    print("  | step | qkv loss | reference loss | qkv - reference |" + extra)
    print("  |---|---|---|---|" + ("---|---|" if control else ""))
    for step in [s for s in SHOW if s <= len(q)] + ([len(q)] if len(q) not in SHOW else []):
        c = control[step - 1] if control else 0.0
        cell = f" {q[step - 1] - c:+.2e} | {r[step - 1] - c:+.2e} |" if control else ""
        print(f"  | {step} | {q[step - 1]:.6f} | {r[step - 1]:.6f} | {d[step - 1]:+.2e} |" + cell)
    parts = parting(d)
    if control:
        own = parting([a - b for a, b in zip(r, control)])
        theirs = parting([a - b for a, b in zip(q, control)])
        print(f"  against the control ({kind}): qkv {theirs}; the reference {own}")
        parts += f" (against {kind}: qkv {theirs}; the reference {own})"
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else 0.0
    windows = []
    for a in range(0, n, 50):  # 50-step means: the level of each curve, for the dropout variant
        w = slice(a, min(n, a + 50))
        windows.append(f"{a + 1}-{w.stop}: {sum(q[w]) / len(q[w]):.4f} vs {sum(r[w]) / len(r[w]):.4f}")
    print(f"  {parts}; max |diff| {max(abs(x) for x in d):.2e}")
    print(f"  mean qkv - reference over {n} steps {mean:+.4f} (standard error {sd / math.sqrt(n):.4f})")
    print("  50-step means, qkv vs reference: " + "; ".join(windows))
    return f"{name}: {parts}; mean diff {mean:+.4f} +- {sd / math.sqrt(n):.4f} (s.e.)"


def mask_test(qkv, out, weights_dir, seeds, masks, torch):
    """Dropout at fixed weights (WEIGHTS_DIR/after.safetensors, the reference after the dropout-0 replay): with the
    same sites, rates and scaling, the mean loss under dropout 0.1 is the same in both. For each qkv seed (its
    masks and its first batch), `qkv step --steps 1` of the weights gives qkv's loss under one mask; the reference
    takes `masks` masks on the same batch, and its loss without dropout (qkv's agrees to rounding, see above)
    gives how much dropout adds."""
    import parity
    from reference import models, safetensors_io
    weights = os.path.join(weights_dir, "after.safetensors")
    tensors, meta = safetensors_io.read(weights)
    config = json.loads(meta["qkv.config"])
    config["model"]["dropout"] = 0.1  # the recipe's
    model = models.from_config(config, meta["qkv.tokenizer"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    d = os.path.join(out, "masks")
    os.makedirs(d, exist_ok=True)
    print(f"\ndropout masks at fixed weights ({weights}; {len(seeds)} qkv seeds, {masks} reference masks each):")
    print("  | qkv seed | loss without dropout | qkv, its mask | reference, mean (sd) of its masks | qkv - reference |")
    print("  |---|---|---|---|---|")
    rows = []
    for seed in seeds:
        config["train"]["seed"] = seed  # qkv's dropout masks and batch order
        cfg, ckpt, step = (os.path.join(d, f"seed-{seed}{x}") for x in (".json", ".qkv", ".safetensors"))
        with open(cfg, "w") as f:
            json.dump(config, f, indent=1)
        common.run([qkv, "import", weights, "--config", cfg, "--out", ckpt])
        common.run([qkv, "step", ckpt, "--out", step, "--steps", "1"])
        s, _ = safetensors_io.read(step)
        b = parity.step_batches(s, 1, 1)[0]
        with torch.no_grad():
            model.eval()
            plain = float(model(b["src"], b["tgt_in"], b["targets"])[1])
            model.train()
            torch.manual_seed(seed)
            ref = [float(model(b["src"], b["tgt_in"], b["targets"])[1]) for _ in range(masks)]
        mean = sum(ref) / masks
        sd = math.sqrt(sum((x - mean) ** 2 for x in ref) / (masks - 1))
        q = float(s["loss"][0])
        rows.append((plain, q, mean, sd))
        print(f"  | {seed} | {plain:.4f} | {q:.4f} | {mean:.4f} ({sd:.4f}) | {q - mean:+.4f} |", flush=True)
    n = len(rows)
    diffs = [q - m for _, q, m, _ in rows]
    mean_diff = sum(diffs) / n
    se = math.sqrt(sum((x - mean_diff) ** 2 for x in diffs) / (n - 1) / n) if n > 1 else float("nan")
    added_q = sum(q - p for p, q, _, _ in rows) / n
    added_r = sum(m - p for p, _, m, _ in rows) / n
    line = (f"masks: dropout adds {added_q:.4f} to the loss in qkv and {added_r:.4f} in the reference (mean over {n} "
            f"batches); qkv - reference {mean_diff:+.4f} (standard error {se:.4f})")
    print("  " + line)
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "seq2seq-de-en.json"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "de-en.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "de-en-lockstep"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--variants", default="full,plain,smoothing,noam,padding,dropout",
                    help="comma-separated, from: " + ", ".join(VARIANTS))
    ap.add_argument("--mask-test", type=int, default=0, metavar="K",
                    help="then dropout at fixed weights: K qkv seeds (masks and batches) against 20 reference masks "
                         "each, on the weights after the variant full (list it, or run it first and give "
                         "--variants '')")
    ap.add_argument("--mask-first", type=int, help="the first qkv seed of the mask test (default: --seed)")
    ap.add_argument("--control", choices=("f64", "perturb"),
                    help="with dropout 0, also replay the reference in double precision (f64: how far each float32 "
                         "run is from it) or from rounding-perturbed weights (perturb: how fast rounding alone parts "
                         "two runs of the same code)")
    ap.add_argument("--reuse", action="store_true", help="keep a variant's qkv steps.safetensors when it exists")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        sys.exit(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    torch = common.torch_or_none()
    if torch is None:
        sys.exit("PyTorch is needed (run with /usr/bin/python3)")
    torch.set_num_threads(1)  # one core each, as qkv's train.threads=1 below
    os.chdir(ROOT)
    os.makedirs(args.out, exist_ok=True)
    files, _, _ = de_en.split_pairs(args.data, args.out, 500, 500)
    base = ["data.train=" + files["train"], "data.val=" + files["dev"], f"train.seed={args.seed}",
            "train.threads=1", f"train.max_steps={args.steps}"]
    summary = []
    for name in names:
        overrides, what = VARIANTS[name]
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        ckpt, weights, steps = (os.path.join(d, f) for f in ("init.qkv", "init.safetensors", "steps.safetensors"))
        sets = [x for kv in base + overrides for x in ("--set", kv)]
        common.run([qkv, "init", args.config] + sets + ["--out", ckpt])
        common.run([qkv, "export", ckpt, "--out", weights])
        if not (args.reuse and os.path.exists(steps)):
            print(f"{name}: qkv step --steps {args.steps} ...", flush=True)
            _, took = common.run([qkv, "step", ckpt, "--out", steps, "--steps", str(args.steps)])
            print(f"{name}: qkv {took:.0f} s", flush=True)
        print(f"{name}: the reference replays the batches ...", flush=True)
        q, r, logits_diff, grad_diff, grad_max = replay(steps, args.steps, args.seed, torch)
        control = None
        if args.control and "model.dropout=0" in overrides:
            print(f"{name}: the control ({args.control}) replays them ...", flush=True)
            control = replay(steps, args.steps, args.seed, torch, args.control)[1]
        summary.append(compare(name, what, q, r, logits_diff, grad_diff, grad_max, control, args.control))
    if args.mask_test:
        summary.append(mask_test(qkv, args.out, os.path.join(args.out, "full"),
                                 [(args.mask_first or args.seed) + i for i in range(args.mask_test)], 20, torch))
    print("\nsummary:")
    for line in summary:
        print("  " + line)
    common.print_commands()
    return 0


if __name__ == "__main__":
    sys.exit(main())
