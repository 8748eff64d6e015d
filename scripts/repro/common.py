"""Helpers shared by the reproduction scripts: running qkv, reading metrics, timing, the result table.

Every script runs under /usr/bin/python3 (PyTorch and numpy live there); PyTorch is optional: without it
the reference columns read "not run".
"""
import json
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


# The corpus of nanoGPT's CPU recipe, shipped in the repository (data/README.md says where it comes from).
SHAKESPEARE = os.path.join(ROOT, "data", "tinyshakespeare.txt")


def gpt_baby_data(config, data):
    """data.train for a campaign script: the one given, else for configs/gpt-baby.json the repository's
    tinyshakespeare as an absolute path (the config's own path is relative to the checkout, so it only works from
    there) when it exists, else None (the config's own)."""
    if data is None and os.path.basename(config) == "gpt-baby.json" and os.path.exists(SHAKESPEARE):
        return SHAKESPEARE
    return data


def default_qkv():
    return os.path.join(ROOT, "build", "qkv")


def check_qkv(path):
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} is not an executable: build it (cmake -S . -B build -G Ninja && ninja -C build) or pass --qkv")
    return path


def torch_or_none():
    """PyTorch and the reference package, or None when PyTorch is missing."""
    try:
        import torch  # noqa: F401
        from reference import models, safetensors_io, train_ref  # noqa: F401
        return torch
    except ImportError:
        return None


COMMANDS = []  # every command run, in order, printed at the end


def show(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


# NOTE [passive OpenMP threads]: batch-1 inference (eval, translate) runs thousands of tiny parallel regions. With
# libgomp's default of spinning threads, a 2-core machine shared with another busy process (a training, a build)
# made `qkv eval` of 100 windows take 40 s instead of 1.5 s: a spinning thread waits for its descheduled partner.
# Everything but `qkv train` (whose wall time is the measurement) runs with passive waiting; the losses are the same.
PASSIVE = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")


def run(cmd, stdin=None, log=None, echo=None, nice=True):
    """Runs cmd (a list); returns (stdout, seconds). log: a file for stdout+stderr; echo(line) -> bool picks
    the lines also printed live. Exits with the command's stderr when it fails."""
    cmd = [str(c) for c in cmd]
    env = None if len(cmd) > 1 and cmd[1] == "train" else PASSIVE
    COMMANDS.append(show(cmd) + (" < " + stdin[0] if isinstance(stdin, tuple) else ""))
    full = (["nice", "-n", "10"] if nice else []) + cmd
    start = time.time()
    data = stdin[1] if isinstance(stdin, tuple) else stdin
    # A model's output need not be valid UTF-8 (byte-level BPE tokens of an untrained model): replace, not fail.
    text = dict(encoding="utf-8", errors="replace")
    if log is None and echo is None:
        p = subprocess.run(full, input=data, capture_output=True, env=env, **text)
        if p.returncode != 0:
            sys.exit(f"command failed (exit {p.returncode}): {show(cmd)}\n{p.stderr.strip()}")
        return p.stdout, time.time() - start
    out = []
    with open(log or os.devnull, "w") as f:
        p = subprocess.Popen(full, stdin=subprocess.PIPE if data is not None else None, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, bufsize=1, env=env, **text)
        if data is not None:
            p.stdin.write(data)
            p.stdin.close()
        for line in p.stdout:
            f.write(line)
            out.append(line)
            if echo and echo(line):
                print("    " + line.rstrip(), flush=True)
        rc = p.wait()
    if rc != 0:
        tail = "".join(out[-15:])
        sys.exit(f"command failed (exit {rc}): {show(cmd)}\n{tail}" + (f"(log: {log})" if log else ""))
    return "".join(out), time.time() - start


# The settings `qkv train --resume` accepts with --set (resumable_override in train/run_setup.cpp).
RESUMABLE = ("train.max_steps", "train.eval_interval", "train.log_interval", "train.ckpt_interval", "train.out_dir",
             "train.threads", "train.precision")


def checkpoint_info(qkv, ckpt):
    """`qkv info --json` of a checkpoint (step, config, ...), or None when the file is missing."""
    return json.loads(run([qkv, "info", ckpt, "--json"])[0]) if os.path.exists(ckpt) else None


def differing_overrides(config, overrides):
    """The KEY=VALUE overrides (outside RESUMABLE) whose value the resolved config does not hold."""
    def value(text):
        try:
            return json.loads(text)
        except ValueError:
            return text
    bad = []
    for kv in overrides:
        key, text = kv.split("=", 1)
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        same_path = isinstance(node, str) and os.path.abspath(node) == os.path.abspath(text)  # both from ROOT
        if key not in RESUMABLE and node != value(text) and not same_path:
            bad.append(f"{key}={text} (the checkpoint has {json.dumps(node)})")
    return bad


def train(qkv, config, overrides, out_dir, what, stop_at=0, reuse=False):
    """qkv train CONFIG --set ... with its output in OUT_DIR/train.log; the eval lines are printed live.
    Returns the wall time in seconds. A rerun trains again: OUT_DIR is the script's own, so --overwrite.
    stop_at > 0: stop after that step (a checkpoint, as an interruption).
    reuse: a run that OUT_DIR/ckpt.qkv shows finished (or at stop_at) is kept (returns None), one that stopped
    early (--stop-at, Ctrl-C, SIGTERM, or killed after a periodic checkpoint) is resumed (the overrides still
    apply; its log is OUT_DIR/train-resumed-STEP.log, STEP where it resumes), and only a missing one starts: a
    script rerun with it picks up where it was stopped, so a long reproduction runs in pieces across sessions.
    The overrides must be the ones the checkpoint was trained with."""
    os.makedirs(out_dir, exist_ok=True)
    info = checkpoint_info(qkv, os.path.join(out_dir, "ckpt.qkv")) if reuse else None
    if info is not None:
        bad = differing_overrides(info["config"], overrides)
        if bad:
            sys.exit(f"{out_dir}: holds a run of other settings than asked for: {'; '.join(bad)}")
        target = [int(kv.split("=", 1)[1]) for kv in overrides if kv.startswith("train.max_steps=")]
        max_steps = target[-1] if target else info["config"]["train"]["max_steps"]
        if info["step"] >= max_steps or 0 < stop_at <= info["step"]:
            print(f"  {what}: reused ({out_dir}: at step {info['step']} of {max_steps})", flush=True)
            return None
        print(f"  {what}: resuming after step {info['step']} of {max_steps}", flush=True)
    resume = info is not None
    if resume:  # qkv refuses --set of anything that would change the run's arithmetic; the rest is in the checkpoint
        overrides = [kv for kv in overrides if kv.split("=", 1)[0] in RESUMABLE]
    sets = [x for kv in overrides for x in ("--set", kv)] + ["--set", "train.out_dir=" + out_dir]
    if resume:
        cmd = [qkv, "train", "--resume", os.path.join(out_dir, "ckpt.qkv")] + sets
    else:
        cmd = [qkv, "train", config] + sets + ["--overwrite"]
    if stop_at > 0:
        cmd += ["--stop-at", str(stop_at)]
    print(f"  {what}: {show(cmd)}", flush=True)
    is_eval = lambda line: (line.startswith("step ") and ": train loss" in line) or line.startswith("init_from")
    log = f"train-resumed-{info['step']}.log" if resume else "train.log"
    _, seconds = run(cmd, log=os.path.join(out_dir, log), echo=is_eval)
    print(f"  {what}: {seconds:.1f} s of wall time", flush=True)
    return seconds


def metrics(out_dir):
    """(train lines, eval lines) of OUT_DIR/metrics.jsonl."""
    train_lines, eval_lines = [], []
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            (eval_lines if "val_loss" in j else train_lines).append(j)
    return train_lines, eval_lines


def eval_at(eval_lines, step, key="val_loss"):
    for j in eval_lines:
        if j["step"] == step:
            return j.get(key)
    return None


def qkv_eval(qkv, ckpt, data):
    out, _ = run([qkv, "eval", ckpt, "--data", data, "--json"])
    return json.loads(out)


def fmt(x, digits=4):
    if x is None:
        return "not run"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def table(title, rows, header=("", "published", "PyTorch here", "qkv here")):
    """rows: lists of cells (strings); prints a Markdown table."""
    print(f"\n{title}\n")
    cells = [list(header)] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))


def print_commands():
    print("\ncommands run:")
    for c in COMMANDS:
        print("  " + c)


def verdict(name, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    return ok


def resolved_config(qkv, config, overrides, workdir, save_as=None):
    """The config qkv resolves (every default filled in, decay_steps fixed) for CONFIG --set OVERRIDES, from
    `qkv init` and `qkv info --json`; also returns the untrained checkpoint's path. save_as: a JSON file to write
    the resolved config to (what `qkv import --config` reads)."""
    os.makedirs(workdir, exist_ok=True)
    ckpt = os.path.join(workdir, "init.qkv")
    run([qkv, "init", config] + [x for kv in overrides for x in ("--set", kv)] + ["--out", ckpt])
    out, _ = run([qkv, "info", ckpt, "--json"])
    resolved = json.loads(out)["config"]
    if save_as:
        with open(save_as, "w") as f:
            json.dump(resolved, f, indent=1)
    return resolved, ckpt


def tokenizer_file(qkv, ckpt, path):
    """Writes the checkpoint's tokenizer to PATH as a qkv tokenizer file (for `qkv tokenizer encode`)."""
    run([qkv, "tokenizer", "extract", ckpt, "--out", path])
