"""Small models for the gdropout.torch tests, built from torch.nn (no
tests here; the module is skipped when torch is absent)."""

import inspect
import math
import unittest

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - the test modules skip themselves
    torch = nn = None

if torch is None:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")


class Attention(nn.Module):
    """Multi-head self-attention from nn.Linear, BERT's layout: the
    attention probabilities are dropped before they weight the values."""

    def __init__(self, d, heads, p):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_drop = nn.Dropout(p)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads

        def split(y):
            return y.view(b, t, h, d // h).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        ctx = (self.attn_drop(a) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(ctx)


class Block(nn.Module):
    """A post-LayerNorm encoder block (BERT's, nn.TransformerEncoderLayer's
    default): x = LN1(x + drop1(attn(x))); x = LN2(x + drop2(ff2(gelu(ff1(x)))))."""

    def __init__(self, d, heads, ff, p):
        super().__init__()
        self.attn = Attention(d, heads, p)
        self.drop1 = nn.Dropout(p)
        self.norm1 = nn.LayerNorm(d)
        self.ff1, self.act, self.ff2 = nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d)
        self.drop2 = nn.Dropout(p)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x):
        x = self.norm1(x + self.drop1(self.attn(x)))
        return self.norm2(x + self.drop2(self.ff2(self.act(self.ff1(x)))))


class Encoder(nn.Module):
    """Token + position embeddings, LayerNorm, dropout (BERT's embeddings),
    `layers` blocks, mean pooling, classifier dropout and head."""

    def __init__(self, vocab=16, seq=6, d=8, heads=2, ff=16, layers=2, classes=3, p=0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, d) * 0.1)
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(p)
        self.blocks = nn.ModuleList([Block(d, heads, ff, p) for _ in range(layers)])
        self.head_drop = nn.Dropout(p)
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        h = self.drop(self.norm(self.embed(ids) + self.pos[: ids.shape[1]]))
        for block in self.blocks:
            h = block(h)
        return self.head(self.head_drop(h.mean(dim=1)))


def encoder_expected_table(layers=2):
    """The traced mapping the rule in gdropout.torch gives for Encoder with
    head_drop left alone, written out by hand."""
    t = {"embed.weight": "drop", "pos": "drop", "norm.weight": "drop", "norm.bias": "drop"}
    for i in range(layers):
        b = f"blocks.{i}"
        nxt = f"blocks.{i + 1}.attn.attn_drop" if i + 1 < layers else None
        for name, site in (("attn.q", f"{b}.attn.attn_drop"), ("attn.k", f"{b}.attn.attn_drop"),
                           ("attn.v", f"{b}.drop1"), ("attn.out", f"{b}.drop1"),
                           ("norm1", f"{b}.drop2"), ("ff1", f"{b}.drop2"),
                           ("ff2", f"{b}.drop2"), ("norm2", nxt)):
            t[f"{b}.{name}.weight"] = site
            t[f"{b}.{name}.bias"] = site
    t["head.weight"] = t["head.bias"] = None
    return t


def encoder_sites(layers=2):
    names = ["drop"]
    for i in range(layers):
        names += [f"blocks.{i}.attn.attn_drop", f"blocks.{i}.drop1", f"blocks.{i}.drop2"]
    return names


def torch_encoder(layer, n):
    """nn.TransformerEncoder(layer, n), without the nested-tensor fast path
    where this torch has the switch (PyTorch 2 warns about it otherwise)."""
    if "enable_nested_tensor" in inspect.signature(nn.TransformerEncoder).parameters:
        return nn.TransformerEncoder(layer, n, enable_nested_tensor=False)
    return nn.TransformerEncoder(layer, n)
