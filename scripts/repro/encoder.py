#!/usr/bin/python3
"""Reproduction 4: an encoder pretrained with masked-LM on Jane Austen, then a classifier of food reviews.

    /usr/bin/python3 scripts/repro/encoder.py [--qkv build/qkv] [--out out/repro/encoder]
                                              [--variants from-mlm,scratch] [--skip-mlm] [--no-reference]

1. MLM: configs/encoder-mlm.json on data/austen.txt (byte-level BPE of 2,048 tokens, learned from the corpus, so
   that the classifier can keep the pretrained embeddings for its reviews). The final masked-token loss
   (nanoGPT-style 20-batch estimate from metrics.jsonl, and `qkv eval` over the whole val split: the last 10%
   of the characters, windows of 128 tokens masked with a fixed seed) against the corpus's unigram entropy in
   nats per token (token frequencies of the whole of austen.txt under the MLM's tokenizer, encoded as training
   encodes it, nothing excluded). Passes when the loss is at least 1 nat lower.
   Masked-token accuracy from `qkv eval`; when PyTorch is installed the checkpoint is also exported and the
   reference Encoder (scripts/reference, loaded strictly) scores the val split's windows with its own masks
   (15% of the tokens: 80% MASK, 10% random, 10% kept), its loss and accuracy beside qkv's.
2. Classification: configs/encoder-classify.json on data/reviews.tsv, 10% of whose lines (evenly spread) are the
   dev split that `train` scores whole every 50 steps and keeps best.qkv by (early stopping). The test file is
   only read at the end: test accuracy of best.qkv (`qkv eval ... --json`; the final checkpoint's beside it), per
   variant: `from-mlm` starts from the MLM checkpoint with
   --set train.init_from=... (the log says which parameters kept their initialisation), `scratch` does not and
   is a comparison under the same recipe (a fine-tuning one). Beside them: the majority class (65.8%) and a
   bag-of-words logistic regression in numpy (word counts of the lowercased text split on non-letters, the 5,000
   most frequent training words, L2 1e-3, 500 accelerated gradient steps of size 1/L). Passes when the MLM
   target holds and the from-mlm classifier beats the majority class by >= 10 points.
"""
import argparse
import collections
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


def init_from_line(log):
    """The trainer's init_from lines: which tokenizer the classifier uses and which parameters were not loaded."""
    with open(log) as f:
        return "\n".join(line.strip() for line in f if line.startswith("init_from"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--mlm-config", default=os.path.join(ROOT, "configs", "encoder-mlm.json"))
    ap.add_argument("--classify-config", default=os.path.join(ROOT, "configs", "encoder-classify.json"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "austen.txt"))
    ap.add_argument("--train", default=os.path.join(ROOT, "data", "reviews.tsv"))
    ap.add_argument("--test", default=os.path.join(ROOT, "data", "reviews-test.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "encoder"))
    ap.add_argument("--variants", default="from-mlm,scratch", help="classification runs: from-mlm, scratch")
    ap.add_argument("--skip-mlm", action="store_true", help="reuse OUT/mlm/ckpt.qkv")
    ap.add_argument("--skip-classify", action="store_true", help="reuse OUT/classify-*/ckpt.qkv")
    ap.add_argument("--no-reference", action="store_true", help="no PyTorch (no masked-token accuracy)")
    ap.add_argument("--mlm-set", action="append", default=[], help="extra --set for the MLM run (smoke tests)")
    ap.add_argument("--classify-set", action="append", default=[], help="extra --set for the classifiers")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in ("from-mlm", "scratch"):
            sys.exit(f"--variants: unknown variant {v!r} (from-mlm, scratch)")
    for path in (args.corpus, args.train, args.test):
        if not os.path.exists(path):
            sys.exit(f"{path}: missing (run scripts/get_corpus.sh)")
    os.chdir(ROOT)
    torch = None if args.no_reference else common.torch_or_none()

    # 1. MLM
    print("encoder: MLM on", args.corpus)
    mlm_dir = os.path.join(args.out, "mlm")
    mlm_ckpt = os.path.join(mlm_dir, "ckpt.qkv")
    mlm_overrides = ["data.train=" + os.path.abspath(args.corpus)] + args.mlm_set
    config, _ = common.resolved_config(qkv, args.mlm_config, mlm_overrides, os.path.join(args.out, "mlm-init"))
    mlm_seconds = None
    if not args.skip_mlm:
        mlm_seconds = common.train(qkv, args.mlm_config, mlm_overrides, mlm_dir, "qkv train (MLM)")
    _, mlm_evals = common.metrics(mlm_dir)
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    tok = os.path.join(args.out, "mlm.tok")
    common.tokenizer_file(qkv, mlm_ckpt, tok)
    entropy, n_types = unigram_entropy(encode_whole(qkv, tok, args.corpus))
    n_train = int(len(text) * (1.0 - config["data"]["val_fraction"]))
    val_file = os.path.join(args.out, "austen-val.txt")
    with open(val_file, "w", encoding="utf-8") as f:
        f.write(text[n_train:])
    whole = common.qkv_eval(qkv, mlm_ckpt, val_file)
    est = mlm_evals[-1]["val_loss"]
    ref_loss = ref_acc = None
    if torch is not None:
        ref_loss, ref_acc, n_masked = masked_accuracy(qkv, mlm_ckpt, encode_whole(qkv, tok, val_file), args.out)
        print(f"  masked-token accuracy (reference Encoder on qkv's exported weights): {ref_acc:.4f} over {n_masked} "
              f"masked tokens; loss {ref_loss:.4f}")

    # 2. classification
    results = {}
    for v in variants:
        out_dir = os.path.join(args.out, "classify-" + v)
        overrides = ["data.train=" + os.path.abspath(args.train)]
        if v == "from-mlm":
            overrides.append("train.init_from=" + mlm_ckpt)
        overrides += args.classify_set
        seconds = None
        if not args.skip_classify:
            seconds = common.train(qkv, args.classify_config, overrides, out_dir, f"qkv train (classify, {v})")
        test = common.qkv_eval(qkv, os.path.join(out_dir, "best.qkv"), args.test)
        final = common.qkv_eval(qkv, os.path.join(out_dir, "ckpt.qkv"), args.test)
        _, evals = common.metrics(out_dir)
        best = min(evals, key=lambda e: e["val_loss"])
        results[v] = {"test": test, "final": final, "best_step": best["step"], "seconds": seconds,
                      "init": init_from_line(os.path.join(out_dir, "train.log"))}
        print(f"  {v}: test accuracy {test['accuracy']:.4f} over {test['examples']} reviews (best dev loss, step "
              f"{best['step']}); final checkpoint {final['accuracy']:.4f}")
    with open(args.test, encoding="utf-8") as f:
        labels = [line.split("\t", 1)[0] for line in f if line.strip()]
    majority = collections.Counter(labels).most_common(1)[0][1] / len(labels)
    bow_train, bow_test, positive = bag_of_words(args.train, args.test)

    pct = lambda x: "not run" if x is None else f"{100 * x:.1f}%"
    rows = [
        ["MLM: unigram entropy of the corpus (nats/token)", "", "", f"{entropy:.4f} ({n_types} token types)"],
        ["MLM: val masked-token loss, 20 batches (final)", "", "",
         f"{fmt(est)} ({est - entropy:+.3f} from the entropy)"],
        ["MLM: val masked-token loss, whole split (qkv eval)", "<= entropy - 1 (target)", fmt(ref_loss),
         f"{fmt(whole['loss'])} ({whole['loss'] - entropy:+.3f} from the entropy)"],
        ["MLM: val masked-token accuracy, whole split", "", pct(ref_acc) + (" (qkv's weights)" if ref_acc else ""),
         pct(whole.get("accuracy"))],
        ["MLM: wall time", "", "", "reused" if mlm_seconds is None else f"{mlm_seconds:.1f} s"],
        ["classify: majority class (test)", pct(MAJORITY_PUBLISHED), "", pct(majority)],
        ["classify: bag-of-words logistic regression (numpy)", "", "", f"{pct(bow_test)} (train {pct(bow_train)})"],
    ]
    for v, r in results.items():
        rows.append([f"classify: qkv encoder, {v} (test accuracy, best dev loss)",
                     f">= {pct(MAJORITY_PUBLISHED + 0.10)} (target)" if v == "from-mlm" else "", "",
                     f"{pct(r['test']['accuracy'])} (step {r['best_step']})"])
        rows.append([f"classify: {v}, final checkpoint (test accuracy)", "", "", pct(r["final"]["accuracy"])])
        wall = "reused" if r["seconds"] is None else f"{r['seconds']:.1f} s"
        rows.append([f"classify: {v}, wall time", "", "", wall])
    common.table("encoder: MLM on Austen, then review classification", rows)
    for v, r in results.items():
        if r["init"]:
            print(f"\n{v}: {r['init']}")
    common.print_commands()
    ok = common.verdict("MLM loss 1 nat below the unigram entropy", whole["loss"] <= entropy - 1.0,
                        f"whole-split {whole['loss']:.4f} vs entropy {entropy:.4f}")
    if "from-mlm" in results:  # the target; scratch is a comparison
        a = results["from-mlm"]["test"]["accuracy"]
        ok &= common.verdict("classify (from-mlm) beats the majority class by 10 points", a >= majority + 0.10,
                             f"{100 * a:.1f}% vs {100 * majority:.1f}%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
