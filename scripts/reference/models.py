"""PyTorch reference models with exactly qkv's architecture and parameter names (nn/gpt.h, nn/encoder.h,
nn/seq2seq.h), written for this project, so that the tensors of `qkv export` load with
`load_state_dict(state, strict=True)`.

Conventions mirrored from qkv:
- Linear weights are [out, in]; LayerNorm eps is 1e-5 and its bias exists only with model.bias.
- Self-attention has one fused projection c_attn [3C, C] (q, k, v side by side); cross-attention has
  c_q [C, C] on the queries and c_kv [2C, C] (k, v) on the memory; heads are consecutive slices of C.
- A query that sees no key (everything masked) outputs zeros.
- pre-norm: x + f(ln(x)) with a final ln_f; post-norm: ln(x + f(x)) and no final norm.
- RoPE rotates (x[i], x[i + hs/2]) by pos * 10000^(-2i/hs) in q and k of every self-attention.
- Sinusoidal positions are a fixed table (not a parameter), computed in double and rounded to float.

ModelConfig(sdpa=True) makes softmax attention call F.scaled_dot_product_attention (PyTorch 2; is_causal=True
for plain causal self-attention, a boolean mask otherwise) instead of the explicit composite `attend`, for the
benchmarks' PyTorch 2 rows; the default (sdpa=False) is the composite, which PyTorch 1.13 runs (parity).
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelConfig:
    """The "model" section of a qkv config plus what qkv resolves from the data (pad_id, the task)."""

    def __init__(self, kind="gpt", n_layer=4, n_head=4, d_model=128, d_ff=0, block_size=64, vocab_size=0,
                 dropout=0.0, bias=False, norm="pre", positions="learned", activation="gelu", n_classes=0,
                 pooling="cls", pad_id=-1, task=None, label_smoothing=0.0, attention="full", window=128,
                 sdpa=False, **_ignored):
        self.kind, self.n_layer, self.n_head, self.d_model = kind, n_layer, n_head, d_model
        self.d_ff = d_ff if d_ff > 0 else 4 * d_model
        self.block_size, self.vocab_size, self.dropout, self.bias = block_size, vocab_size, dropout, bias
        self.norm, self.positions, self.activation = norm, positions, activation
        self.n_classes, self.pooling, self.pad_id = n_classes, pooling, pad_id
        self.task = task or {"gpt": "lm", "encoder": "classify" if n_classes > 0 else "mlm"}.get(kind, "seq2seq")
        self.label_smoothing = label_smoothing
        self.attention, self.window = attention, window
        if sdpa and not hasattr(F, "scaled_dot_product_attention"):
            raise ValueError(f"sdpa=True needs F.scaled_dot_product_attention (PyTorch 2); torch {torch.__version__}")
        self.sdpa = sdpa


# ---------------------------------------------------------------------------------------------- layers


class LayerNorm(nn.Module):
    def __init__(self, dim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


def sinusoid_table(max_len, dim):
    """PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(...), in double, rounded to float."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), i / dim)
    table = torch.zeros(max_len, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)[:, : dim // 2]
    return table.float()


class Sinusoids(nn.Module):
    """The fixed table as a non-persistent buffer: nothing in the state dict."""

    def __init__(self, max_len, dim):
        super().__init__()
        self.register_buffer("table", sinusoid_table(max_len, dim), persistent=False)

    def forward(self, T, offset=0):
        return self.table[offset:offset + T]


def rope(x, offset=0, base=10000.0):
    """x [B, NH, T, hs]: rotate-half layout, angles in double rounded to float (core/ops/rope.cpp)."""
    T, hs = x.shape[-2], x.shape[-1]
    half = hs // 2
    pos = torch.arange(offset, offset + T, dtype=torch.float64)[:, None]
    angle = pos * torch.pow(torch.tensor(base, dtype=torch.float64), -2.0 * torch.arange(half, dtype=torch.float64) / hs)
    cos, sin = torch.cos(angle).float(), torch.sin(angle).float()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def visible_keys(Tq, Tk, causal, window, key_padding, device):
    """[B or 1, 1, Tq, Tk] bool: query i (at position i + Tk - Tq among the keys) sees key j when j is not
    padding, j <= i when causal, and |i - j| < window when window > 0 (local attention)."""
    visible = torch.ones(Tq, Tk, dtype=torch.bool, device=device)
    if causal:
        visible = torch.tril(visible, diagonal=Tk - Tq)
    if window > 0:
        at = torch.arange(Tq, device=device)[:, None] + (Tk - Tq)
        visible = visible & ((at - torch.arange(Tk, device=device)[None, :]).abs() < window)
    visible = visible[None, None]
    if key_padding is not None:
        visible = visible & ~key_padding[:, None, None, :]
    return visible


def attend_linear(q, k, v, causal=False, key_padding=None, eps=1e-6):
    """Linear attention (Katharopoulos et al. 2020) over [B, NH, T, hs]: phi(x) = elu(x) + 1,
    out_i = phi(q_i) S_i / (phi(q_i) . z_i + eps) with S and z summed over the visible keys, written here with
    cumulative sums over the time axis (causal) or plain sums."""
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    if key_padding is not None:
        fk = fk * (~key_padding)[:, None, :, None]
    kv = fk[..., :, None] * v[..., None, :]  # [B, NH, Tk, hs, hs]
    if causal:
        S, z = kv.cumsum(2), fk.cumsum(2)
    else:
        S, z = kv.sum(2, keepdim=True), fk.sum(2, keepdim=True)
    num = (fq[..., None] * S).sum(-2)
    return num / ((fq * z).sum(-1, keepdim=True) + eps)


def attend(q, k, v, causal=False, key_padding=None, dropout=0.0, training=False, window=0):
    """Softmax attention over [B, NH, T, hs]; key_padding [B, Tk] bool (True = pad); window > 0: local
    attention. Rows with no visible key give zeros."""
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    visible = visible_keys(q.shape[-2], k.shape[-2], causal, window, key_padding, q.device)
    any_visible = visible.any(-1, keepdim=True)
    scores = scores.masked_fill(~visible, float("-inf")).masked_fill(~any_visible, 0.0)
    probs = torch.softmax(scores, dim=-1) * any_visible
    probs = F.dropout(probs, dropout, training)
    return probs @ v


def attend_sdpa(q, k, v, causal=False, key_padding=None, dropout=0.0, training=False, window=0):
    """`attend` through F.scaled_dot_product_attention (PyTorch 2): is_causal=True when the mask is exactly
    causal (Tq == Tk, no window, no padding), a boolean mask (True = visible) otherwise. A key_padding with no
    pad is dropped; rows with no visible key attend to every key and are then zeroed (SDPA would give NaN)."""
    p = dropout if training else 0.0
    if key_padding is not None and not bool(key_padding.any()):
        key_padding = None
    Tq, Tk = q.shape[-2], k.shape[-2]
    if key_padding is None and window == 0 and (not causal or Tq == Tk):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
    visible = visible_keys(Tq, Tk, causal, window, key_padding, q.device)
    any_visible = visible.any(-1, keepdim=True)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=visible | ~any_visible, dropout_p=p)
    return y * any_visible


class Attention(nn.Module):
    """Self-attention (c_attn, c_proj; optional RoPE) or cross-attention (c_q, c_kv, c_proj)."""

    def __init__(self, c, cross=False):
        super().__init__()
        C = c.d_model
        self.n_head, self.dropout, self.cross, self.sdpa = c.n_head, c.dropout, cross, c.sdpa
        # Cross-attention stays full, as in qkv.
        self.kind, self.window = ("full", 0) if cross else (c.attention, c.window if c.attention == "local" else 0)
        self.rope = not cross and c.positions == "rope"
        if cross:
            self.c_q = nn.Linear(C, C, bias=c.bias)
            self.c_kv = nn.Linear(C, 2 * C, bias=c.bias)
        else:
            self.c_attn = nn.Linear(C, 3 * C, bias=c.bias)
        self.c_proj = nn.Linear(C, C, bias=c.bias)
        self.resid_dropout = nn.Dropout(c.dropout)

    def heads(self, x, n):  # [B, T, n * C] -> n tensors [B, NH, T, hs]
        B, T, _ = x.shape
        return x.view(B, T, n, self.n_head, -1).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x, memory=None, causal=False, key_padding=None):
        if self.cross:
            (q,), (k, v) = self.heads(self.c_q(x), 1), self.heads(self.c_kv(memory), 2)
        else:
            q, k, v = self.heads(self.c_attn(x), 3)
            if self.rope:
                q, k = rope(q), rope(k)
        if self.kind == "linear":
            y = attend_linear(q, k, v, causal, key_padding)
        else:
            y = (attend_sdpa if self.sdpa else attend)(q, k, v, causal, key_padding, self.dropout, self.training,
                                                       self.window)
        B, T, C = x.shape
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.d_model, c.d_ff, bias=c.bias)
        self.c_proj = nn.Linear(c.d_ff, c.d_model, bias=c.bias)
        self.act = nn.GELU() if c.activation == "gelu" else nn.ReLU()
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """ln_1, attn, [ln_x, cross_attn], ln_2, mlp: nanoGPT's Block, qkv's EncoderLayer and DecoderLayer."""

    def __init__(self, c, causal, cross=False):
        super().__init__()
        self.pre, self.causal = c.norm == "pre", causal
        self.ln_1 = LayerNorm(c.d_model, c.bias)
        self.attn = Attention(c)
        if cross:
            self.ln_x = LayerNorm(c.d_model, c.bias)
            self.cross_attn = Attention(c, cross=True)
        self.ln_2 = LayerNorm(c.d_model, c.bias)
        self.mlp = MLP(c)

    def sublayer(self, ln, x, f):
        return x + f(ln(x)) if self.pre else ln(x + f(x))

    def forward(self, x, padding=None, memory=None, memory_padding=None):
        x = self.sublayer(self.ln_1, x, lambda t: self.attn(t, causal=self.causal, key_padding=padding))
        if memory is not None:
            x = self.sublayer(self.ln_x, x, lambda t: self.cross_attn(t, memory, key_padding=memory_padding))
        return self.sublayer(self.ln_2, x, self.mlp)


def positions_module(c):
    if c.positions == "learned":
        return nn.Embedding(c.block_size, c.d_model)
    if c.positions == "sinusoidal":
        return Sinusoids(c.block_size, c.d_model)
    return None


def add_positions(x, wpe, offset=0):
    T = x.shape[1]
    if isinstance(wpe, nn.Embedding):
        return x + wpe(torch.arange(offset, offset + T, device=x.device))
    if isinstance(wpe, Sinusoids):
        return x + wpe(T, offset)
    return x


def stack(c, causal, cross=False):
    return nn.ModuleList([Block(c, causal, cross) for _ in range(c.n_layer)])


# ---------------------------------------------------------------------------------------------- models


class GPT(nn.Module):
    """transformer.{wte, wpe, h.{i}, ln_f}; lm_head tied to wte. Targets id -1 are ignored."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        parts = dict(wte=nn.Embedding(c.vocab_size, c.d_model), drop=nn.Dropout(c.dropout), h=stack(c, True))
        if positions_module(c) is not None:
            parts["wpe"] = positions_module(c)
        if c.norm == "pre":
            parts["ln_f"] = LayerNorm(c.d_model, c.bias)
        self.transformer = nn.ModuleDict(parts)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx, targets=None):
        t = self.transformer
        x = t.drop(add_positions(t.wte(idx), t["wpe"] if "wpe" in t else None))
        for block in t.h:
            x = block(x)
        if "ln_f" in t:
            x = t.ln_f(x)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def generate_greedy(self, prompt, n_new):
        """Greedy continuation of a list of ids; the context is cropped to block_size from the left."""
        tokens = list(prompt)
        for _ in range(n_new):
            ctx = torch.tensor([tokens[-self.config.block_size:]])
            logits, _ = self(ctx)
            tokens.append(int(torch.argmax(logits[0, -1])))
        return tokens


class Encoder(nn.Module):
    """wte, wpe, h.{i}, ln_f (pre-norm), classifier; the MLM head is tied to wte."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.wte = nn.Embedding(c.vocab_size, c.d_model)
        self.wpe = positions_module(c)
        self.drop = nn.Dropout(c.dropout)
        self.h = stack(c, False)
        self.ln_f = LayerNorm(c.d_model, c.bias) if c.norm == "pre" else None
        self.classifier = nn.Linear(c.d_model, c.n_classes) if c.n_classes > 0 else None

    def encode(self, idx, padding=None):
        """padding [B, T] (nonzero = pad) is masked as keys in every self-attention."""
        padding = None if padding is None else padding.bool()
        x = self.drop(add_positions(self.wte(idx), self.wpe))
        for block in self.h:
            x = block(x, padding)
        return self.ln_f(x) if self.ln_f is not None else x

    def mlm(self, idx, padding=None, targets=None):
        logits = self.encode(idx, padding) @ self.wte.weight.t()
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), ignore_index=-100)
        return logits, loss

    def classify(self, idx, padding=None, labels=None):
        h = self.encode(idx, padding)
        if self.config.pooling == "cls":
            pooled = h[:, 0]
        else:  # the mean over real tokens
            keep = torch.ones(idx.shape, dtype=h.dtype) if padding is None else (padding == 0).to(h.dtype)
            pooled = (h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
        logits = self.classifier(pooled)
        loss = None if labels is None else F.cross_entropy(logits, labels.long())
        return logits, loss

    def forward(self, idx, padding=None, targets=None):
        """The config's task: classify (logits [B, n_classes]) or mlm (logits [B, T, V])."""
        f = self.classify if self.config.task == "classify" else self.mlm
        return f(idx, padding, targets)


class Seq2Seq(nn.Module):
    """embed (shared, x sqrt(d_model)), positions, encoder.{wpe, h.{i}, ln_f}, decoder.{wpe, h.{i}, ln_f};
    output tied to embed. The source's pad_id is masked in encoder self-attention and cross-attention."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.positions = Sinusoids(c.block_size, c.d_model) if c.positions == "sinusoidal" else None
        self.drop = nn.Dropout(c.dropout)
        for side, causal in (("encoder", False), ("decoder", True)):
            parts = dict(h=stack(c, causal, cross=causal))
            if c.positions == "learned":
                parts["wpe"] = nn.Embedding(c.block_size, c.d_model)
            if c.norm == "pre":
                parts["ln_f"] = LayerNorm(c.d_model, c.bias)
            setattr(self, side, nn.ModuleDict(parts))

    def embed_ids(self, ids, side):
        x = self.embed(ids) * math.sqrt(self.config.d_model)
        wpe = self.positions if self.positions is not None else side["wpe"] if "wpe" in side else None
        return self.drop(add_positions(x, wpe))

    def src_padding(self, src):
        return src == self.config.pad_id

    def encode(self, src):
        pad = self.src_padding(src)
        x = self.embed_ids(src, self.encoder)
        for block in self.encoder.h:
            x = block(x, pad)
        return self.encoder.ln_f(x) if "ln_f" in self.encoder else x

    def decode(self, tgt, memory, src):
        pad = self.src_padding(src)
        x = self.embed_ids(tgt, self.decoder)
        for block in self.decoder.h:
            x = block(x, None, memory, pad)
        if "ln_f" in self.decoder:
            x = self.decoder.ln_f(x)
        return x @ self.embed.weight.t()

    def forward(self, src, tgt, targets=None, label_smoothing=None):
        """Teacher forcing; the loss ignores pad_id and uses the config's label smoothing unless given."""
        logits = self.decode(tgt, self.encode(src), src)
        loss = None
        if targets is not None:
            eps = self.config.label_smoothing if label_smoothing is None else label_smoothing
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(),
                                   ignore_index=self.config.pad_id, label_smoothing=eps)
        return logits, loss

    @torch.no_grad()
    def translate_greedy(self, src, bos_id, eos_id):
        """Greedy from BOS until EOS or block_size - 1 new tokens; returns the tokens without BOS and EOS."""
        src = torch.tensor([list(src)[: self.config.block_size]])
        memory, out = self.encode(src), [bos_id]
        for _ in range(self.config.block_size - 1):
            next_id = int(torch.argmax(self.decode(torch.tensor([out]), memory, src)[0, -1]))
            out.append(next_id)
            if next_id == eos_id:
                break
        out = out[1:]
        return out[:-1] if out and out[-1] == eos_id else out


# ---------------------------------------------------------------------------------------------- loading


class Tokenizer:
    """The `qkv.tokenizer` metadata: tokens as hex bytes, BPE merges, specials. Decodes any id list and
    encodes text for char vocabularies (BPE encoding is not mirrored here)."""

    def __init__(self, j):
        j = json.loads(j) if isinstance(j, str) else j
        self.type = j["type"]
        self.tokens = [bytes.fromhex(t) for t in j["tokens"]]
        self.specials = dict(j["specials"])
        self.n_ordinary = len(self.tokens) - len(self.specials)
        # BPE tokens are byte strings that need not be valid UTF-8 alone: only char vocabularies get a map.
        self.char_ids = ({t.decode("utf-8"): i for i, t in enumerate(self.tokens[: self.n_ordinary])}
                         if self.type == "char" else {})

    def special(self, name):
        return self.specials.get(name, -1)

    def encode(self, text):
        if self.type != "char":
            raise NotImplementedError("only char tokenizers encode here")
        return [self.char_ids[ch] for ch in text]

    def decode(self, ids, skip_specials=False):
        return b"".join(self.tokens[i] for i in ids if not (skip_specials and i >= self.n_ordinary)).decode(
            "utf-8", errors="replace")


def model_config(config_json, tokenizer_json):
    """A ModelConfig from the `qkv.config` and `qkv.tokenizer` metadata of `qkv export` (dicts or strings)."""
    config = json.loads(config_json) if isinstance(config_json, str) else config_json
    tok = Tokenizer(tokenizer_json)
    m = dict(config["model"])
    m["vocab_size"] = m.get("vocab_size") or len(tok.tokens)
    return ModelConfig(**m, pad_id=tok.special("PAD"), task=config["data"]["task"],
                       label_smoothing=config["optim"].get("label_smoothing", 0.0))


def from_config(config_json, tokenizer_json):
    """An untrained reference model of the exported config; load the exported tensors with
    model.load_state_dict({name: torch.from_numpy(a) ...}, strict=True)."""
    c = model_config(config_json, tokenizer_json)
    return {"gpt": GPT, "encoder": Encoder, "seq2seq": Seq2Seq}[c.kind](c)
