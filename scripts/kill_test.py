#!/usr/bin/python3
"""SIGKILL at random moments during training: every kill leaves checkpoints that load, and the resumed run ends
bitwise where an uninterrupted run ends (docs/RELIABILITY.md, issue 7).

    /usr/bin/python3 scripts/kill_test.py [--qkv build/qkv] [--config configs/gpt-baby.json] [--steps 300]
                                         [--kills 20] [--seed S] [--min-delay 0] [--max-delay 2]
                                         [--data PATH] [--out out/kill_test]

1. An uninterrupted reference run: `qkv train CONFIG` with train.max_steps=STEPS, ckpt_interval=10,
   eval_interval=100, threads=1, in OUT/ref.
2. The same run in OUT/kill, sent SIGKILL after a random delay (uniform in [min-delay, max-delay] seconds, from
   a seeded generator: the seed is printed, `--seed S` replays the same delays). After each kill, `qkv info`
   must load ckpt.qkv (and best.qkv when it exists), the checkpoint's step must not go back, and the run goes on
   with `qkv train --resume OUT/kill/run/ckpt.qkv`, killed again at a random moment, until it finishes by
   itself. (A kill before the first checkpoint exists starts the run afresh, as a user would.)
3. The finished run must match the reference: `qkv export` of ckpt.qkv and of best.qkv byte for byte, and every
   train and validation loss in metrics.jsonl (resumed runs append, so steps after a checkpoint appear more than
   once: each copy must equal the reference's) at the same step.
Exits 1 on any failure, or when the run finished after fewer than KILLS kills (raise --steps or lower
--max-delay). Both runs use the same relative out_dir ("run", from their own folder) because the export's
metadata records it. Standard library only.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "repro"))
import common  # noqa: E402  (scripts/repro/common.py: the qkv binary, the corpus, metrics)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, cwd, what):
    """Runs a short qkv command to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print(f"  {what}: exit {p.returncode}: {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr


def info_step(qkv, path, cwd):
    """The step of a checkpoint through `qkv info --json`, or None when it does not load."""
    code, out, _ = run([qkv, "info", path, "--json"], cwd, f"qkv info {path}")
    if code != 0:
        return None
    try:
        return json.loads(out)["step"]
    except (ValueError, KeyError):
        print(f"  qkv info {path}: no step in {out[:200]!r}")
        return None


def losses(path):
    """Every (kind, step, value) in a metrics.jsonl: train_loss and val_loss lines, in file order."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                d = json.loads(line)
            except ValueError:
                out.append(("torn", n, line))  # a line cut by a kill: reported as a failure
                continue
            for key in ("train_loss", "val_loss"):
                if key in d:
                    out.append((key, d["step"], d[key]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=common.default_qkv())
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "gpt-baby.json"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--kills", type=int, default=20, help="the least number of kills for a pass")
    ap.add_argument("--seed", type=int, default=None, help="seed of the delays (default: a random one, printed)")
    ap.add_argument("--min-delay", type=float, default=0.0)
    ap.add_argument("--max-delay", type=float, default=2.0)
    ap.add_argument("--data", default=None, help="data.train (default: data/tinyshakespeare.txt)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "kill_test"))
    args = ap.parse_args()

    qkv = common.check_qkv(args.qkv)
    data = args.data or common.SHAKESPEARE
    if not os.path.exists(data):
        sys.exit(f"kill_test: no data file {data} (pass --data)")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    # The runs work in their own folders, so the paths they are given must not be relative to ours.
    train = [qkv, "train", os.path.abspath(args.config), "--set", f"train.max_steps={args.steps}",
             "--set", "train.ckpt_interval=10", "--set", "train.eval_interval=100", "--set", "train.threads=1",
             "--set", "train.out_dir=run", "--set", "data.train=" + os.path.abspath(data)]
    resume = [qkv, "train", "--resume", "run/ckpt.qkv"]  # the checkpoint holds the config above
    print(f"kill_test: seed {seed} (rerun with --seed {seed}); delays uniform in "
          f"[{args.min_delay}, {args.max_delay}] s; at least {args.kills} kills")
    print("kill_test: train:", " ".join(train))
    print("kill_test: resume:", " ".join(resume), f"(in {args.out}/kill)")

    ref_dir, kill_dir = os.path.join(args.out, "ref"), os.path.join(args.out, "kill")
    for d in (ref_dir, kill_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    failures = []

    # 1. the uninterrupted reference
    start = time.time()
    with open(os.path.join(ref_dir, "train.log"), "w") as log:
        code = subprocess.call(train, cwd=ref_dir, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"kill_test: the reference run exited {code} (see {ref_dir}/train.log)")
    print(f"kill_test: reference run: {time.time() - start:.1f} s")

    # 2. kill, check, resume, until the run finishes by itself
    kills, before_first, during_write, checks, last_step, attempts = 0, 0, 0, 0, 0, 0
    finished = False
    log = open(os.path.join(kill_dir, "train.log"), "w")
    ckpt, best = os.path.join(kill_dir, "run", "ckpt.qkv"), os.path.join(kill_dir, "run", "best.qkv")
    while not finished and attempts < 50 * max(args.kills, 1):  # a bound, in case no delay lets it progress
        attempts += 1
        cmd = resume if os.path.exists(ckpt) else train
        delay = rng.uniform(args.min_delay, args.max_delay)
        log.write(f"\n=== {' '.join(cmd)} (SIGKILL after {delay:.3f} s)\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=kill_dir, stdout=log, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=delay)
            finished = True
            if code != 0:
                failures.append(f"the run exited {code} after {kills} kills (see {kill_dir}/train.log)")
            break
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)  # only the process this script started
            code = proc.wait()
        if code != -signal.SIGKILL:  # it ended by itself between the timeout and the signal
            finished = True
            if code != 0:
                failures.append(f"the run exited {code} after {kills} kills (see {kill_dir}/train.log)")
            break
        kills += 1
        # A .tmp left behind means the kill landed inside a checkpoint write (write, fsync, rename).
        tmps = [f for f in os.listdir(os.path.join(kill_dir, "run")) if f.endswith(".tmp")] \
            if os.path.isdir(os.path.join(kill_dir, "run")) else []
        during_write += bool(tmps)
        note = f"; inside a write ({', '.join(tmps)} left)" if tmps else ""
        if not os.path.exists(ckpt):
            before_first += 1
            print(f"kill {kills:3d} after {delay:5.2f} s: no checkpoint yet{note}; starting afresh")
            continue
        step = info_step(qkv, ckpt, kill_dir)
        checks += 1
        line = f"kill {kills:3d} after {delay:5.2f} s: ckpt.qkv step {step}"
        if step is None:
            failures.append(f"kill {kills}: ckpt.qkv does not load")
            line += " DOES NOT LOAD"
        elif step < last_step:
            failures.append(f"kill {kills}: ckpt.qkv went back from step {last_step} to {step}")
        else:
            last_step = step
        if os.path.exists(best):
            bstep = info_step(qkv, best, kill_dir)
            checks += 1
            line += f", best.qkv step {bstep}"
            if bstep is None:
                failures.append(f"kill {kills}: best.qkv does not load")
                line += " DOES NOT LOAD"
        print(line + note)
    log.close()
    if not finished:
        failures.append(f"the run did not finish after {attempts} attempts (raise --max-delay)")

    # 3. the same weights and losses as the reference
    same = False
    if finished:
        for name in ("ckpt.qkv", "best.qkv"):
            outs = []
            for d in (ref_dir, kill_dir):
                target = os.path.join(d, name + ".safetensors")
                if run([qkv, "export", os.path.join("run", name), "--to", target], d, f"qkv export {name}")[0]:
                    failures.append(f"{d}/run/{name} does not export")
                outs.append(target)
            if all(os.path.exists(o) for o in outs):
                with open(outs[0], "rb") as a, open(outs[1], "rb") as b:
                    equal = a.read() == b.read()
                print(f"kill_test: {name} exported: {'the same bytes as' if equal else 'DIFFERS from'} the "
                      f"uninterrupted run's")
                if not equal:
                    failures.append(f"{name}: the weights differ from the uninterrupted run's")
                same = equal if name == "ckpt.qkv" else same and equal
        ref = {(k, s): v for k, s, v in losses(os.path.join(ref_dir, "run", "metrics.jsonl"))}
        got = losses(os.path.join(kill_dir, "run", "metrics.jsonl"))
        torn = [s for k, s, _ in got if k == "torn"]
        if torn:
            failures.append(f"metrics.jsonl: {len(torn)} unreadable lines (lines {torn[:5]})")
        bad = [(k, s, v, ref.get((k, s))) for k, s, v in got if k != "torn" and ref.get((k, s)) != v]
        seen = {(k, s) for k, s, _ in got if k != "torn"}
        missing = sorted(set(ref) - seen)
        print(f"kill_test: metrics.jsonl: {len(got) - len(torn)} losses ({len(seen)} distinct steps), "
              f"{len(bad)} differ from the reference's, {len(missing)} of the reference's missing")
        if bad:
            failures.append(f"losses differ from the reference's, first: {bad[0]}")
        if missing:
            failures.append(f"losses missing from metrics.jsonl, first: {missing[0]}")
        final = [v for k, s, v in got if k == "train_loss" and s == args.steps]
        print(f"kill_test: final train loss {final[-1] if final else None} (reference "
              f"{ref.get(('train_loss', args.steps))})")
    if kills < args.kills:
        failures.append(f"only {kills} kills before the run finished (need {args.kills}: raise --steps or lower "
                        f"--max-delay)")

    print(f"kill_test: seed {seed}: {kills} kills ({before_first} before the first checkpoint, {during_write} "
          f"inside a checkpoint write), {checks} checkpoint loads checked, all OK: "
          f"{'yes' if not any('load' in f or 'went back' in f for f in failures) else 'NO'}; "
          f"finished: {'yes' if finished else 'NO'}; final weights equal the uninterrupted run's: "
          f"{'yes' if same else 'NO'}")
    for f in failures:
        print("FAIL", f)
    print("PASS" if not failures else "FAIL", f"kill_test: {kills} SIGKILLs at random moments, seed {seed}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
