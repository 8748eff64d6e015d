#!/usr/bin/python3
"""The PyTorch side of scripts/bench.sh: training steps of the reference model (scripts/reference), timed
exactly as `qkv bench` times qkv's, and greedy GPT generation with and without a KV cache.

    /usr/bin/python3 scripts/bench_ref.py CONFIG [--steps 20] [--warmup 3] [--threads T] [--generate N]
    /usr/bin/python3 scripts/bench_ref.py --info

CONFIG is a resolved qkv config (JSON), or the output of `qkv bench CONFIG --json`, whose "config" is used.
Prints one JSON object.

- A step, as qkv bench: forward, loss, backward, clip_grad_norm_ (optim.grad_clip; 0 only measures the
  norm), the optimizer step (train_ref.make_optimizer, at a fixed learning rate of 1e-4 as qkv bench) and
  zero_grad(set_to_none=True) as nanoGPT. Random batches of the same shapes, drawn once: x, y [B, T] ids;
  GPT predicts y from x, seq2seq translates x into y (y is also the decoder's input, as in qkv bench),
  encoder MLM keeps 15% of y as targets (the rest -100), classification draws labels in {0, 1}. Dropout is
  on (train mode). ms_per_step is the median of the timed steps (the upper median, as qkv), after warm-up.
- peak_rss_mb: ru_maxrss of this process after the steps (the interpreter and torch included).
- --generate N: tokens/s of greedy decoding of N tokens from the 1-token prompt [0] (batch 1), the median of
  5 runs after one warm-up: without a cache (the reference's generate_greedy recomputes the whole context)
  and with the KV cache below. Both crop the context to block_size as qkv does (the cache is used while the
  sequence fits in a block). The cached decode is checked against the uncached one first.
- --steps 0 skips the step timing (for a generation-only run).
"""
import argparse
import json
import os
import re
import resource
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import models, train_ref  # noqa: E402

CACHE_CHECK_STEPS = 8
BENCH_LR = 1e-4  # qkv bench steps the optimizer at this rate


def load_config(path):
    with open(path) as f:
        j = json.load(f)
    return j["config"] if "config" in j and "model" not in j else j


def build_model(config):
    m = dict(config["model"])
    if m["kind"] == "encoder" and config["data"]["task"] == "classify" and m.get("n_classes", 0) == 0:
        m["n_classes"] = 2  # as qkv bench
    c = models.ModelConfig(**m, task=config["data"]["task"], label_smoothing=config["optim"]["label_smoothing"])
    return {"gpt": models.GPT, "encoder": models.Encoder, "seq2seq": models.Seq2Seq}[c.kind](c)


def loss_function(model, config, gen):
    """The step's loss on batches drawn once, as qkv bench."""
    B, T, V = config["train"]["batch_size"], config["model"]["block_size"], config["model"]["vocab_size"]
    x = torch.randint(0, V, (B, T), generator=gen)
    y = torch.randint(0, V, (B, T), generator=gen)
    kind, task = config["model"]["kind"], config["data"]["task"]
    if kind == "gpt":
        return lambda: model(x, y)[1]
    if kind == "seq2seq":
        smoothing = config["optim"]["label_smoothing"]
        return lambda: model(x, y, y, label_smoothing=smoothing)[1]
    if task == "classify":
        labels = torch.randint(0, 2, (B,), generator=gen)
        return lambda: model.classify(x, None, labels)[1]
    mlm_targets = torch.where(torch.rand(B, T, generator=gen) < 0.15, y, torch.full_like(y, -100))
    return lambda: model.mlm(x, None, mlm_targets)[1]


def time_steps(model, config, steps, warmup, gen):
    model.train()
    loss_of = loss_function(model, config, gen)
    optimizer = train_ref.make_optimizer(model, config["optim"])
    for g in optimizer.param_groups:
        g["lr"] = BENCH_LR
    params = list(model.parameters())
    clip = config["optim"]["grad_clip"]
    times = []
    for s in range(warmup + steps):
        t0 = time.perf_counter()
        loss = loss_of()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        else:  # qkv measures the norm even when it does not clip
            torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if s >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times[0]


# ---------------------------------------------------------------------------------------------- generation


class CachedGPT:
    """Greedy decoding of the reference GPT with a KV cache, from the model's own modules: each layer keeps
    k and v [1, NH, T, hs] and a step feeds only the tokens the cache has not seen."""

    def __init__(self, model):
        self.model, self.t = model, model.transformer
        self.cache = [None] * len(self.t.h)

    def attention(self, attn, h, layer, offset):
        q, k, v = attn.heads(attn.c_attn(h), 3)
        if attn.rope:
            q, k = models.rope(q, offset), models.rope(k, offset)
        if self.cache[layer] is not None:
            k = torch.cat([self.cache[layer][0], k], dim=2)
            v = torch.cat([self.cache[layer][1], v], dim=2)
        self.cache[layer] = (k, v)
        y = models.attend(q, k, v, causal=True)  # causal with Tk > Tq: query i sees keys up to offset + i
        B, T, C = h.shape
        return attn.resid_dropout(attn.c_proj(y.transpose(1, 2).reshape(B, T, C)))

    def last_logits(self, ids, offset):
        """Logits [V] of the last of `ids` (the tokens at positions offset, offset + 1, ...)."""
        t = self.t
        x = t.drop(models.add_positions(t.wte(torch.tensor([ids])), t["wpe"] if "wpe" in t else None, offset))
        for i, block in enumerate(t.h):
            x = block.sublayer(block.ln_1, x, lambda h, block=block, i=i: self.attention(block.attn, h, i, offset))
            x = block.sublayer(block.ln_2, x, block.mlp)
        if "ln_f" in t:
            x = t.ln_f(x)
        return self.model.lm_head(x[0, -1])


@torch.no_grad()
def generate_cached(model, prompt, n_new, logits_out=None):
    """Greedy continuation as qkv's generate: the cache while the sequence fits in a block, then (positions
    shift) the last block_size tokens recomputed each step."""
    block, tokens, seen = model.config.block_size, list(prompt), 0
    dec = CachedGPT(model)
    for _ in range(n_new):
        if len(tokens) <= block:
            logits = dec.last_logits(tokens[seen:], seen)
            seen = len(tokens)
        else:
            logits = model(torch.tensor([tokens[-block:]]))[0][0, -1]
        if logits_out is not None:
            logits_out.append(logits)
        tokens.append(int(torch.argmax(logits)))
    return tokens


@torch.no_grad()
def check_cache(model, n):
    """The cached decode gives the uncached one's logits (to 1e-4) and tokens for the first n steps."""
    cached_logits = []
    cached = generate_cached(model, [0], n, cached_logits)
    tokens = [0]
    for step in range(n):
        logits = model(torch.tensor([tokens[-model.config.block_size:]]))[0][0, -1]
        diff = float((logits - cached_logits[step]).abs().max())
        if diff > 1e-4 * max(1.0, float(logits.abs().max())):
            raise SystemExit(f"bench_ref: the cached decode differs from the uncached one at step {step} "
                             f"(max |logit difference| {diff:.3g})")
        tokens.append(int(torch.argmax(logits)))
    if tokens != cached[: n + 1]:
        raise SystemExit(f"bench_ref: cached tokens {cached[: n + 1]} differ from uncached {tokens}")


def generation_tokens_per_s(fn, n):
    fn()  # warm-up
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return n / times[len(times) // 2]


def time_generation(model, n):
    model.eval()
    check_cache(model, min(n, CACHE_CHECK_STEPS))
    cached = generation_tokens_per_s(lambda: generate_cached(model, [0], n), n)
    uncached = generation_tokens_per_s(lambda: model.generate_greedy([0], n), n)
    return {"generate_tokens": n, "generate_tokens_per_s": cached, "generate_nocache_tokens_per_s": uncached,
            "cache_check": "ok"}


# ---------------------------------------------------------------------------------------------- info


def blas_info():
    """torch's BLAS_INFO build setting and the BLAS library this process has loaded (after a matmul)."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"(blas|mkl_rt|libmkl)", os.path.basename(path)):
                libs.add(os.path.realpath(path))
    return {"blas_info": m.group(1) if m else "unknown", "blas_libraries": sorted(libs)}


def info(threads):
    return {"torch": torch.__version__, "python": sys.executable, "threads": threads, **blas_info()}


def default_threads(config):
    if config and config["train"].get("threads", 0) > 0:
        return config["train"]["threads"]
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else len(os.sched_getaffinity(0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", help="resolved qkv config, or `qkv bench --json` output")
    ap.add_argument("--steps", type=int, default=20, help="timed steps (0: none)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: the config's, else all)")
    ap.add_argument("--generate", type=int, default=0, help="also time greedy GPT generation of N tokens")
    ap.add_argument("--info", action="store_true", help="print torch's version, BLAS and threads, and exit")
    a = ap.parse_args()
    if not a.info and not a.config:
        ap.error("give a config (or --info)")
    if a.steps < 0 or a.warmup < 0 or a.generate < 0:
        ap.error("--steps, --warmup and --generate must be >= 0")
    config = load_config(a.config) if a.config else None
    threads = a.threads if a.threads > 0 else default_threads(config)
    torch.set_num_threads(threads)
    if a.info:
        print(json.dumps(info(threads)))
        return
    if a.generate and config["model"]["kind"] != "gpt":
        ap.error(f"--generate needs a gpt model, the config has a {config['model']['kind']}")

    seed = config["train"]["seed"]
    torch.manual_seed(seed)
    model = build_model(config)
    B, T = config["train"]["batch_size"], config["model"]["block_size"]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": a.steps,
           "params": sum(p.numel() for p in model.parameters())}
    if a.steps > 0:
        median, fastest = time_steps(model, config, a.steps, a.warmup, torch.Generator().manual_seed(seed))
        out.update({"ms_per_step": median * 1e3, "fastest_ms": fastest * 1e3, "tokens_per_s": B * T / median,
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    if a.generate:
        out.update(time_generation(model, a.generate))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
