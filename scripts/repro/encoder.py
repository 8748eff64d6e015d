#!/usr/bin/python3
"""Reproduction 4: an encoder pretrained with masked-LM, then a classifier of food reviews (issue 24: does
pretraining pay, and does pretraining on the task's own domain pay more?).

    /usr/bin/python3 scripts/repro/encoder.py [--qkv build/qkv] [--out out/repro/encoder]
                                              [--variants scratch,austen,austen-reviews,reviews]
                                              [--seeds 1337,1338,1339] [--skip-mlm STAGES] [--skip-classify]
                                              [--mlm-steps N] [--dapt-steps N] [--no-reference] [--continue]

1. MLM (configs/encoder-mlm.json, byte-level BPE of 2,048 tokens learned from its corpus, so that the classifier
   keeps the pretrained embeddings for its reviews), up to three runs ("stages"), each only when a variant needs it:
   - austen: on data/austen.txt. The final masked-token loss (nanoGPT-style 20-batch estimate from metrics.jsonl,
     and `qkv eval` over the whole val split: the last 10% of the characters, windows of 128 tokens masked with
     a fixed seed) against the corpus's unigram entropy in nats per token (token frequencies of the whole of
     austen.txt under the MLM's tokenizer). Passes when the loss is at least 1 nat lower. When PyTorch is
     installed the checkpoint is also exported and the reference Encoder (scripts/reference, loaded strictly)
     scores the val split's windows with its own masks, its loss and accuracy beside qkv's.
   - reviews: on the text of the training reviews (OUT/reviews-train.txt: data/reviews.tsv without its labels and
     without the lines that are the classifier's dev split; the test reviews are never read), its own BPE.
   - austen-reviews: domain-adaptive pretraining (Gururangan et al. 2020, "Don't Stop Pretraining"): the austen
     checkpoint (`train.init_from`, which keeps its tokenizer) trained on, with the same MLM, on that review text
     for --dapt-steps (default 1000; the warmup and cosine start again).
2. Classification: configs/encoder-classify.json on data/reviews.tsv, 10% of whose lines (evenly spread) are the
   dev split that `train` scores whole every 50 steps and keeps best.qkv by (the lowest dev loss). Per variant
   and seed (train.seed): `scratch` starts from the seed's initialisation with a BPE of its own; the others from
   the stage of the same name (`train.init_from`; the log says which parameters kept their initialisation).
   The test file is read only at the end: test accuracy of each run's best.qkv. Each variant is a mean over the
   seeds with its spread (sample standard deviation, min-max). Beside them: the majority class (65.8%) and a
   bag-of-words logistic regression in numpy (word counts of the lowercased text split on non-letters, the 5,000
   most frequent training words, L2 1e-3, 500 accelerated gradient steps of size 1/L).
   Verdict: of the pretrained variants, the one with the lowest mean dev loss (chosen on dev only) must reach a
   mean test accuracy >= majority + 10 points (75.8%); the stretch, printed but not part of the exit code, is to
   beat the bag of words. With the austen stage, the MLM target must hold too.

The whole recipe is 3 MLMs and 12 classifiers: hours on one core. With --continue it runs in pieces: stop the
script (Ctrl-C or SIGTERM: the run in progress writes its checkpoint) and run the same command again later; the
finished runs are kept, the stopped one resumes exactly, the rest start.
"""
import argparse
import collections
import json
import math
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ROOT, fmt  # noqa: E402

MAJORITY_PUBLISHED = 0.658


def encode_whole(qkv, tok, path):
    """The token ids of a whole text file, as the LM and MLM tasks encode it."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out, _ = common.run([qkv, "tokenizer", "encode", tok, "--whole"], stdin=(path, text))
    return [int(x) for x in out.split()]


def unigram_entropy(ids):
    counts = collections.Counter(ids)
    n = len(ids)
    return -sum(c / n * math.log(c / n) for c in counts.values()), len(counts)


def masked_accuracy(qkv, ckpt, val_ids, workdir, seed=1234):
    """Masked-token loss and accuracy of qkv's MLM checkpoint, scored by the PyTorch reference Encoder on the
    exported weights over non-overlapping windows of block_size of the val split."""
    import torch
    from reference import models, safetensors_io
    weights = os.path.join(workdir, "mlm.safetensors")
    common.run([qkv, "export", ckpt, "--out", weights])
    tensors, meta = safetensors_io.read(weights)
    model = models.from_config(meta["qkv.config"], meta["qkv.tokenizer"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()
    tok = models.Tokenizer(meta["qkv.tokenizer"])
    mask_id = tok.special("MASK")
    ordinary = torch.tensor(range(tok.n_ordinary))
    ids = torch.tensor(val_ids)
    T = model.config.block_size
    W = len(ids) // T
    x = ids[: W * T].view(W, T)
    g = torch.Generator().manual_seed(seed)
    chosen = torch.rand(W, T, generator=g) < 0.15
    chosen[~chosen.any(1), 0] = True  # at least one masked token per window, as qkv's masking
    u = torch.rand(W, T, generator=g)
    inputs = x.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand_pos = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand_pos] = ordinary[torch.randint(len(ordinary), (int(rand_pos.sum()),), generator=g)]
    targets = torch.where(chosen, x, torch.full_like(x, -100))
    right = total_loss = 0.0
    with torch.no_grad():
        for i in range(0, W, 64):
            logits, _ = model.mlm(inputs[i:i + 64])
            t = targets[i:i + 64]
            sel = t != -100
            total_loss += float(torch.nn.functional.cross_entropy(logits[sel], t[sel], reduction="sum"))
            right += float((logits[sel].argmax(-1) == t[sel]).sum())
    n = float((targets != -100).sum())
    return total_loss / n, right / n, int(n)


def bag_of_words(train_tsv, test_tsv, vocab_size=5000, l2=1e-3, steps=500):
    """Logistic regression on word counts with numpy: full-batch Nesterov-accelerated gradient descent with
    step 1/L (L: the Lipschitz constant of the gradient, from a power iteration). Returns (train, test) accuracy
    and the positive label."""
    import numpy as np

    def load(path):
        labels, docs = [], []
        with open(path, encoding="utf-8") as f:
            for line in f:
                label, text = line.rstrip("\n").split("\t", 1)
                labels.append(label)
                docs.append(re.findall(r"[a-z]+", text.lower()))
        return labels, docs

    ytr, dtr = load(train_tsv)
    yte, dte = load(test_tsv)
    words = collections.Counter(w for d in dtr for w in d)
    vocab = {w: i for i, (w, _) in enumerate(words.most_common(vocab_size))}

    def features(docs):
        X = np.zeros((len(docs), len(vocab) + 1))
        X[:, -1] = 1.0  # the bias, not decayed
        for i, d in enumerate(docs):
            for w in d:
                if w in vocab:
                    X[i, vocab[w]] += 1.0
        return X

    positive = collections.Counter(ytr).most_common(1)[0][0]
    Xtr, Xte = features(dtr), features(dte)
    Ytr = np.array([y == positive for y in ytr], dtype=float)
    Yte = np.array([y == positive for y in yte], dtype=float)
    n = len(Ytr)
    v = np.ones(Xtr.shape[1])
    for _ in range(50):
        v = Xtr.T @ (Xtr @ v)
        v /= np.linalg.norm(v)
    L = np.linalg.norm(Xtr @ v) ** 2 / (4 * n) + l2
    decay = np.r_[np.ones(len(vocab)), 0.0]
    w = np.zeros(Xtr.shape[1])
    z = w.copy()
    for s in range(1, steps + 1):
        p = 1.0 / (1.0 + np.exp(-(Xtr @ z)))
        grad = Xtr.T @ (p - Ytr) / n + l2 * decay * z
        w_next = z - grad / L
        z = w_next + (s - 1) / (s + 2) * (w_next - w)
        w = w_next
    acc = lambda X, Y: float(np.mean(((X @ w) > 0) == (Y > 0.5)))
    return acc(Xtr, Ytr), acc(Xte, Yte), positive


# What each classifier variant starts from: an MLM stage (trained in this order), or nothing.
START = {"scratch": None, "austen": "austen", "austen-reviews": "austen-reviews", "reviews": "reviews"}
NEEDS = {"austen": ["austen"], "reviews": ["reviews"], "austen-reviews": ["austen", "austen-reviews"]}
STAGES = ("austen", "reviews", "austen-reviews")


def training_review_text(train_tsv, val_fraction, path):
    """The text of the training reviews without the classifier's dev lines (split as train/task.cpp split_lines
    does: line i is dev when floor((i + 1) f) > floor(i f)), one review a line, for the review MLMs: pretraining
    on the dev reviews' text would blur the dev split that chooses the checkpoints and the table's variant."""
    with open(train_tsv, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    kept = [line.rstrip("\n").split("\t", 1)[1] + "\n" for i, line in enumerate(lines)
            if math.floor((i + 1) * val_fraction) == math.floor(i * val_fraction)]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(kept)
    return len(kept)


def spread(xs):
    """mean, sample standard deviation (0 for one value), min, max."""
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd, min(xs), max(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--mlm-config", default=os.path.join(ROOT, "configs", "encoder-mlm.json"))
    ap.add_argument("--classify-config", default=os.path.join(ROOT, "configs", "encoder-classify.json"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "austen.txt"))
    ap.add_argument("--train", default=os.path.join(ROOT, "data", "reviews.tsv"))
    ap.add_argument("--test", default=os.path.join(ROOT, "data", "reviews-test.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "encoder"))
    ap.add_argument("--variants", default=",".join(START), help="classification runs: " + ", ".join(START))
    ap.add_argument("--seeds", default="1337,1338,1339", help="train.seed of the classifiers")
    ap.add_argument("--skip-mlm", default="", help="MLM stages to reuse from OUT/mlm-STAGE (comma list, or all)")
    ap.add_argument("--skip-classify", action="store_true", help="reuse OUT/classify-VARIANT-sSEED/")
    ap.add_argument("--mlm-steps", type=int, help="train.max_steps of the austen and reviews MLMs (the config's)")
    ap.add_argument("--dapt-steps", type=int, default=1000, help="train.max_steps of the austen-reviews MLM")
    ap.add_argument("--no-reference", action="store_true", help="no PyTorch (no masked-token accuracy)")
    ap.add_argument("--continue", dest="keep_going", action="store_true",
                    help="keep the runs in OUT that finished, resume the ones stopped early (Ctrl-C, SIGTERM, a "
                         "periodic checkpoint), start the rest: the same command again continues a stopped one")
    ap.add_argument("--mlm-set", action="append", default=[], help="extra --set for every MLM run")
    ap.add_argument("--classify-set", action="append", default=[], help="extra --set for the classifiers")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    variants = [v for v in args.variants.split(",") if v]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    for v in variants:
        if v not in START:
            sys.exit(f"--variants: unknown variant {v!r} ({', '.join(START)})")
    skip = set(STAGES) if args.skip_mlm == "all" else {x for x in args.skip_mlm.split(",") if x}
    if skip - set(STAGES):
        sys.exit(f"--skip-mlm: unknown stage(s) {', '.join(sorted(skip - set(STAGES)))} ({', '.join(STAGES)}, all)")
    for path in (args.corpus, args.train, args.test):
        if not os.path.exists(path):
            sys.exit(f"{path}: missing (run scripts/get_corpus.sh)")
    os.chdir(ROOT)
    torch = None if args.no_reference else common.torch_or_none()
    os.makedirs(args.out, exist_ok=True)
    with open(args.classify_config) as f:
        val_fraction = json.load(f)["data"]["val_fraction"]
    review_text = os.path.join(args.out, "reviews-train.txt")
    n_reviews = training_review_text(args.train, val_fraction, review_text)

    # 1. MLM stages
    stages = [st for st in STAGES if any(st in NEEDS.get(v, []) for v in variants)]
    ckpt = {st: os.path.join(args.out, "mlm-" + st, "ckpt.qkv") for st in STAGES}
    steps = [f"train.max_steps={args.mlm_steps}"] if args.mlm_steps else []
    stage_overrides = {
        "austen": ["data.train=" + os.path.abspath(args.corpus)] + steps,
        "reviews": ["data.train=" + review_text] + steps,
        "austen-reviews": ["data.train=" + review_text, "train.init_from=" + ckpt["austen"],
                           f"train.max_steps={args.dapt_steps}"],
    }
    mlm = {}
    for st in stages:
        seconds = None
        if st not in skip:
            what = f"qkv train (MLM, {st}" + (f", {n_reviews} training reviews" if st != "austen" else "") + ")"
            seconds = common.train(qkv, args.mlm_config, stage_overrides[st] + args.mlm_set,
                                   os.path.join(args.out, "mlm-" + st), what, reuse=args.keep_going)
        _, evals = common.metrics(os.path.join(args.out, "mlm-" + st))
        mlm[st] = {"est": evals[-1]["val_loss"], "step": evals[-1]["step"], "seconds": seconds}

    rows, ok = [], True
    if "austen" in stages:
        config, _ = common.resolved_config(qkv, args.mlm_config, stage_overrides["austen"] + args.mlm_set,
                                           os.path.join(args.out, "mlm-init"))
        with open(args.corpus, encoding="utf-8") as f:
            text = f.read()
        tok = os.path.join(args.out, "mlm.tok")
        common.tokenizer_file(qkv, ckpt["austen"], tok)
        entropy, n_types = unigram_entropy(encode_whole(qkv, tok, args.corpus))
        n_train = int(len(text) * (1.0 - config["data"]["val_fraction"]))
        val_file = os.path.join(args.out, "austen-val.txt")
        with open(val_file, "w", encoding="utf-8") as f:
            f.write(text[n_train:])
        whole = common.qkv_eval(qkv, ckpt["austen"], val_file)
        ref_loss = ref_acc = None
        if torch is not None:
            ref_loss, ref_acc, n_masked = masked_accuracy(qkv, ckpt["austen"], encode_whole(qkv, tok, val_file),
                                                          args.out)
            print(f"  masked-token accuracy (reference Encoder on qkv's exported weights): {ref_acc:.4f} over "
                  f"{n_masked} masked tokens; loss {ref_loss:.4f}")
        est = mlm["austen"]["est"]
        rows += [
            ["MLM austen: unigram entropy of the corpus (nats/token)", "", "", f"{entropy:.4f} ({n_types} token types)"],
            ["MLM austen: val masked-token loss, whole split (qkv eval)", "<= entropy - 1 (target)", fmt(ref_loss),
             f"{fmt(whole['loss'])} ({whole['loss'] - entropy:+.3f} from the entropy)"],
            ["MLM austen: val masked-token accuracy, whole split", "",
             ("not run" if ref_acc is None else f"{100 * ref_acc:.1f}% (qkv's weights)"),
             f"{100 * whole['accuracy']:.1f}%" if whole.get("accuracy") is not None else "not run"],
        ]
        ok &= common.verdict("MLM loss 1 nat below the unigram entropy", whole["loss"] <= entropy - 1.0,
                             f"whole-split {whole['loss']:.4f} vs entropy {entropy:.4f} (20 batches: {est:.4f})")
    for st, r in mlm.items():  # each stage's loss is on its own val split and tokens: not comparable across stages
        wall = "reused" if r["seconds"] is None else f"{r['seconds']:.1f} s"
        rows.append([f"MLM {st}: val masked-token loss, 20 batches, step {r['step']}", "", "",
                     f"{r['est']:.4f} (wall {wall})"])

    # 2. classification, seed-major so that a run cut short still has every variant at the first seeds
    runs = {v: {} for v in variants}
    for seed in seeds:
        for v in variants:
            out_dir = os.path.join(args.out, f"classify-{v}-s{seed}")
            overrides = ["data.train=" + os.path.abspath(args.train), f"train.seed={seed}"]
            if START[v]:
                overrides.append("train.init_from=" + ckpt[START[v]])
            overrides += args.classify_set
            if not args.skip_classify:
                common.train(qkv, args.classify_config, overrides, out_dir, f"qkv train (classify, {v}, seed {seed})",
                             reuse=args.keep_going)
            elif not os.path.exists(os.path.join(out_dir, "best.qkv")):
                print(f"  {v} seed {seed}: not run ({out_dir} has no best.qkv)")
                continue
            _, evals = common.metrics(out_dir)
            best = min(evals, key=lambda e: e["val_loss"])
            test = common.qkv_eval(qkv, os.path.join(out_dir, "best.qkv"), args.test)
            runs[v][seed] = {"test": test["accuracy"], "dev_loss": best["val_loss"], "dev_acc": best["val_accuracy"],
                             "step": best["step"], "examples": test["examples"]}
            print(f"  {v} seed {seed}: best dev loss {best['val_loss']:.4f} at step {best['step']} (dev accuracy "
                  f"{best['val_accuracy']:.4f}); test accuracy {test['accuracy']:.4f} over {test['examples']} reviews")

    with open(args.test, encoding="utf-8") as f:
        labels = [line.split("\t", 1)[0] for line in f if line.strip()]
    majority = collections.Counter(labels).most_common(1)[0][1] / len(labels)
    bow_train, bow_test, _ = bag_of_words(args.train, args.test)
    pct = lambda x: f"{100 * x:.1f}%"
    rows += [["classify: majority class (test)", pct(MAJORITY_PUBLISHED), "", pct(majority)],
             ["classify: bag-of-words logistic regression (numpy, test)", "", "",
              f"{pct(bow_test)} (train {pct(bow_train)})"]]
    common.table("encoder: MLM, then review classification", rows)

    crows = []
    for v, rs in runs.items():
        if not rs:
            continue
        t, dl, da = (spread([r[k] for r in rs.values()]) for k in ("test", "dev_loss", "dev_acc"))
        crows.append([v, str(len(rs)), f"{dl[0]:.4f} (sd {dl[1]:.4f})", f"{100 * da[0]:.1f}%",
                      f"{100 * t[0]:.1f}% (sd {100 * t[1]:.1f}; {100 * t[2]:.1f}-{100 * t[3]:.1f})",
                      " / ".join(f"{100 * r['test']:.1f} ({r['step']})" for r in rs.values())])
    common.table("classify: each variant's best dev-loss checkpoints over its seeds", crows,
                 header=("start", "seeds", "dev loss, mean", "dev accuracy, mean", "test accuracy, mean (spread)",
                         "test accuracy per seed (step)"))
    common.print_commands()
    pretrained = {v: rs for v, rs in runs.items() if START[v] and rs}
    if pretrained:  # chosen on dev only: the lowest mean dev loss; its test mean is the figure judged
        chosen = min(pretrained, key=lambda v: spread([r["dev_loss"] for r in pretrained[v].values()])[0])
        acc = spread([r["test"] for r in pretrained[chosen].values()])[0]
        ok &= common.verdict("classify: a pretrained start (chosen on dev) beats the majority class by 10 points",
                             acc >= majority + 0.10, f"{chosen}: mean {100 * acc:.1f}% over {len(pretrained[chosen])} "
                             f"seeds vs {100 * (majority + 0.10):.1f}%")
        print(f"{'MET' if acc > bow_test else 'NOT MET'} stretch (not in the exit code): {chosen} {100 * acc:.1f}% vs "
              f"the bag of words {100 * bow_test:.1f}%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
