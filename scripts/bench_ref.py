#!/usr/bin/python3
"""The PyTorch side of scripts/bench.sh: training steps of the reference model (scripts/reference), timed
exactly as `qkv bench` times qkv's, greedy GPT generation with and without a KV cache, and torch.matmul's
rates at 2048^3 and on a step's own GEMM shapes.

    /usr/bin/python3 scripts/bench_ref.py CONFIG [--steps 20] [--warmup 3] [--threads T] [--generate N]
        [--pytorch2 [--bf16]]
    /usr/bin/python3 scripts/bench_ref.py --info [--matmul] [--threads T]
    ~/.cache/qkv/torch2/bin/python scripts/bench_ref.py BENCH_JSON --gemm-shapes [--threads T]

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
- --pytorch2: the model as a PyTorch 2 user writes it (needs torch >= 2.0): attention through
  F.scaled_dot_product_attention (models.ModelConfig(sdpa=True); GPT's is is_causal=True with dropout_p), and
  the optimizer with fused=True when this torch has the fused kernel on CPU, else foreach=True. Without it the
  reference runs as the parity scripts run it (PyTorch 1.13: composite attention, the default optimizer).
- --bf16 (with --pytorch2): forward and loss under torch.autocast("cpu", dtype=torch.bfloat16); backward,
  clipping and the optimizer outside it, the parameters and gradients in float32.
- --info --matmul: also torch.matmul's GFLOP/s at 2048^3 in float32 and bfloat16 (the best of 3 after one).
- --gemm-shapes: BENCH_JSON is `qkv bench CONFIG --json`; each of its "gemm_shapes" (transpose_a/b, M, N, K,
  team, calls) is timed through torch.matmul in float32 and bfloat16 (the best of 3 rounds of about 10 ms,
  the transposed operand a transposed view; a shape that qkv ran `team` at a time, one per thread, is timed as
  one batched matmul of `team`), and the step-weighted rate is sum(calls x 2MNK) / sum(calls x seconds).
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


def build_model(config, sdpa=False):
    m = dict(config["model"], sdpa=sdpa)
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


def make_optimizer(model, optim, pytorch2):
    """(optimizer, implementation): fused=True when this torch has the fused kernel for CPU tensors (its
    constructor refuses otherwise), else foreach=True; the default implementation without pytorch2."""
    if not pytorch2:
        return train_ref.make_optimizer(model, optim), "default"
    try:
        return train_ref.make_optimizer(model, optim, fused=True), "fused"
    except (RuntimeError, TypeError, ValueError):
        return train_ref.make_optimizer(model, optim, foreach=True), "foreach"


def time_steps(model, config, steps, warmup, gen, optimizer, bf16):
    model.train()
    loss_of = loss_function(model, config, gen)
    if bf16:
        fp32_loss_of = loss_of

        def loss_of():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return fp32_loss_of()
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
        attend = models.attend_sdpa if attn.sdpa else models.attend
        y = attend(q, k, v, causal=True)  # causal with Tk > Tq: query i sees keys up to offset + i
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
            name = os.path.basename(path)
            if re.search(r"(blas|mkl_rt|libmkl)", name) and not name.startswith("libcublas"):  # GPU BLAS: unused
                libs.add(os.path.realpath(path))
    return {"blas_info": m.group(1) if m else "unknown", "blas_libraries": sorted(libs)}


def info(threads):
    j = {"torch": torch.__version__, "python": sys.executable, "threads": threads, **blas_info(),
         "mkldnn": torch.backends.mkldnn.is_available()}
    if hasattr(torch.backends, "cpu") and hasattr(torch.backends.cpu, "get_cpu_capability"):
        j["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return j


# ---------------------------------------------------------------------------------------------- matmul


def operands(M, N, K, transpose_a, transpose_b, batch, dtype):
    """A [batch, M, K] and B [batch, K, N] (no batch dimension when batch is 1); a transposed operand is the
    transposed view of a tensor stored the other way round, as the GEMM reads it."""
    lead = (batch,) if batch > 1 else ()
    a = torch.randn(*lead, K, M).transpose(-2, -1) if transpose_a else torch.randn(*lead, M, K)
    b = torch.randn(*lead, N, K).transpose(-2, -1) if transpose_b else torch.randn(*lead, K, N)
    return a.to(dtype), b.to(dtype)


def matmul_seconds(a, b):
    """Seconds per torch.matmul(a, b): the best of 3 rounds of about 10 ms (at least one call) after one."""
    def round_of(n):
        t0 = time.perf_counter()
        for _ in range(n):
            torch.matmul(a, b)
        return time.perf_counter() - t0

    n = min(max(int(0.01 / max(round_of(1), 1e-9)), 1), 100000)
    return min(round_of(n) / n for _ in range(3))


def matmul_peak(dtype, n=2048):
    a, b = operands(n, n, n, False, False, 1, dtype)
    return 2.0 * n ** 3 / matmul_seconds(a, b) * 1e-9


def gemm_shapes(bench):
    """torch.matmul on the step's GEMM shapes in float32 and bfloat16: the step-weighted GFLOP/s of each."""
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "shapes": []}
    totals = {"fp32": [0.0, 0.0], "bf16": [0.0, 0.0]}  # flops, seconds per step
    for s in bench["gemm_shapes"]:
        M, N, K, team, calls = s["M"], s["N"], s["K"], s["team"], s["calls"]
        row = {k: s[k] for k in ("transpose_a", "transpose_b", "M", "N", "K", "team", "calls")}
        for mode, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a, b = operands(M, N, K, s["transpose_a"], s["transpose_b"], team, dtype)
            per_call = matmul_seconds(a, b) / team
            row[f"{mode}_us_per_call"] = per_call * 1e6
            totals[mode][0] += calls * 2.0 * M * N * K
            totals[mode][1] += calls * per_call
        out["shapes"].append(row)
    for mode, (flops, seconds) in totals.items():
        out[f"{mode}_gflops"] = flops / seconds * 1e-9 if seconds > 0 else None
        out[f"{mode}_ms_per_step"] = seconds * 1e3
    return out


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
    ap.add_argument("--matmul", action="store_true", help="with --info: torch.matmul GFLOP/s at 2048^3, fp32 and bf16")
    ap.add_argument("--gemm-shapes", action="store_true",
                    help="time torch.matmul on the GEMM shapes of CONFIG (`qkv bench --json` output) and exit")
    ap.add_argument("--pytorch2", action="store_true",
                    help="the model as PyTorch 2 users write it: SDPA attention, fused (else foreach) optimizer")
    ap.add_argument("--bf16", action="store_true", help="with --pytorch2: forward and loss under bf16 autocast")
    a = ap.parse_args()
    if not a.info and not a.config:
        ap.error("give a config (or --info)")
    if a.bf16 and not a.pytorch2:
        ap.error("--bf16 goes with --pytorch2")
    if a.pytorch2 and not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        ap.error(f"--pytorch2 needs PyTorch >= 2.0 (scaled_dot_product_attention); this is {torch.__version__}")
    if a.steps < 0 or a.warmup < 0 or a.generate < 0:
        ap.error("--steps, --warmup and --generate must be >= 0")
    config = load_config(a.config) if a.config else None
    threads = a.threads if a.threads > 0 else default_threads(config)
    torch.set_num_threads(threads)
    if a.info:
        j = info(threads)
        if a.matmul:
            j["matmul_2048_fp32_gflops"] = matmul_peak(torch.float32)
            j["matmul_2048_bf16_gflops"] = matmul_peak(torch.bfloat16)
        print(json.dumps(j))
        return
    if a.gemm_shapes:
        with open(a.config) as f:
            bench = json.load(f)
        if "gemm_shapes" not in bench:
            ap.error(f"--gemm-shapes needs the output of `qkv bench CONFIG --json`, {a.config} has no gemm_shapes")
        print(json.dumps(gemm_shapes(bench)))
        return
    if a.generate and config["model"]["kind"] != "gpt":
        ap.error(f"--generate needs a gpt model, the config has a {config['model']['kind']}")

    seed = config["train"]["seed"]
    torch.manual_seed(seed)
    model = build_model(config, sdpa=a.pytorch2)
    B, T = config["train"]["batch_size"], config["model"]["block_size"]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": a.steps,
           "params": sum(p.numel() for p in model.parameters()), "mode": "bf16" if a.bf16 else "fp32",
           "attention": "sdpa" if a.pytorch2 else "composite"}
    if a.steps > 0:
        optimizer, out["optimizer_impl"] = make_optimizer(model, config["optim"], a.pytorch2)
        out["optimizer"] = type(optimizer).__name__
        median, fastest = time_steps(model, config, a.steps, a.warmup, torch.Generator().manual_seed(seed),
                                     optimizer, a.bf16)
        out.update({"ms_per_step": median * 1e3, "fastest_ms": fastest * 1e3, "tokens_per_s": B * T / median,
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    if a.generate:
        out.update(time_generation(model, a.generate))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
