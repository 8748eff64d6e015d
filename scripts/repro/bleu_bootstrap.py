#!/usr/bin/python3
"""Paired bootstrap over the test sentences of the gap in corpus BLEU between qkv and the PyTorch reference.

    /usr/bin/python3 scripts/repro/bleu_bootstrap.py OUT [--beams 1,4] [--resamples 1000] [--seed 12345]
    /usr/bin/python3 scripts/repro/bleu_bootstrap.py --refs test.de --qkv A1 A2 .. --reference B1 B2 ..

OUT is a de_en.py output folder: its test.de and, for each seed-S folder holding both, test.qkv.beamK.de and
test.reference.beamK.de. The gap is qkv's corpus BLEU minus the reference's, averaged over the seeds (file i of
--qkv is paired with file i of --reference). Each resample draws as many test sentences as there are, with
replacement, and the same draw is used for every seed and both models (paired), so the interval reflects which
sentences happen to be in the test set, not the training noise between seeds (that is what several seeds are
for). Printed: the observed mean gap, the bootstrap's 95% percentile interval, and the share of resamples where
qkv is lower (Koehn 2004, "Statistical significance tests for machine translation evaluation"); with two seeds
or more also the spread of the per-seed gaps and a Student's t interval of their mean, the training noise.
Passes (exit 0) when each decoding's bootstrap interval includes a gap of --within BLEU or less (default 0.5,
issue 24's target): the interval reaches into [-within, +within].
"""
import argparse
import glob
import os
import random
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bleu13a  # noqa: E402
import common  # noqa: E402


def read_lines(path, n=None):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if n is not None and len(lines) != n:
        sys.exit(f"{path}: {len(lines)} lines, expected {n}")
    return lines


def corpus(stats, idx):
    """Corpus BLEU of the sentences idx (repeats count again) from per-sentence statistics."""
    max_n = len(stats[0][0])
    correct, total, hyp_len, ref_len = [0] * max_n, [0] * max_n, 0, 0
    for i in idx:
        c, t, hl, rl = stats[i]
        for n in range(max_n):
            correct[n] += c[n]
            total[n] += t[n]
        hyp_len += hl
        ref_len += rl
    return bleu13a.bleu_from_stats(correct, total, hyp_len, ref_len)[0]


RESAMPLES, SEED, WITHIN = 1000, 12345, 0.5  # the defaults, also de_en.py's


def hyp_file(seed_dir, who, beam):
    """Where de_en.py writes the test translations of `who` ("qkv" or "reference") at beam width `beam`."""
    return os.path.join(seed_dir, f"test.{who}.beam{beam}.de")


def decoding(beam):
    return "greedy" if beam == 1 else f"beam {beam}"


# Student's t two-sided 95% quantiles for 1, 2, ... 10 degrees of freedom (more: the last one, a little wide).
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def bootstrap(refs, qkv_files, ref_files, resamples, seed):
    """(observed mean gap, [gap per resample], [(qkv BLEU, reference BLEU) per file pair])."""
    pairs = []
    for q, r in zip(qkv_files, ref_files):
        pairs.append(tuple([bleu13a.sentence_stats(h, t) for h, t in zip(read_lines(f, len(refs)), refs)]
                           for f in (q, r)))
    everything = range(len(refs))
    scores = [(corpus(q, everything), corpus(r, everything)) for q, r in pairs]
    observed = sum(a - b for a, b in scores) / len(scores)
    rng = random.Random(seed)
    gaps = []
    for _ in range(resamples):
        idx = [rng.randrange(len(refs)) for _ in everything]
        gaps.append(sum(corpus(q, idx) - corpus(r, idx) for q, r in pairs) / len(pairs))
    return observed, gaps, scores


def report(name, refs, qkv_files, ref_files, resamples, seed):
    observed, gaps, scores = bootstrap(refs, qkv_files, ref_files, resamples, seed)
    gaps.sort()
    lo, hi = gaps[int(0.025 * len(gaps))], gaps[min(len(gaps) - 1, int(0.975 * len(gaps)))]
    lower = sum(g < 0 for g in gaps) / len(gaps)
    for (q, r), f in zip(scores, qkv_files):
        print(f"  {name}, {os.path.basename(os.path.dirname(f)) or f}: qkv {q:.2f}, reference {r:.2f}, "
              f"gap {q - r:+.2f}")
    print(f"{name}: mean gap (qkv - reference) over {len(scores)} seed(s) {observed:+.2f} BLEU, 95% interval "
          f"[{lo:+.2f}, {hi:+.2f}] ({len(gaps)} paired resamples of {len(refs)} sentences); qkv lower in "
          f"{100 * lower:.1f}% of them", flush=True)
    if len(scores) >= 2:  # the other noise: training runs of other seeds land apart, for both models
        per_seed = [q - r for q, r in scores]
        sd = (sum((g - observed) ** 2 for g in per_seed) / (len(per_seed) - 1)) ** 0.5
        t = T95[min(len(per_seed) - 1, len(T95)) - 1]
        half = t * sd / len(per_seed) ** 0.5
        print(f"{name}: between seeds the gap has sd {sd:.2f}; Student's t 95% interval of its mean over "
              f"{len(per_seed)} seeds [{observed - half:+.2f}, {observed + half:+.2f}]", flush=True)
    return observed, lo, hi


def within_target(name, n_seeds, lo, hi, within):
    """The target: the mean gap's interval includes a gap of `within` BLEU or less, either way."""
    return common.verdict(f"the mean gap's 95% interval includes a gap of {within} BLEU or less ({name}, "
                          f"{n_seeds} seed(s))", lo <= within and hi >= -within, f"[{lo:+.2f}, {hi:+.2f}]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", help="a de_en.py output folder (test.de, seed-S/test.{qkv,reference}.beamK.de)")
    ap.add_argument("--beams", default="1,4", help="with OUT: the beam widths to test")
    ap.add_argument("--refs", help="the reference translations, one a line")
    ap.add_argument("--qkv", nargs="+", help="qkv's outputs, one file per seed")
    ap.add_argument("--reference", nargs="+", help="the PyTorch reference's outputs, in the same seed order")
    ap.add_argument("--resamples", type=int, default=RESAMPLES)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--within", type=float, default=WITHIN, help="the target: a gap (BLEU) the interval must reach")
    args = ap.parse_args()
    ok = True
    if args.out:
        refs = read_lines(os.path.join(args.out, "test.de"))
        for beam in [int(b) for b in args.beams.split(",") if b]:
            seeds = [d for d in glob.glob(os.path.join(args.out, "seed-*"))
                     if all(os.path.exists(hyp_file(d, who, beam)) for who in ("qkv", "reference"))]
            seeds.sort(key=lambda d: int(re.sub(r"\D", "", os.path.basename(d)) or 0))
            if not seeds:
                sys.exit(f"{args.out}: no seed-S folder with both {hyp_file('', 'qkv', beam)} and "
                         f"{hyp_file('', 'reference', beam)}")
            _, lo, hi = report(decoding(beam), refs, [hyp_file(d, "qkv", beam) for d in seeds],
                               [hyp_file(d, "reference", beam) for d in seeds], args.resamples, args.seed)
            ok &= within_target(decoding(beam), len(seeds), lo, hi, args.within)
        return 0 if ok else 1
    if not (args.refs and args.qkv and args.reference) or len(args.qkv) != len(args.reference):
        sys.exit("give OUT, or --refs with as many --qkv as --reference files")
    _, lo, hi = report("files", read_lines(args.refs), args.qkv, args.reference, args.resamples, args.seed)
    return 0 if within_target("files", len(args.qkv), lo, hi, args.within) else 1


if __name__ == "__main__":
    sys.exit(main())
