#!/usr/bin/python3
"""Fisher speed: gdropout.torch.estimate_fisher's methods and the C
encoder's own Fisher pass on one encoder and the same sequences, in
sequences per second.

    bench/fisher_torch.py [--seqs 48] [--batch 16] [--layers 4] [--hidden 128]
                          [--heads 4] [--ffn 512] [--vocab 8000] [--max-len 64]
                          [--reps 3] [--encoder build/examples/encoder/encoder]
                          [--out FILE.md]

The model is examples/encoder/tests/torch_model.py (the C encoder's model,
held equal to the C trainer by its parity test) at `encoder speed`'s shapes;
the loss is the C encoder's: each sequence's masked-LM loss, the mean
cross-entropy over its masked positions (MLM head, decoder tied to the word
embeddings).  The sequences are synthetic (seeded: token ids uniform over
the vocabulary, lengths uniform in [8, max_len], round(15 %) of the
positions (at least one) fixed as targets, their input replaced by [MASK];
padded to the batch's longest), the same for every method.  Two parameter
sets: "all" (every parameter, the MLM head's included: what `encoder
fisher` estimates) and "linear-only" (only the nn.Linear layers trainable:
the case where "dense" needs no vmap pass for the rest).  Every method runs
the whole pass once untimed (warm-up), then --reps times timed (the median
is the figure, the range beside it); the estimates are
compared (largest relative difference to "loop", the paper's batch-of-one
definition) so that a fast wrong method shows.  One thread
(torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1): CPU seconds are the
honest measure on a shared machine, and the ratios between methods are
measured in the same run.

The C row ("C encoder", parameter set "all" only; left out without
--encoder): the model's weights are written as a checkpoint
(model.safetensors, gdx-encoder-1) and the sequences, unpadded, as a
--sequences file (ids<TAB>POS:LABEL ...); `encoder fisher --sequences FILE
--threads 1` runs like the methods (one untimed pass, --reps timed:
one process each), its time is the loop's own
("Fisher pass: N sequences, X s CPU, Y s wall": no checkpoint loading or
file writing), and its Fisher file is compared with "loop" like the others.

Methods: "loop" (forward/backward per sequence), "vmap" (functorch or
torch.func vmap(grad) over the batch), "dense" (nn.Linear layers from the
batch's inputs and output gradients through gd_fisher_accumulate_dense_seq,
everything else - embeddings, LayerNorms - by vmap).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
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


MASK = 4  # the C tokenizer's [MASK] id (examples/encoder/tokenizer.h)


class MaskedLM(torch.nn.Module):
    """The encoder with its MLM head at fixed target slots:
    forward(ids, seg, lens, mpos) -> logits [B, K, V], mpos [B, K] holding
    each sequence's target positions (padded slots point at position 0 and
    get weight 0 in the loss).  Fixed shapes, so vmap and the dense path
    take it as they are."""

    def __init__(self, cfg, config="all"):
        super().__init__()
        self.m = torch_model.build(torch, cfg)
        if config == "linear-only":  # every trainable parameter in an nn.Linear
            linear = {id(p) for m in self.modules() if isinstance(m, torch.nn.Linear)
                      for p in m.parameters()}
            for p in self.parameters():
                if id(p) not in linear:
                    p.requires_grad_(False)

    def forward(self, ids, seg, lens, mpos):
        x, _ = self.m.encode(ids, seg, lens, lambda site, t: t)
        h = torch.gather(x, 1, mpos[:, :, None].expand(-1, -1, x.shape[2]))  # [B, K, H]
        tr = self.m.cls.predictions.transform
        z = tr.LayerNorm(F.gelu(tr.dense(h)))
        return F.linear(z, self.m.embeddings.word_embeddings.weight, self.m.cls.predictions.bias)


def loss_fn(logits, label, weight):
    """Each sequence's mean cross-entropy over its targets (weight 1; 0 on
    padded slots): the C encoder's MLM loss of a batch of one."""
    nll = -torch.log_softmax(logits, -1).gather(-1, label[:, :, None])[:, :, 0]
    return (nll * weight).sum(1) / weight.sum(1)


def sequences(a):
    """Batches ((ids, seg, lens, mpos), label, weight) and the same
    sequences unpadded as (ids, [(pos, label), ...]) for the C encoder."""
    g = torch.Generator().manual_seed(1)
    out, plain = [], []
    for start in range(0, a.seqs, a.batch):
        b = min(a.batch, a.seqs - start)
        lens = torch.randint(8, a.max_len + 1, (b,), generator=g)
        t = int(lens.max())
        ids = torch.randint(5, a.vocab, (b, t), generator=g)
        ids = ids * (torch.arange(t)[None] < lens[:, None])
        ks = [max(1, int(0.15 * int(n) + 0.5)) for n in lens]
        k = max(ks)
        mpos = torch.zeros(b, k, dtype=torch.long)
        label = torch.zeros(b, k, dtype=torch.long)
        weight = torch.zeros(b, k)
        for i, n in enumerate(lens.tolist()):
            pos = torch.randperm(n, generator=g)[:ks[i]]
            mpos[i, :ks[i]], label[i, :ks[i]], weight[i, :ks[i]] = pos, ids[i, pos], 1.0
            ids[i, pos] = MASK
            plain.append((ids[i, :n].tolist(), list(zip(pos.tolist(), label[i, :ks[i]].tolist()))))
        out.append(((ids, torch.zeros_like(ids), lens, mpos), label, weight))
    return out, plain


def write_checkpoint(path, model, cfg):
    """The encoder's weights as the C encoder's checkpoint (gdx-encoder-1
    safetensors under BERT's names; no vocabulary digest, so no vocab.txt
    is needed)."""
    meta = {"format": "gdx-encoder-1", "classes": "0", "pool": "cls", "step": "0", "seed": "0"}
    meta.update({k: str(cfg[k]) for k in ("vocab", "hidden", "layers", "heads", "ffn",
                                          "max_len")})
    header, blobs, at = {"__metadata__": meta}, [], 0
    for name, t in model.m.state_dict().items():
        a = t.detach().cpu().numpy().astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        blobs.append(a.tobytes())
        at += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fp:
        fp.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def c_encoder(encoder, model, cfg, plain, work, reps):
    """`encoder fisher --sequences` on the same weights and sequences, once
    untimed and `reps` times timed: ([CPU s], [wall s] of its loop,
    {name: estimate})."""
    ckpt = os.path.join(work, "ckpt")
    os.makedirs(ckpt, exist_ok=True)
    write_checkpoint(os.path.join(ckpt, "model.safetensors"), model, cfg)
    seq = os.path.join(work, "sequences.txt")
    with open(seq, "w", encoding="utf-8") as fp:
        for ids, tgt in plain:
            fp.write(" ".join(map(str, ids)) + "\t" +
                     " ".join(f"{p}:{lab}" for p, lab in tgt) + "\n")
    out = os.path.join(work, "fisher.safetensors")
    cmd = [encoder, "fisher", "--ckpt", ckpt, "--sequences", seq, "--threads", "1",
           "--out", out, "--plan", os.path.join(work, "guided.plan"),
           "--sites", os.path.join(work, "sites.tsv"), "--log-every", "1000000"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cpus, walls = [], []
    for k in range(reps + 1):
        text = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        m = re.search(r"^Fisher pass: (\d+) sequences, ([0-9.]+) s CPU, ([0-9.]+) s wall", text,
                      re.M)
        if m is None or int(m.group(1)) != len(plain):
            raise RuntimeError(f"{encoder} fisher: no 'Fisher pass' line for {len(plain)} "
                               f"sequences in its output:\n{text}")
        if k:
            cpus.append(float(m.group(2)))
            walls.append(float(m.group(3)))
    f = gdropout.Fisher.load(out)
    est = estimates(f)
    f.close()
    return cpus, walls, est


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
    ap.add_argument("--reps", type=int, default=3,
                    help="timed passes per method (after one untimed); the median is shown")
    ap.add_argument("--encoder", help="the C encoder binary: adds its Fisher pass as a row "
                    "(parameter set all)")
    ap.add_argument("--out", help="also write the table (markdown) here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = {"vocab": a.vocab, "hidden": a.hidden, "layers": a.layers, "heads": a.heads,
           "ffn": a.ffn, "max_len": a.max_len, "classes": 0}
    data, plain = sequences(a)
    targets = sum(len(t) for _, t in plain)
    padded = sum(b[0][0].numel() for b in data)  # what the torch methods run on
    tokens = sum(int(b[0][2].sum()) for b in data)
    methods = [m for m in a.methods.split(",") if m]
    if "vmap" in methods and gt.vmap_backend() is None:
        methods.remove("vmap")
    rows = []
    t_all = time.monotonic()
    for config in a.configs.split(","):
        torch.manual_seed(0)
        model = MaskedLM(cfg, config)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        ref = None
        for method in methods:
            with gt.estimate_fisher(model, loss_fn, data, method=method, progress=False):
                pass  # warm-up
            cpus, walls = [], []
            for _ in range(a.reps):
                w0, c0 = time.perf_counter(), time.process_time()
                f = gt.estimate_fisher(model, loss_fn, data, method=method, progress=False)
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
                est = estimates(f)
                f.close()
            cpu, wall = statistics.median(cpus), statistics.median(walls)
            if ref is None:
                ref, base = est, a.seqs / cpu
            scale = max(float(np.abs(v).max()) for v in ref.values())
            diff = max(float(np.abs(est[k] - ref[k]).max()) for k in ref) / scale
            rows.append((config, n_params, method, a.seqs / cpu, a.seqs / max(cpus),
                         a.seqs / min(cpus), a.seqs / wall, a.seqs / cpu / base, diff))
            print(f"{config} {method:6s} {a.seqs / cpu:8.1f} seq/CPU-s {a.seqs / wall:8.1f} "
                  f"seq/s (median cpu {cpu:.2f} s of {[round(c, 2) for c in cpus]}, wall "
                  f"{wall:.2f} s), max |diff| to {methods[0]} {diff:.1e} of the largest "
                  "estimate", flush=True)
        if a.encoder and config == "all":
            with tempfile.TemporaryDirectory(prefix="fisher_bench.") as work:
                cpus, walls, est = c_encoder(a.encoder, model, cfg, plain, work, a.reps)
            cpu, wall = statistics.median(cpus), statistics.median(walls)
            est = {"m." + k: v for k, v in est.items()}
            if set(est) != set(ref):
                raise RuntimeError(f"the C encoder's tensors differ: only C "
                                   f"{sorted(set(est) - set(ref))}, only torch "
                                   f"{sorted(set(ref) - set(est))}")
            scale = max(float(np.abs(v).max()) for v in ref.values())
            diff = max(float(np.abs(est[k] - ref[k]).max()) for k in ref) / scale
            rows.append((config, n_params, "C encoder", a.seqs / cpu, a.seqs / max(cpus),
                         a.seqs / min(cpus), a.seqs / wall, a.seqs / cpu / base, diff))
            print(f"{config} C encoder {a.seqs / cpu:8.1f} seq/CPU-s {a.seqs / wall:8.1f} "
                  f"seq/s (median cpu {cpu:.2f} s of {cpus}, wall {wall:.2f} s of its loop), "
                  f"max |diff| to "
                  f"{methods[0]} {diff:.1e} of the largest estimate", flush=True)
    total = time.monotonic() - t_all
    lines = [
        "# Fisher speed: PyTorch's methods and the C encoder (`bench/fisher_torch.py`)",
        "",
        f"- command: `{' '.join(['bench/fisher_torch.py'] + sys.argv[1:])}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), Linux "
        f"{platform.release()}; shared with other jobs, so CPU seconds are the measure",
        f"- torch {torch.__version__} (one thread), numpy {np.__version__}, libgdropout "
        f"{gdropout.__version__} ({gdropout.library_source()}, kernels {gdropout.dispatch_name()}),"
        f" vmap from {gt.vmap_backend()[3] if gt.vmap_backend() else 'none'}",
        f"- model: the C encoder's (examples/encoder/tests/torch_model.py), {a.layers} layers, "
        f"hidden {a.hidden}, {a.heads} heads, ffn {a.ffn}, vocab {a.vocab}; loss: each "
        "sequence's masked-LM loss (mean cross-entropy over its masked positions, the C "
        "encoder's); `all`: every parameter in the Fisher (MLM head included, as `encoder "
        "fisher`), `linear-only`: only the nn.Linear layers' (embeddings, LayerNorms and the "
        "decoder bias frozen)",
        f"- data: {a.seqs} synthetic sequences (seed 1), lengths 8..{a.max_len}, {tokens} tokens,"
        f" {targets} masked targets, batches of {a.batch} ({padded} tokens padded: every torch "
        "method, the loop too, runs a sequence at its batch's length; the C encoder at its "
        "own); the same for every method",
        "- C encoder: " + (f"`{a.encoder} fisher --sequences FILE --threads 1` on the same "
                           "weights (written as its checkpoint) and sequences (unpadded), batch"
                           " of one; its own loop time (no loading or saving), "
                           "one process per pass" if a.encoder else "not run (no --encoder)"),
        f"- timing: per method one untimed pass, then {a.reps} timed; the median, and the "
        "range over the timed passes",
        f"- run time of the whole script: {total:.0f} s",
        "",
        "| parameters | method | sequences / CPU-s | range | sequences / s (wall) "
        "| x loop (CPU) | max diff to loop |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config, n_params, method, sc, lo, hi, sw, ratio, diff in rows:
        lines.append(f"| {config} ({n_params}) | {method} | {sc:.1f} | {lo:.1f}-{hi:.1f} "
                     f"| {sw:.1f} | {ratio:.2f} | {diff:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as fp:
            fp.write(text)


if __name__ == "__main__":
    main()
