#!/usr/bin/env python3
"""Guided dropout for a PyTorch model, end to end, in about 30 s of CPU time.

1. Pretrain a small transformer encoder (built from torch.nn) on a synthetic
   sequence task with plenty of data.
2. Measure its diagonal Fisher information on the pretraining loss
   (gdropout.torch.estimate_fisher), map parameters to dropout sites by
   tracing, and turn the per-site scores into a plan (the paper's
   rank-linear rule, through libgdropout).
3. Fine-tune copies of it on a related task with few examples, with no
   dropout, standard dropout (every site at p_max) and guided dropout (the
   plan: p_max for the least informative site down to 0 for the most), the
   masks from libgdropout's kernels (gdropout.torch.Dropout), over several
   seeds, and print test accuracy.

The data: tokens carry hidden feature vectors; a sequence's features are a
position-weighted sum over its tokens; the pretraining label is the argmax of
one random projection of them, the fine-tuning label of another.  What
carries over is the token features, which the encoder has to learn.

    PYTHONPATH=bindings/python GDROPOUT_LIBRARY=build/prefix/lib/libgdropout.so.1 \\
        /usr/bin/python3 bindings/python/examples/guided_finetune.py [--seeds 4] [--out DIR]

It writes fisher.safetensors, scores.txt and plan.txt to --out (default: a
temporary folder).  The tool reproduces plan.txt byte for byte from the
scores when given the same p_max: `gdropout-plan DIR/scores.txt --p-max P`
with P this script's --p-max (0.2 by default; the tool's own default is
0.1, so without the flag it makes another plan).
This is a demonstration of the API on a toy problem, not evidence for or
against guided dropout: read the table with its spread.
"""

import argparse
import copy
import math
import os
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

import gdropout
import gdropout.torch as gt

VOCAB, SEQ, FEATURES = 48, 12, 6


# -- the model ---------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_drop = nn.Dropout(p)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape

        def split(y):
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        return self.out((self.attn_drop(a) @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Post-LayerNorm, as BERT."""

    def __init__(self, d, heads, ff, p):
        super().__init__()
        self.attn, self.drop1, self.norm1 = Attention(d, heads, p), nn.Dropout(p), nn.LayerNorm(d)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.drop2, self.norm2 = nn.Dropout(p), nn.LayerNorm(d)

    def forward(self, x):
        x = self.norm1(x + self.drop1(self.attn(x)))
        return self.norm2(x + self.drop2(self.ff2(F.gelu(self.ff1(x)))))


class Encoder(nn.Module):
    def __init__(self, classes, d=32, heads=4, ff=64, layers=2, p=0.1):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.randn(SEQ, d) * 0.02)
        self.norm, self.drop = nn.LayerNorm(d), nn.Dropout(p)
        self.blocks = nn.ModuleList([Block(d, heads, ff, p) for _ in range(layers)])
        self.head_drop, self.head = nn.Dropout(p), nn.Linear(d, classes)

    def forward(self, ids):
        h = self.drop(self.norm(self.embed(ids) + self.pos))
        for block in self.blocks:
            h = block(h)
        return self.head(self.head_drop(h.mean(dim=1)))


# -- the data ----------------------------------------------------------------

def make_world(seed):
    g = torch.Generator().manual_seed(seed)
    return {"tokens": torch.randn(VOCAB, FEATURES, generator=g),
            "position": torch.linspace(1.5, 0.5, SEQ),
            "pretrain": torch.randn(FEATURES, 4, generator=g),
            "finetune": torch.randn(FEATURES, 3, generator=g)}


def sample(world, task, n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=g)
    feats = (world["tokens"][ids] * world["position"][None, :, None]).sum(dim=1)
    return ids, (feats @ world[task]).argmax(dim=1)


def accuracy(model, ids, y):
    model.eval()
    with torch.no_grad():
        return (model(ids).argmax(dim=1) == y).float().mean().item()


def train(model, ids, y, steps, lr, batch=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch,), generator=g) if batch else slice(None)
        opt.zero_grad()
        F.cross_entropy(model(ids[idx]), y[idx]).backward()
        opt.step()


# -- the run -----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=4, help="fine-tuning seeds per regime")
    ap.add_argument("--train", type=int, default=48, help="fine-tuning examples")
    ap.add_argument("--p-max", type=float, default=0.2,
                    help="dropout of the least informative site")
    ap.add_argument("--out", help="folder for fisher.safetensors, scores.txt, plan.txt")
    args = ap.parse_args()
    t0 = time.monotonic()
    torch.manual_seed(0)
    print(f"libgdropout {gdropout.version_string()} ({gdropout.library_path()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    # 1. pretrain
    world = make_world(1)
    pre_ids, pre_y = sample(world, "pretrain", 6000, 2)
    test_pre = sample(world, "pretrain", 2000, 3)
    model = Encoder(classes=4)
    train(model, pre_ids, pre_y, steps=600, lr=3e-3, batch=32)
    print(f"pretrained: test accuracy {accuracy(model, *test_pre):.3f} on the pretraining task "
          f"({time.monotonic() - t0:.0f} s)")

    # 2. Fisher on the pretraining loss, sites, plan
    sites = gt.map_sites(model, pre_ids[:1], leave_alone=["head_drop"])

    def loss_fn(out, y):
        return F.cross_entropy(out, y, reduction="none")

    batches = [(pre_ids[i:i + 64], pre_y[i:i + 64]) for i in range(0, 256, 64)]
    t1 = time.monotonic()
    fisher = gt.estimate_fisher(model, loss_fn, batches, sites=sites, method="auto")
    plan = gt.make_plan(fisher, sites, p_max=args.p_max, p_min=0.0)
    print(f"Fisher over 256 examples in {time.monotonic() - t1:.2f} s; the plan "
          f"(rank-linear, p_max {args.p_max}, p_min 0):")
    print(f"  {'site':>4} {'module':<26} {'Fisher score':>12} {'p':>7}")
    for i in range(len(plan)):
        info = plan.site_info(i)
        print(f"  {i:4d} {info.name:<26} {info.score:12.4g} {info.prob:7.4f}")
    out = args.out or tempfile.mkdtemp(prefix="guided_finetune.")
    os.makedirs(out, exist_ok=True)
    fisher.save(os.path.join(out, "fisher.safetensors"))
    gt.save_scores(os.path.join(out, "scores.txt"), fisher, sites)
    plan.save(os.path.join(out, "plan.txt"))
    print(f"  wrote fisher.safetensors, scores.txt, plan.txt to {out}")
    print(f"  gdropout-plan {os.path.join(out, 'scores.txt')} --p-max {args.p_max!r} "
          "reproduces plan.txt")

    # 3. fine-tune on few examples
    ft_ids, ft_y = sample(world, "finetune", args.train, 4)
    test_ft = sample(world, "finetune", 2000, 5)
    regimes = {"none": [0.0] * len(sites), "standard": [args.p_max] * len(sites),
               "guided": [float(p) for p in plan.get_all()]}
    results = {r: [] for r in regimes}
    t2 = time.monotonic()
    for seed in range(args.seeds):
        for regime, probs in regimes.items():
            m = copy.deepcopy(model)
            torch.manual_seed(100 + seed)
            m.head = nn.Linear(m.head.in_features, 3)  # a new head, same init per seed
            gt.apply_plan(m, probs, sites)
            m.head_drop.p = 0.0 if regime == "none" else 0.1  # left alone: standard rate
            gt.replace_dropout(m, sites, seed=1000 + seed)  # C kernels, site i's own stream
            train(m, ft_ids, ft_y, steps=100, lr=1e-3, seed=seed)
            results[regime].append(accuracy(m, *test_ft))
    print(f"\nfine-tuned on {args.train} examples, {args.seeds} seeds "
          f"({time.monotonic() - t2:.0f} s); test accuracy on 2000:")
    print(f"  {'regime':<9} {'mean':>6} {'sd':>6}   per seed")
    for regime, acc in results.items():
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"  {regime:<9} {statistics.mean(acc):6.3f} {sd:6.3f}   "
              + " ".join(f"{a:.3f}" for a in acc))
    fisher.close()
    plan.close()
    print(f"done in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
