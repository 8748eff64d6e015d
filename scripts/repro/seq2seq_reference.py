"""The PyTorch reference Seq2Seq (scripts/reference) trained on a qkv seq2seq config's recipe, for the
reproductions that put it beside qkv (de_en.py, copy_task.py).

The tokens are qkv's: the tokenizer comes from `qkv init` of the same config and encodes through
`qkv tokenizer encode`. Initialisation as qkv's Seq2Seq: Xavier-uniform for every matrix (as the Annotated
Transformer), LayerNorm weights 1, and every bias 0, so that both models start from the same distribution.
bias_init="torch" (de_en.py --reference-bias torch) gives the Linear biases PyTorch's default instead (uniform in
+-1/sqrt(fan_in), as in the Annotated Transformer): the reference before 2026-12, which the EN-DE and copy-task
runs of 2026-11-29 used. An epoch is qkv's ParallelDataset::epoch, drawn from a torch.Generator: shuffle, sort
pools of 100 batches by length, shuffle the batches. Checkpoints go through `qkv import`, so both models are
decoded by the same `qkv translate`.
"""
import json
import os
import sys
import time

import common


def encode(qkv, tok, lines):
    out, _ = common.run([qkv, "tokenizer", "encode", tok], stdin=(f"({len(lines)} lines)", "\n".join(lines) + "\n"))
    rows = out.split("\n")[: len(lines)]
    return [[int(x) for x in r.split()] for r in rows]


def init_weights(model, torch, bias_init="zero"):
    """Xavier-uniform for every matrix (embeddings included, as qkv's Seq2Seq::init_weights); the Linear biases
    zero (bias_init="zero", as qkv) or PyTorch's default (bias_init="torch"); LayerNorm keeps weight 1, bias 0."""
    if bias_init not in ("zero", "torch"):
        raise ValueError(f"bias_init must be zero or torch, got {bias_init!r}")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                torch.nn.init.xavier_uniform_(p)
            elif bias_init == "zero" and name.endswith(".bias"):
                p.zero_()  # LayerNorm biases are 0 already; this zeroes the Linear ones


def train(qkv, config, config_file, init_ckpt, train_tsv, steps, seed, workdir, torch, save_at=(), log_every=500,
          bias_init="zero", stop_at=0, resume=False, state_every=500):
    """Trains the reference for `steps` steps; returns {step: checkpoint} and {step: seconds of training up to
    it}. The last step is written to WORKDIR/reference.qkv, each earlier step of `save_at` to
    WORKDIR/reference-STEP.qkv. bias_init: see init_weights. stop_at (0 < stop_at < steps): stop after that step
    and write WORKDIR/reference-state.pt (weights, Adam's state, the batch generator, the epoch's remaining
    batches, the dropout generator), so that a later call with resume=True continues exactly where it stopped:
    long trainings run in chunks across sessions, as `qkv train --stop-at` and `--resume`. The same state is
    written every `state_every` steps (as qkv's periodic checkpoints), so a run killed without warning resumes
    from the last one; resume=True without a state file starts from the beginning."""
    from reference import models, safetensors_io, train_ref
    os.makedirs(workdir, exist_ok=True)
    weights = os.path.join(workdir, "init.safetensors")
    common.run([qkv, "export", init_ckpt, "--out", weights])
    _, meta = safetensors_io.read(weights)
    tok_file = os.path.join(workdir, "shared.tok")
    common.tokenizer_file(qkv, init_ckpt, tok_file)
    # models.Tokenizer (and so models.from_config) decodes every token as UTF-8, which byte-level BPE tokens are
    # not: read the vocabulary here.
    tj = json.loads(meta["qkv.tokenizer"])
    tokens, specials = [bytes.fromhex(t) for t in tj["tokens"]], tj["specials"]
    pad, bos, eos = specials["PAD"], specials["BOS"], specials["EOS"]
    with open(train_tsv, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    src, tgt = encode(qkv, tok_file, [r[0] for r in rows]), encode(qkv, tok_file, [r[1] for r in rows])
    check = b"".join(tokens[i] for i in src[0]).decode("utf-8")
    if check != rows[0][0]:
        sys.exit(f"tokenizer round trip failed: {rows[0][0]!r} -> {check!r}")
    m = config["model"]
    max_len = config["data"]["max_len"] or m["block_size"]
    pairs = [(s, t) for s, t in zip(src, tgt) if len(s) <= max_len and len(t) + 1 <= max_len]
    print(f"  reference: {len(pairs)} training pairs ({len(rows) - len(pairs)} longer than {max_len} dropped), "
          f"vocabulary {len(tokens)}", flush=True)

    torch.manual_seed(seed)
    model = models.Seq2Seq(models.ModelConfig(**dict(m, vocab_size=len(tokens)), pad_id=pad, task="seq2seq",
                                              label_smoothing=config["optim"]["label_smoothing"]))
    init_weights(model, torch, bias_init)
    optimizer = train_ref.make_optimizer(model, config["optim"])
    g = torch.Generator().manual_seed(seed)
    B = config["train"]["batch_size"]

    def epoch():  # qkv's ParallelDataset::epoch: shuffle, pools of 100 B sorted by lengths, batches shuffled
        order = torch.randperm(len(pairs), generator=g).tolist()
        batches = []
        for p in range(0, len(order), 100 * B):
            pool = sorted(order[p:p + 100 * B], key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
            batches += [pool[i:i + B] for i in range(0, len(pool), B)]
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def tensors(idx):
        def padded(seqs):
            T = max(len(s) for s in seqs)
            return torch.tensor([s + [pad] * (T - len(s)) for s in seqs])
        return (padded([pairs[i][0] for i in idx]), padded([[bos] + pairs[i][1] for i in idx]),
                padded([pairs[i][1] + [eos] for i in idx]))

    def loss_of(model_, b):
        return model_(*b)[1]

    def save(name):
        out = os.path.join(workdir, name + ".safetensors")
        safetensors_io.write(out, {k: v.detach().numpy() for k, v in model.state_dict().items()})
        ckpt = os.path.join(workdir, name + ".qkv")
        common.run([qkv, "import", out, "--config", config_file, "--out", ckpt])
        return ckpt

    model.train()
    batches, start, window, saved, seconds, saving = [], time.time(), [], {}, {}, 0.0
    state_file, first = os.path.join(workdir, "reference-state.pt"), 1
    def write_state(step):
        tmp = state_file + ".tmp"  # renamed over the last one only when complete
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": g.get_state(),
                    "dropout": torch.get_rng_state(), "batches": batches, "window": window, "saved": saved,
                    "seconds": seconds, "step": step, "elapsed": time.time() - start - saving}, tmp)
        os.replace(tmp, state_file)

    if resume and not os.path.exists(state_file):
        print(f"    reference: no {state_file}, so it starts from step 1", flush=True)
    elif resume:
        st = torch.load(state_file)
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        g.set_state(st["generator"])
        torch.set_rng_state(st["dropout"])
        batches, window, saved, seconds, first = st["batches"], st["window"], st["saved"], st["seconds"], st["step"] + 1
        start -= st["elapsed"]  # the seconds of training before the stop count
        print(f"    reference resumed after step {st['step']}", flush=True)
    last = min(steps, stop_at) if stop_at > 0 else steps
    for step in range(first, last + 1):
        if not batches:
            batches = epoch()
        loss, lr, _ = train_ref.train_step(model, optimizer, config, step, [tensors(batches.pop())], loss_of)
        window.append(loss)
        if step % log_every == 0 or step == steps:
            print(f"    reference step {step}/{steps}: loss {sum(window) / len(window):.4f} (mean of the last "
                  f"{len(window)}), lr {lr:.2e}, {time.time() - start - saving:.0f} s", flush=True)
            window = []
        if step in save_at and step != steps:
            at = time.time()
            seconds[step] = at - start - saving
            saved[step] = save(f"reference-{step}")
            saving += time.time() - at
        if step == last < steps or (state_every and step % state_every == 0 and step < last):
            at = time.time()
            write_state(step)
            saving += time.time() - at
    if last < steps:
        print(f"    reference stopped after step {last}: {state_file}", flush=True)
        return saved, seconds
    seconds[steps] = time.time() - start - saving
    saved[steps] = save("reference")
    if os.path.exists(state_file):
        os.remove(state_file)  # finished: reference.qkv is the run's result
    return saved, seconds
