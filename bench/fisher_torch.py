#!/usr/bin/python3
"""Fisher speed in PyTorch: gdropout.torch.estimate_fisher's methods on one
encoder and the same sequences, in sequences per second.

    bench/fisher_torch.py [--seqs 96] [--batch 16] [--layers 4] [--hidden 128]
                          [--heads 4] [--ffn 512] [--vocab 8000] [--max-len 64]
                          [--out FILE.md]

The model is examples/encoder/tests/torch_model.py (the C encoder's model,
held equal to the C trainer by its parity test) at `encoder speed`'s shapes,
with a sequence classifier on the [CLS] vector (8 classes) and its MLM head
frozen; the loss is each sequence's cross-entropy (reduction="none").  The
sequences are synthetic (seeded: token ids uniform over the vocabulary,
lengths uniform in [8, max_len], padded to the batch's longest), the same
for every method.  Two parameter sets: "all" (every parameter but the MLM
head) and "linear-only" (only the nn.Linear layers trainable: the case
where "dense" needs no vmap pass for the rest).  Every method runs the whole pass once untimed (warm-up),
then once timed; the estimates are compared (largest relative difference to
"loop", the paper's batch-of-one definition) so that a fast wrong method
shows.  One thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1):
CPU seconds are the honest measure on a shared machine, and the ratios
between methods are measured in the same run.

Methods: "loop" (forward/backward per sequence), "vmap" (functorch or
torch.func vmap(grad) over the batch), "dense" (nn.Linear layers from the
batch's inputs and output gradients through gd_fisher_accumulate_dense_seq,
everything else - embeddings, LayerNorms - by vmap).
"""
import argparse
import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "encoder", "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gdropout  # noqa: E402
import gdropout.torch as gt  # noqa: E402
import torch_model  # noqa: E402


class Classifier(torch.nn.Module):
    """The encoder with a classifier on [CLS]: forward(ids, seg, lens) -> logits."""

    def __init__(self, cfg, config="all"):
        super().__init__()
        self.m = torch_model.build(torch, cfg)
        for p in self.m.cls.parameters():  # the MLM head: not in a classifier's Fisher
            p.requires_grad_(False)
        if config == "linear-only":  # every trainable parameter in an nn.Linear
            linear = {id(p) for m in self.modules() if isinstance(m, torch.nn.Linear)
                      for p in m.parameters()}
            for p in self.parameters():
                if id(p) not in linear:
                    p.requires_grad_(False)

    def forward(self, ids, seg, lens):
        x, _ = self.m.encode(ids, seg, lens, lambda site, t: t)
        return self.m.classifier(x[:, 0])


def loss_fn(logits, label):
    return F.cross_entropy(logits, label, reduction="none")


def sequences(a):
    g = torch.Generator().manual_seed(1)
    out = []
    for start in range(0, a.seqs, a.batch):
        b = min(a.batch, a.seqs - start)
        lens = torch.randint(8, a.max_len + 1, (b,), generator=g)
        t = int(lens.max())
        ids = torch.randint(5, a.vocab, (b, t), generator=g)
        ids = ids * (torch.arange(t)[None] < lens[:, None])
        label = torch.randint(0, 8, (b,), generator=g)
        out.append(((ids, torch.zeros_like(ids), lens), label))
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fp:
            for line in fp:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def estimates(f):
    return {t.name: f.read(i)[0] for i, t in enumerate(f.tensors())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seqs", type=int, default=48)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--methods", default="loop,vmap,dense")
    ap.add_argument("--configs", default="all,linear-only",
                    help="all: every parameter; linear-only: the nn.Linear layers only")
    ap.add_argument("--out", help="also write the table (markdown) here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = {"vocab": a.vocab, "hidden": a.hidden, "layers": a.layers, "heads": a.heads,
           "ffn": a.ffn, "max_len": a.max_len, "classes": 8}
    data = sequences(a)
    tokens = sum(int(b[0][2].sum()) for b in data)
    methods = [m for m in a.methods.split(",") if m]
    if "vmap" in methods and gt.vmap_backend() is None:
        methods.remove("vmap")
    rows = []
    t_all = time.monotonic()
    for config in a.configs.split(","):
        torch.manual_seed(0)
        model = Classifier(cfg, config)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        ref = None
        for method in methods:
            with gt.estimate_fisher(model, loss_fn, data, method=method, progress=False):
                pass  # warm-up
            w0, c0 = time.perf_counter(), time.process_time()
            f = gt.estimate_fisher(model, loss_fn, data, method=method, progress=False)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            est = estimates(f)
            f.close()
            if ref is None:
                ref, base = est, a.seqs / cpu
            scale = max(float(np.abs(v).max()) for v in ref.values())
            diff = max(float(np.abs(est[k] - ref[k]).max()) for k in ref) / scale
            rows.append((config, n_params, method, a.seqs / cpu, a.seqs / wall,
                         a.seqs / cpu / base, diff))
            print(f"{config} {method:6s} {a.seqs / cpu:8.1f} seq/CPU-s {a.seqs / wall:8.1f} "
                  f"seq/s (cpu {cpu:.2f} s, wall {wall:.2f} s), max |diff| to {methods[0]} "
                  f"{diff:.1e} of the largest estimate", flush=True)
    total = time.monotonic() - t_all
    lines = [
        "# Fisher speed in PyTorch (`bench/fisher_torch.py`)",
        "",
        f"- command: `{' '.join(['bench/fisher_torch.py'] + sys.argv[1:])}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), Linux "
        f"{platform.release()}; shared with other jobs, so CPU seconds are the measure",
        f"- torch {torch.__version__} (one thread), numpy {np.__version__}, libgdropout "
        f"{gdropout.__version__} ({gdropout.library_source()}, kernels {gdropout.dispatch_name()}),"
        f" vmap from {gt.vmap_backend()[3] if gt.vmap_backend() else 'none'}",
        f"- model: the C encoder's (examples/encoder/tests/torch_model.py), {a.layers} layers, "
        f"hidden {a.hidden}, {a.heads} heads, ffn {a.ffn}, vocab {a.vocab}; classifier on [CLS];"
        " MLM head frozen; `all`: every other parameter in the Fisher, `linear-only`: only "
        "the nn.Linear layers' (embeddings and LayerNorms frozen)",
        f"- data: {a.seqs} synthetic sequences (seed 1), lengths 8..{a.max_len}, {tokens} tokens,"
        f" batches of {a.batch}; the same for every method",
        f"- run time of the whole script: {total:.0f} s (warm-up pass + timed pass per method)",
        "",
        "| parameters | method | sequences / CPU-s | sequences / s (wall) | x loop (CPU) "
        "| max diff to loop |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for config, n_params, method, sc, sw, ratio, diff in rows:
        lines.append(f"| {config} ({n_params}) | {method} | {sc:.1f} | {sw:.1f} | {ratio:.2f} "
                     f"| {diff:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as fp:
            fp.write(text)


if __name__ == "__main__":
    main()
