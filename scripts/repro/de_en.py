#!/usr/bin/python3
"""Reproduction 3: English to German on the Ding sentence pairs (configs/seq2seq-de-en.json), qkv beside the
PyTorch reference trained with the same recipe, scored with corpus BLEU-4 (13a) against sacrebleu.

    /usr/bin/python3 scripts/repro/de_en.py [--steps 8000] [--batch 64] [--seeds 1337,1338,1339] [--qkv build/qkv]
                                            [--out out/repro/de-en] [--no-reference] [--no-qkv] [--threads N]
                                            [--reference-bias zero|torch] [--stop-at STEP] [--resume]
                                            [--cache ~/.cache/qkv]

The full run is a fixed budget of 8,000 steps of batch 64 for each model and seed: hours on 2 cores. With
`--stop-at STEP` both trainings stop there (nothing is scored) and the same command with `--resume` continues
them, so a run fits into sessions in chunks; a run killed without --stop-at resumes from its last checkpoint
(both models keep one every 500 steps). `--steps 50 --seeds 1` is a smoke test of the whole pipeline.
BLEU on 500 short sentences from one training run is a noisy estimate, so the verdict is on the mean over the
seeds, as in gpt_baby.py; every seed's figures are printed beside the mean.

1. data/de-en.tsv (english<TAB>german, in the dictionary's order) is shuffled with a fixed seed and cut into
   500 held-out test pairs, 500 dev pairs (qkv's periodic validation) and the rest for training.
2. qkv trains the config with data.train / data.val set to those files, train.batch_size and train.max_steps.
3. The reference (scripts/reference Seq2Seq: Xavier-uniform matrices and zero biases as qkv, or PyTorch's default
   Linear biases as the Annotated Transformer with --reference-bias torch; torch.optim.Adam, Noam schedule, clip
   1.0, label smoothing 0.1, dropout 0.1) trains the same recipe on the same tokens: the shared BPE vocabulary is
   the one qkv learns from the training file (taken from `qkv init`, written as a .tok file, used through
   `qkv tokenizer encode`), its epochs are length-bucketed batches as qkv's (pools of 100 batches sorted by
   length, batch order shuffled), from a torch.Generator. Its weights go through `qkv import`, so both models
   are decoded by the same `qkv translate` (greedy, and --beam 4). Each seed trains both models in OUT/seed-S:
   it sets qkv's train.seed and the reference's torch seed and batch order.
4. BLEU-4 over 13a tokens (scripts/repro/bleu13a.py) of the detokenized outputs against the German references;
   sacrebleu (PyPI, in a venv of its own made on first use in CACHE/venv-bleu, outside the repository) scores
   the same files, and the two must agree to 0.1. The gap (qkv - reference, mean over the seeds with both models)
   gets a 95% interval from a paired bootstrap over the test sentences (bleu_bootstrap.py); passes when that
   interval includes a gap of 0.5 BLEU or less in each decoding (issue 24's target).
"""
import argparse
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bleu13a  # noqa: E402
import bleu_bootstrap  # noqa: E402
import common  # noqa: E402
import seq2seq_reference  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reference_env import venv_python  # noqa: E402
from common import ROOT, fmt  # noqa: E402

SPLIT_SEED = 20240601


def split_pairs(path, out_dir, n_test, n_dev):
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    order = list(range(len(lines)))
    random.Random(SPLIT_SEED).shuffle(order)
    parts = {"test": order[:n_test], "dev": order[n_test:n_test + n_dev], "train": order[n_test + n_dev:]}
    files = {}
    for name, idx in parts.items():
        files[name] = os.path.join(out_dir, name + ".tsv")
        with open(files[name], "w", encoding="utf-8") as f:
            f.write("".join(lines[i] + "\n" for i in idx))
    test = [lines[i].split("\t", 1) for i in parts["test"]]
    return files, [s for s, _ in test], [t for _, t in test]


def sacrebleu_score(python, hyp_file, ref_file):
    """sacrebleu's corpus BLEU (default: 13a, exp smoothing) from the venv's python, or None."""
    code = ("import sacrebleu, sys\n"
            "h = open(sys.argv[1], encoding='utf-8').read().split('\\n')[:-1]\n"
            "r = open(sys.argv[2], encoding='utf-8').read().split('\\n')[:-1]\n"
            "b = sacrebleu.corpus_bleu(h, [r])\n"
            "print(b.score, sacrebleu.__version__)\n")
    p = subprocess.run([python, "-c", code, hyp_file, ref_file], capture_output=True, text=True)
    if p.returncode != 0:
        return None, None
    score, version = p.stdout.split()
    return float(score), version


def sacrebleu_python(cache):
    """The python of a venv with sacrebleu, or None when it cannot be made (no network: the check is skipped)."""
    try:
        return venv_python(cache, "venv-bleu", ["sacrebleu"], "import sacrebleu")
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"sacrebleu unavailable ({e})", flush=True)
        return None


def score_seed(qkv, seed_dir, ckpts, src_file, test_src, test_ref, ref_file, beams, bleu_python):
    """{(who, beam): (our BLEU, sacrebleu's or None, its version)} for one seed's checkpoints."""
    src_text = "\n".join(test_src) + "\n"
    scores = {}
    for who, ckpt in ckpts.items():
        for beam in beams:
            out, _ = common.run([qkv, "translate", ckpt, "--beam", str(beam)], stdin=(src_file, src_text))
            hyps = out.split("\n")[: len(test_src)]
            hyp_file = bleu_bootstrap.hyp_file(seed_dir, who, beam)
            with open(hyp_file, "w", encoding="utf-8") as f:
                f.write("\n".join(hyps) + "\n")
            ours, _ = bleu13a.corpus_bleu(hyps, test_ref)
            sb, version = sacrebleu_score(bleu_python, hyp_file, ref_file) if bleu_python else (None, None)
            scores[(who, beam)] = (ours, sb, version)
            print(f"  {os.path.basename(seed_dir)}, {who}, beam {beam}: BLEU {ours:.2f} (sacrebleu {fmt(sb, 2)}), "
                  f"e.g. {test_src[0]!r} -> {hyps[0]!r}", flush=True)
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "seq2seq-de-en.json"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "de-en.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "repro", "de-en"))
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", default="1337,1338,1339", help="comma-separated; each seed trains both models in OUT/seed-S")
    ap.add_argument("--test", type=int, default=500, help="held-out test pairs")
    ap.add_argument("--dev", type=int, default=500, help="pairs for qkv's periodic validation")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--no-qkv", action="store_true", help="skip qkv's training (reuse OUT/seed-S/qkv/ckpt.qkv)")
    ap.add_argument("--reference-bias", choices=("zero", "torch"), default="zero",
                    help="the reference's Linear biases start at 0 as qkv's (zero) or at PyTorch's default (torch: "
                         "the runs of 2026-11-29)")
    ap.add_argument("--stop-at", type=int, default=0, metavar="STEP",
                    help="stop both trainings after STEP (qkv's checkpoint, the reference's reference-state.pt) and "
                         "score nothing; continue later with --resume (long runs in chunks across sessions)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the trainings that finished, resume the ones stopped (--stop-at, or killed: from "
                         "the last of the checkpoints written every 500 steps), start the missing ones (the same "
                         "--out, --steps and seeds)")
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "qkv"),
                    help="where sacrebleu's venv is made")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch threads")
    ap.add_argument("--qkv-threads", type=int, help="qkv's train.threads (default: the config's)")
    ap.add_argument("--score-only", action="store_true",
                    help="train nothing: score OUT/seed-S/qkv/ckpt.qkv and OUT/seed-S/ref/reference.qkv (after runs "
                         "side by side, one with --no-reference, one with --no-qkv)")
    args = ap.parse_args()
    qkv = common.check_qkv(args.qkv)
    seeds = [int(x) for x in args.seeds.split(",") if x]
    if not seeds:
        sys.exit("--seeds: give at least one seed")
    if not os.path.exists(args.data):
        sys.exit(f"{args.data}: missing (run scripts/get_corpus.sh)")
    os.chdir(ROOT)
    os.makedirs(args.out, exist_ok=True)
    torch = None if args.no_reference else common.torch_or_none()
    if torch is not None:
        torch.set_num_threads(args.threads)
    files, test_src, test_ref = split_pairs(args.data, args.out, args.test, args.dev)
    print(f"de-en: {args.data} -> {args.test} test, {args.dev} dev and the rest training pairs in {args.out}; "
          f"{args.steps} steps of batch {args.batch}; seeds {seeds}")
    src_file = os.path.join(args.out, "test.en")
    ref_file = os.path.join(args.out, "test.de")
    with open(src_file, "w", encoding="utf-8") as f:
        f.write("\n".join(test_src) + "\n")
    with open(ref_file, "w", encoding="utf-8") as f:
        f.write("\n".join(test_ref) + "\n")
    bleu_python = sacrebleu_python(args.cache)
    beams = (1, args.beam)

    stop_at = args.stop_at if 0 < args.stop_at < args.steps else 0
    scores, seconds = {}, {}  # scores[seed][(who, beam)], seconds[(seed, who)]
    for seed in seeds:
        seed_dir = os.path.join(args.out, f"seed-{seed}")
        overrides = ["data.train=" + files["train"], "data.val=" + files["dev"], f"train.batch_size={args.batch}",
                     f"train.max_steps={args.steps}", f"train.seed={seed}",
                     f"train.eval_interval={min(1000, args.steps)}", f"train.ckpt_interval={min(500, args.steps)}"]
        if args.qkv_threads:
            overrides.append(f"train.threads={args.qkv_threads}")
        ckpts = {}
        qkv_dir = os.path.join(seed_dir, "qkv")
        if not args.no_qkv and not args.score_only:
            took = common.train(qkv, args.config, overrides, qkv_dir, f"qkv train (seed {seed})", stop_at,
                                reuse=args.resume)
            if took is not None:
                seconds[(seed, "qkv")] = took
        if os.path.exists(os.path.join(qkv_dir, "ckpt.qkv")):
            ckpts["qkv"] = os.path.join(qkv_dir, "ckpt.qkv")
        ref_ckpt = os.path.join(seed_dir, "ref", "reference.qkv")
        if args.score_only or (args.resume and os.path.exists(ref_ckpt)):  # written when the training ends
            if os.path.exists(ref_ckpt):
                ckpts["reference"] = ref_ckpt
        elif torch is not None:
            # Only the reference needs the resolved config and `qkv init`'s tokenizer (qkv's training learns its own).
            config_file = os.path.join(seed_dir, "resolved-config.json")
            config, init_ckpt = common.resolved_config(qkv, args.config, overrides, os.path.join(seed_dir, "init"),
                                                       save_as=config_file)
            print(f"  PyTorch reference, seed {seed} ({torch.get_num_threads()} threads):", flush=True)
            saved, took = seq2seq_reference.train(qkv, config, config_file, init_ckpt, files["train"], args.steps,
                                                  seed, os.path.join(seed_dir, "ref"), torch,
                                                  bias_init=args.reference_bias, stop_at=stop_at, resume=args.resume)
            if not stop_at:
                ckpts["reference"], seconds[(seed, "reference")] = saved[args.steps], took[args.steps]
        if stop_at:  # a chunk: nothing to score until the last one
            continue
        scores[seed] = score_seed(qkv, seed_dir, ckpts, src_file, test_src, test_ref, ref_file, beams, bleu_python)

    if stop_at:
        print(f"stopped after step {stop_at} of {args.steps}: continue with the same arguments and --resume "
              f"(and a later --stop-at, or none to finish and score)")
        return 0

    def bleu(seed, who, beam):
        return scores[seed][(who, beam)][0] if (who, beam) in scores[seed] else None

    def mean(who, beam):
        got = [bleu(s, who, beam) for s in seeds]
        return None if None in got else sum(got) / len(got)

    rows = []
    for beam in beams:
        name = bleu_bootstrap.decoding(beam)
        for seed in seeds:
            rows.append([f"BLEU-4 (13a), {name}, seed {seed}", "", fmt(bleu(seed, "reference", beam), 2),
                         fmt(bleu(seed, "qkv", beam), 2)])
        if len(seeds) > 1:
            rows.append([f"BLEU-4 (13a), {name}, mean of {len(seeds)} seeds", "", fmt(mean("reference", beam), 2),
                         fmt(mean("qkv", beam), 2)])
    agree = [(seed, who, beam, ours, sb) for seed in seeds for (who, beam), (ours, sb, _) in scores[seed].items()
             if sb is not None]
    versions = {v for seed in seeds for (_, _, v) in scores[seed].values() if v}
    if agree:
        worst = max(abs(ours - sb) for *_, ours, sb in agree)
        rows.append([f"  largest difference from sacrebleu {', '.join(sorted(versions))} over {len(agree)} output files", "",
                     "", f"{worst:.3f}"])
    for seed in seeds:
        rows.append([f"training wall time, seed {seed}" + (" (qkv: its last chunk)" if args.resume else ""),
                     "", f"{seconds[(seed, 'reference')]:.0f} s" if (seed, "reference") in seconds else "reused",
                     f"{seconds[(seed, 'qkv')]:.0f} s" if (seed, "qkv") in seconds else "reused"])
    common.table(f"English -> German, Ding pairs ({args.test} held out; {args.steps} steps of batch {args.batch}; "
                 "no published figure: the target is the PyTorch reference)", rows)
    common.print_commands()
    ok = True
    for seed, who, beam, ours, sb in agree:
        ok &= common.verdict(f"BLEU agrees with sacrebleu (seed {seed}, {who}, beam {beam})", abs(ours - sb) <= 0.1,
                             f"{ours:.3f} vs {sb:.3f}")
    if not bleu_python:
        print("sacrebleu unavailable: the agreement check did not run")
    for beam in beams:
        both = [s for s in seeds if bleu(s, "qkv", beam) is not None and bleu(s, "reference", beam) is not None]
        if both:
            name = bleu_bootstrap.decoding(beam)
            hyps = lambda who: [bleu_bootstrap.hyp_file(os.path.join(args.out, f"seed-{s}"), who, beam) for s in both]
            _, lo, hi = bleu_bootstrap.report(name, test_ref, hyps("qkv"), hyps("reference"),
                                              bleu_bootstrap.RESAMPLES, bleu_bootstrap.SEED)
            ok &= bleu_bootstrap.within_target(name, len(both), lo, hi, bleu_bootstrap.WITHIN)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
