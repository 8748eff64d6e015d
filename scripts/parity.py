#!/usr/bin/python3
"""Parity of qkv with the PyTorch reference (scripts/reference) on tiny models of every kind and task.

    /usr/bin/python3 scripts/parity.py [--qkv build/qkv] [--keep DIR]

For each case (a tiny model, dropout 0, one thread):
1. `qkv init` and `qkv export`: the weights, config and tokenizer load strictly into the reference model.
2. Generation: a checkpoint trained briefly by `qkv train` is exported and loaded; `qkv sample
   --temperature 0` and `qkv translate` (greedy) must equal the reference's greedy decoding.
3. Steps: the reference draws weights of order one (at qkv's init attention is nearly uniform, biases are 0
   and LayerNorm weights 1, which would hide mistakes), writes them as safetensors, `qkv import` reads them
   (and `qkv export` must give them back exactly), and `qkv step --steps 10` writes the batches, the
   first batch's logits and gradients and the 10 losses. The reference compares the first batch's logits,
   loss and every gradient, then replays the 10 updates (same optimizer, schedule, clipping, accumulation)
   on the same batches and compares the losses.
One line per check, then `parity: N passed, M failed`; exit 0 only when every check passes.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import models, safetensors_io, train_ref  # noqa: E402

STEPS = 10
TOL_LOGITS, TOL_LOSS, TOL_GRAD, TOL_LOSSES = 1e-4, 1e-5, 1e-4, 1e-4
# bf16 against PyTorch's CPU autocast: max |logit difference| / max |logit|, and |loss difference|.
TOL_BF16_LOGITS, TOL_BF16_LOSS = 2e-2, 1e-2
BF16_CASES = ("gpt-learned-bias", "encoder-mlm", "encoder-classify-mean", "seq2seq-smooth")

TINY = {"n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 16, "dropout": 0.0}
ADAMW = {"name": "adamw", "lr": 1e-2, "min_lr": 1e-3, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1,
         "grad_clip": 0.5, "schedule": "cosine", "warmup_steps": 3, "decay_steps": 0}
CASES = [
    # name, model, data, optim, train extras, generation
    ("gpt-learned-bias", dict(TINY, kind="gpt", bias=True, positions="learned"), {"task": "lm", "train": "lm"},
     ADAMW, {}, {"prompt": "the cat ", "train_steps": 60}),
    ("gpt-rope-post-relu", dict(TINY, kind="gpt", positions="rope", norm="post", activation="relu"),
     {"task": "lm", "train": "lm"}, ADAMW, {"grad_accum": 2}, {"prompt": "a dog", "train_steps": 60}),
    ("encoder-mlm", dict(TINY, kind="encoder"), {"task": "mlm", "train": "lm"}, ADAMW, {}, None),
    ("encoder-classify-mean", dict(TINY, kind="encoder", pooling="mean", bias=True), {"task": "classify",
     "train": "classify"}, {"name": "sgd", "lr": 0.02, "momentum": 0.9, "weight_decay": 0.1, "grad_clip": 1.0,
     "schedule": "constant"}, {}, None),
    ("seq2seq-smooth", dict(TINY, kind="seq2seq", bias=True, positions="sinusoidal", activation="relu"),
     {"task": "seq2seq", "train": "copy"}, {"name": "adam", "lr": 0.5, "beta1": 0.9, "beta2": 0.98, "eps": 1e-9,
     "weight_decay": 0.0, "grad_clip": 0.0, "schedule": "noam", "warmup_steps": 4, "label_smoothing": 0.1}, {},
     {"sources": ["abcde", "jihgfedc", "aab", "cafebead", "j"], "train_steps": 600}),
    # The other options: sinusoidal GPT; an encoder with rope, post-norm and cls pooling; a post-norm seq2seq
    # with learned positions; and Adam's L2 weight decay.
    ("gpt-sinusoidal", dict(TINY, kind="gpt", positions="sinusoidal"), {"task": "lm", "train": "lm"}, ADAMW, {},
     None),
    ("encoder-classify-cls-rope-post", dict(TINY, kind="encoder", positions="rope", norm="post", activation="relu"),
     {"task": "classify", "train": "classify"}, dict(ADAMW, name="adam"), {}, None),
    ("seq2seq-learned-post", dict(TINY, kind="seq2seq", positions="learned", norm="post"),
     {"task": "seq2seq", "train": "copy"}, dict(ADAMW, name="adam", schedule="noam", lr=0.5, warmup_steps=4), {},
     {"sources": ["abcde", "jihgfedc", "ab"], "train_steps": 300}),
    # The attention variants: local (window 5 over blocks of 16) and linear, in each model kind.
    ("gpt-local", dict(TINY, kind="gpt", attention="local", window=5), {"task": "lm", "train": "lm"}, ADAMW, {},
     {"prompt": "the cat ", "train_steps": 60}),
    ("gpt-linear-rope", dict(TINY, kind="gpt", attention="linear", positions="rope"), {"task": "lm", "train": "lm"},
     ADAMW, {}, {"prompt": "a dog", "train_steps": 60}),
    ("encoder-mlm-local", dict(TINY, kind="encoder", attention="local", window=3), {"task": "mlm", "train": "lm"},
     ADAMW, {}, None),
    ("encoder-classify-linear", dict(TINY, kind="encoder", attention="linear", bias=True),
     {"task": "classify", "train": "classify"}, ADAMW, {}, None),
    ("seq2seq-local", dict(TINY, kind="seq2seq", attention="local", window=3, positions="sinusoidal"),
     {"task": "seq2seq", "train": "copy"}, dict(ADAMW, name="adam", schedule="noam", lr=0.5, warmup_steps=4), {},
     {"sources": ["abcde", "jihgfedc", "ab"], "train_steps": 300}),
    ("seq2seq-linear", dict(TINY, kind="seq2seq", attention="linear", positions="sinusoidal"),
     {"task": "seq2seq", "train": "copy"}, dict(ADAMW, name="adam", schedule="noam", lr=0.5, warmup_steps=4), {},
     {"sources": ["abcde", "jihgfedc", "ab"], "train_steps": 300}),
]


def write_corpora(d):
    rng = random.Random(7)
    words = "the a cat dog sat on mat and ran to see big small red blue house tree".split()
    text = "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(200)) + "\n"
    pos, neg = "good great nice fine love".split(), "bad awful poor sad hate".split()
    rows = []
    for _ in range(80):
        label = rng.choice(["pos", "neg"])
        ws = [rng.choice(pos if label == "pos" else neg) if rng.random() < 0.5 else rng.choice(words)
              for _ in range(rng.randint(1, 5))]
        rows.append(f"{label}\t{' '.join(ws)}")
    # Few pairs of many lengths, so that most length-bucketed batches still hold source padding.
    copy = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 14))) for _ in range(40)]
    files = {"lm": ("corpus.txt", text), "classify": ("labels.tsv", "\n".join(rows) + "\n"),
             "copy": ("copy.tsv", "\n".join(f"{s}\t{s}" for s in copy) + "\n")}
    for key, (name, body) in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(body)
        files[key] = os.path.join(d, name)
    return files


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok


def run(cmd, stdin=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def to_torch(batch):
    return {k: torch.from_numpy(v).long() if v.dtype == np.int32 else torch.from_numpy(v) for k, v in batch.items()}


def loss_function(task, captured):
    def loss_of(model, b):
        if task == "lm":
            logits, loss = model(b["inputs"], b["targets"])
        elif task == "mlm":
            logits, loss = model.mlm(b["inputs"], None, b["targets"])
        elif task == "classify":
            logits, loss = model.classify(b["inputs"], b["padding"], b["targets"])
        else:
            logits, loss = model(b["src"], b["tgt_in"], b["targets"])
        captured.append(logits.detach())
        return loss
    return loss_of


def step_batches(step_file, step, accum):
    """The micro-batches of update `step` as qkv step wrote them (plain names for step 1)."""
    prefix = "" if step == 1 else f"step{step}."
    out = []
    for m in range(accum):
        p = prefix + (f"micro{m}." if accum > 1 else "")
        out.append(to_torch({k[len(p):]: v for k, v in step_file.items()
                             if k.startswith(p) and "." not in k[len(p):] and k[len(p):] != "logits"
                             and k[len(p):] != "loss"}))
    return out


def max_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def load_reference(path):
    """The reference model of an exported file with its tensors loaded strictly, and its tokenizer."""
    tensors, meta = safetensors_io.read(path)
    model = models.from_config(meta["qkv.config"], meta["qkv.tokenizer"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return model, models.Tokenizer(meta["qkv.tokenizer"]), tensors, meta


def randomize(model, seed):
    """Weights of order one: matrices N(0, 1/fan_in), embeddings N(0, 0.25), LayerNorm weights near 1,
    biases N(0, 0.01)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if p.dim() >= 2:
                table = name.split(".")[-2] in ("wte", "wpe", "embed")
                p.copy_(r * (0.5 if table else p.shape[1] ** -0.5))
            elif ".ln_" in "." + name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            else:
                p.copy_(0.1 * r)


def generation_checks(qkv, d, config_path, name, gen, report):
    """Greedy generation from a briefly trained checkpoint (an untrained one emits a single repeated token,
    or EOS at once, which would test little)."""
    n = str(gen["train_steps"])
    run([qkv, "train", config_path, "--set", "train.max_steps=" + n, "--set", "train.eval_interval=" + n,
         "--set", "train.eval_steps=1", "--set", "train.out_dir=" + os.path.join(d, "trained")])
    ckpt, exported = os.path.join(d, "trained", "ckpt.qkv"), os.path.join(d, "trained.safetensors")
    run([qkv, "export", ckpt, "--out", exported])
    model, tok, _, _ = load_reference(exported)
    model.eval()
    T = model.config.block_size
    if "prompt" in gen:
        out = run([qkv, "sample", ckpt, "--prompt", gen["prompt"], "--tokens", "20", "--temperature", "0"])
        got = out[:-1] if out.endswith("\n") else out
        want = tok.decode(model.generate_greedy(tok.encode(gen["prompt"]), 20))
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        report.check(f"{name}: sample --temperature 0 after {n} steps (20 tokens, block {T}) {got!r}", got == want,
                     "identical" if got == want else f"differ from char {first}: ref {want!r}")
    if "sources" in gen:
        out = run([qkv, "translate", ckpt], stdin="\n".join(gen["sources"]) + "\n").split("\n")[:-1]
        want = [tok.decode(model.translate_greedy(tok.encode(s), tok.special("BOS"), tok.special("EOS")), True)
                for s in gen["sources"]]
        bad = sum(a != b for a, b in zip(out, want)) + abs(len(out) - len(want))
        report.check(f"{name}: translate after {n} steps (greedy) {dict(zip(gen['sources'], out))}", bad == 0,
                     f"{bad} of {len(want)} differ" + ("" if bad == 0 else f": ref {want}"))


def bf16_checks(qkv, d, name, imported, report):
    """`qkv step --precision bf16` against the reference under torch.autocast("cpu", dtype=torch.bfloat16),
    from the same random weights: the first batch's logits and loss."""
    out = os.path.join(d, "s_bf16.safetensors")
    run([qkv, "step", imported, "--out", out, "--steps", "1", "--precision", "bf16"])
    s, meta = safetensors_io.read(out)
    resolved = json.loads(meta["qkv.config"])
    model, _, _, _ = load_reference(os.path.join(d, "random2.safetensors"))  # the random weights, via qkv
    model.train()
    captured = []
    loss_of = loss_function(resolved["data"]["task"], captured)
    accum = max(1, sum(1 for k in s if k.startswith("micro") and k.endswith(".logits")))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = [float(loss_of(model, b)) for b in step_batches(s, 1, accum)]
    mine = [s["logits"]] if accum == 1 else [s[f"micro{m}.logits"] for m in range(accum)]
    theirs = [c.float().numpy() for c in captured]
    scale = max(float(np.abs(t).max()) for t in theirs)
    diff = max(max_diff(a, b) for a, b in zip(mine, theirs)) / scale
    report.check(f"{name}: bf16 first-batch logits against autocast", diff <= TOL_BF16_LOGITS,
                 f"max |diff| / max |logit| {diff:.3g} (tol {TOL_BF16_LOGITS:g})")
    diff = abs(float(s["loss"][0]) - sum(losses) / len(losses))
    report.check(f"{name}: bf16 first-batch loss {losses[0]:.5f}", diff <= TOL_BF16_LOSS,
                 f"|diff| {diff:.3g} (tol {TOL_BF16_LOSS:g})")


def run_case(qkv, work, files, case, report):
    name, model_cfg, data_cfg, optim_cfg, train_extra, gen = case
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    config = {"model": model_cfg, "data": dict(data_cfg, train=files[data_cfg["train"]], tokenizer="char"),
              "optim": optim_cfg,
              "train": dict({"batch_size": 4, "max_steps": STEPS, "seed": 1337, "threads": 1,
                             "out_dir": os.path.join(d, "out")}, **train_extra)}
    config_path, ckpt = os.path.join(d, "config.json"), os.path.join(d, "c.qkv")
    with open(config_path, "w") as f:
        json.dump(config, f, indent=1)
    weights, steps = os.path.join(d, "w.safetensors"), os.path.join(d, "s.safetensors")
    run([qkv, "init", config_path, "--out", ckpt])
    run([qkv, "export", ckpt, "--out", weights])
    try:
        model, _, tensors, _ = load_reference(weights)
        report.check(f"{name}: qkv init -> export -> load_state_dict(strict=True)", True, f"{len(tensors)} tensors")
    except RuntimeError as e:
        report.check(f"{name}: qkv init -> export -> load_state_dict(strict=True)", False, str(e).replace("\n", " "))
        return
    if gen:
        generation_checks(qkv, d, config_path, name, gen, report)

    # At qkv's initialisation attention is nearly uniform, biases are 0 and LayerNorm weights 1, so a wrong
    # RoPE layout or bias placement would hardly show. The step checks start from random weights of order 1,
    # written by the reference and imported by qkv (which also checks the writer: import, export, compare).
    randomize(model, seed=sum(map(ord, name)))
    mine, imported = os.path.join(d, "random.safetensors"), os.path.join(d, "random.qkv")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    safetensors_io.write(mine, state)
    run([qkv, "import", mine, "--config", config_path, "--out", imported])
    run([qkv, "export", imported, "--out", os.path.join(d, "random2.safetensors")])
    back, _ = safetensors_io.read(os.path.join(d, "random2.safetensors"))
    diff = max(max_diff(back[k], state[k]) for k in state) if set(back) == set(state) else float("inf")
    report.check(f"{name}: random weights -> safetensors writer -> qkv import -> export", diff == 0.0,
                 f"max |diff| {diff:.3g}")
    run([qkv, "step", imported, "--out", steps, "--steps", str(STEPS)])
    if name in BF16_CASES:
        bf16_checks(qkv, d, name, imported, report)

    # The first batch: logits, loss, gradients; then the 10 updates.
    model.train()
    s, step_meta = safetensors_io.read(steps)
    resolved = json.loads(step_meta["qkv.config"])  # the config `qkv step` ran with
    accum = max(1, sum(1 for k in s if k.startswith("micro") and k.endswith(".logits")))
    optimizer = train_ref.make_optimizer(model, resolved["optim"])
    captured, grads, losses = [], {}, []

    def record_grads():
        grads.update({n: p.grad.detach().clone() for n, p in model.named_parameters()})

    loss_of = loss_function(resolved["data"]["task"], captured)
    for step in range(1, STEPS + 1):
        loss, _, _ = train_ref.train_step(model, optimizer, resolved, step, step_batches(s, step, accum), loss_of,
                                          record_grads if step == 1 else None)
        losses.append(loss)
        if step == 1:
            first_logits = list(captured)
    qkv_logits = [s["logits"]] if accum == 1 else [s[f"micro{m}.logits"] for m in range(accum)]
    diff = max(max_diff(a, b.numpy()) for a, b in zip(qkv_logits, first_logits))
    report.check(f"{name}: first-batch logits {list(qkv_logits[0].shape)}" + (f" x{accum} micro" if accum > 1 else ""),
                 diff <= TOL_LOGITS, f"max |diff| {diff:.3g} (tol {TOL_LOGITS:g})")
    diff = abs(float(s["loss"][0]) - losses[0])
    report.check(f"{name}: first-batch loss {losses[0]:.6f}", diff <= TOL_LOSS, f"|diff| {diff:.3g} (tol {TOL_LOSS:g})")
    qkv_grads = {k[5:]: v for k, v in s.items() if k.startswith("grad.")}
    if set(qkv_grads) != set(grads):
        report.check(f"{name}: gradients", False, f"names differ: qkv only {sorted(set(qkv_grads) - set(grads))}, "
                     f"reference only {sorted(set(grads) - set(qkv_grads))}")
    else:
        worst = max(grads, key=lambda n: max_diff(qkv_grads[n], grads[n].numpy()))
        diff = max_diff(qkv_grads[worst], grads[worst].numpy())
        largest = max(float(np.abs(g).max()) for g in qkv_grads.values())
        report.check(f"{name}: gradients of {len(grads)} parameters (largest |g| {largest:.3g})", diff <= TOL_GRAD,
                     f"max |diff| {diff:.3g} at {worst} (tol {TOL_GRAD:g})")
    diff = max_diff(s["loss"], losses)
    o = resolved["optim"]
    what = f"{o['name']} {o['schedule']}" + (f" clip {o['grad_clip']:g}" if o["grad_clip"] > 0 else "") + \
        (f" accum {accum}" if accum > 1 else "")
    report.check(f"{name}: {STEPS} losses ({what}) {losses[0]:.4f} -> {losses[-1]:.4f}", diff <= TOL_LOSSES,
                 f"max |diff| {diff:.3g} (tol {TOL_LOSSES:g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--qkv", default=os.path.join(root, "build", "qkv"), help="the qkv binary")
    ap.add_argument("--keep", default="", help="work in this directory and keep it (default: a temporary one)")
    args = ap.parse_args()
    qkv = os.path.abspath(args.qkv)
    if not os.access(qkv, os.X_OK):
        sys.exit(f"parity: {qkv} is not an executable (build it, or pass --qkv)")
    torch.set_num_threads(1)
    start, report = time.time(), Report()
    with tempfile.TemporaryDirectory(prefix="qkv-parity-") as tmp:
        work = os.path.abspath(args.keep) if args.keep else tmp
        os.makedirs(work, exist_ok=True)
        files = write_corpora(work)
        for case in CASES:
            try:
                run_case(qkv, work, files, case, report)
            except Exception as e:  # a command or the reference broke: one failed check, go on
                report.check(f"{case[0]}", False, f"{type(e).__name__}: {e}")
    print(f"({time.time() - start:.1f} s)")
    print(f"parity: {report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
