#!/usr/bin/python3
"""PyTorch parity of the C encoder: one training step, same inputs, same masks.

    parity.py DUMP.safetensors [--skip-status N]
    parity.py --perturb SRC.safetensors DST.safetensors [--tensor NAME]

`encoder dump` writes one step of the C trainer: every parameter, the batch,
the multiplier of every dropout site (0 or 1/(1-p), in the shape of the
tensor it drops), the raw logits, the loss and every parameter's gradient.
This script builds the same model as a torch.nn.Module (torch_model.py,
float32, the layout of examples/encoder/model.h: post-LayerNorm BERT, erf
GELU, LayerNorm eps 1e-12, keys past each sequence's length masked so their
probabilities are exactly 0, MLM decoder tied to the word embeddings, mean,
[CLS] or pair pooling, the classifier), loads the dumped parameters by their BERT names, multiplies
each dropout site's tensor by the dumped multipliers instead of drawing a
mask, computes the C code's loss (MLM: mean cross-entropy over the masked
positions; classifier: mean cross-entropy over the sequences), backpropagates
and compares the logits, the loss and every gradient with the dump.

Error measure, per tensor: max |C - torch| / max |torch| (the error relative
to the tensor's scale; an element-wise relative error would be dominated by
elements that are sums cancelling to nearly 0, which are legitimately noisy
in float32).  One exception: the key bias's gradient is exactly 0 in exact
arithmetic (it shifts a whole row of scores, which softmax ignores), so both
sides hold rounding noise of ~1e-12; it is measured on the scale of the key
weight's gradient instead.  Tolerances: both sides compute in float32 but sum in different
orders (OpenBLAS sgemm blocking vs. PyTorch's kernels; the C code sums
LayerNorm statistics, softmax denominators and bias gradients in double), so
each value carries a few float32 roundings per accumulated term: about
1e-7 * sqrt(terms) relative, grown by each layer's backward (LayerNorm
divides by the standard deviation; softmax backward subtracts nearly equal
numbers).  The same model in float64 is run as well, and the float32 PyTorch
error against it (the "float32 floor" printed below) is of the same order as
the C-vs-PyTorch error.  Measured worst errors (tiny L=2 H=32 and default
L=4 H=128 V=8000 checkpoints, batches of 4 and 16): loss 1.2e-7, logits
5.6e-7, gradients 3.8e-6.  TOL below sits 8-25x above them, and 10x below
the perturbation the failure self-test (--perturb) injects into a gradient.

Exit status: 0 parity holds, 1 it does not (or the dump is unreadable),
and --skip-status (default 0) with "skipped: torch not importable" when
torch or numpy cannot be imported; ctest passes 77 (SKIP_RETURN_CODE).
"""
import argparse
import json
import math
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree from ctest
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model  # noqa: E402  (the model, shared with bench/encoder_torch.py)

TOL = {"loss": 1e-6, "logits": 1e-5, "grad": 1e-4}
PERTURB = 1e-3  # relative to the tensor's largest |value|; 10x the gradient TOL


def read_dump(path, np):
    """Header (dict with __metadata__) and {name: float32 array}."""
    with open(path, "rb") as fp:
        blob = fp.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for safetensors")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header of {n} bytes runs past the end of the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - begin != 4 * count or end > len(data):
            raise ValueError(f"{path}: {name} has bad data_offsets {info['data_offsets']}")
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return header, tensors


def perturb(src, dst, tensor, np):
    """Copies src to dst with one element of `tensor` changed: its largest
    |value| moved by PERTURB of itself, or, for a dropout multiplier (drop.*),
    a kept element dropped (set to 0; in the row of the first masked token
    for an MLM dump) to show the masks are used."""
    header, t = read_dump(src, np)
    if tensor not in t:
        raise ValueError(f"{src}: no tensor {tensor}")
    with open(src, "rb") as fp:
        blob = bytearray(fp.read())
    (n,) = struct.unpack("<Q", blob[:8])
    arr = t[tensor]
    k = int(np.argmax(np.abs(arr)))
    if tensor.startswith("drop.") and arr.ndim == 2 and "batch.mpos" in t \
            and arr.shape[0] == t["batch.ids"].size:
        row = int(t["batch.mpos"][0])  # a masked token's row: it reaches the loss
        k = row * arr.shape[1] + int(np.argmax(arr[row] != 0))
    old = float(arr.reshape(-1)[k])
    if tensor.startswith("drop."):
        if old == 0.0:
            raise ValueError(f"{src}: {tensor} drops everything")
        new = np.float32(0.0)
    else:
        new = np.float32(old + PERTURB * abs(old) + (1e-6 if old == 0 else 0.0))
    at = 8 + n + header[tensor]["data_offsets"][0] + 4 * k
    blob[at:at + 4] = struct.pack("<f", new)
    with open(dst, "wb") as fp:
        fp.write(blob)
    print(f"perturbed {tensor}[{k}]: {old:.9g} -> {float(new):.9g}")


def config_of(meta):
    if meta.get("format") != "gdx-encoder-dump-1":
        raise ValueError(f"dump format {meta.get('format')!r}, expected gdx-encoder-dump-1")
    cfg = {k: int(meta[k]) for k in ("vocab", "hidden", "layers", "heads", "ffn", "max_len",
                                     "classes")}
    if meta["mode"] not in ("mlm", "cls") or meta["pool"] not in ("mean", "cls", "pair"):
        raise ValueError(f"mode {meta['mode']!r} / pool {meta['pool']!r}")
    cfg["pool"] = meta["pool"]
    return cfg, meta["mode"], meta["pool"]


def run(torch, t, cfg, mode, pool, dtype):
    """Forward and backward in `dtype`; returns logits, loss and gradients."""
    model = torch_model.build(torch, cfg).to(dtype)
    state = {k[len("param."):]: torch.from_numpy(v.copy()).to(dtype)
             for k, v in t.items() if k.startswith("param.")}
    model.load_state_dict(state, strict=True)  # every name must match BERT's layout
    as_long = {k: torch.from_numpy(t["batch." + k].astype("int64"))
               for k in ("ids", "seg", "len", "mpos", "mlabel", "label") if "batch." + k in t}
    ns = 3 * cfg["layers"] + 1
    mult = [torch.from_numpy(t[f"drop.{s}"].copy()).to(dtype) for s in range(ns + 1)]

    def drop(site, x):  # the C code's masks: [B*T,H] is [B,T,H] row-major
        return x * mult[site].view(x.shape)
    b = as_long
    if mode == "mlm":
        logits, loss = model.forward_mlm(b["ids"], b["seg"], b["len"], b["mpos"], b["mlabel"], drop)
    else:
        logits, loss = model.forward_cls(b["ids"], b["seg"], b["len"], b["label"], pool, drop)
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = g.double().numpy()
    return logits.detach().double().numpy(), float(loss), grads


def group_of(name):
    """Tensor groups for the report: embeddings, each layer's attention and
    feed-forward, the MLM head, the classifier."""
    parts = name.split(".")
    if parts[0] == "encoder":
        return f"layer.{parts[2]}.{'attention' if parts[3] == 'attention' else 'ffn'}"
    if parts[0] == "cls":
        return "mlm head"
    return parts[0]


def rel_err(c, ref, np, scale=None):
    if scale is None:
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(c.astype("float64") - ref))) if ref.size else 0.0
    if scale == 0.0:
        return diff  # an all-zero reference: any difference is absolute
    return diff / scale


def compare(path, np, torch):
    header, t = read_dump(path, np)
    cfg, mode, pool = config_of(header.get("__metadata__", {}))
    torch.set_num_threads(1)
    lg32, loss32, g32 = run(torch, t, cfg, mode, pool, torch.float32)
    lg64, loss64, g64 = run(torch, t, cfg, mode, pool, torch.float64)
    c_loss = float(t["out.loss"][0])
    print(f"{path}: {mode}" + (f" ({pool} pooling)" if mode == "cls" else "") +
          f", L={cfg['layers']} H={cfg['hidden']} heads={cfg['heads']} F={cfg['ffn']} "
          f"V={cfg['vocab']}, batch {list(t['batch.ids'].shape)}")
    print(f"loss: C {c_loss:.7f}  torch {loss32:.7f}  (float64 {loss64:.7f})")
    rows = [("loss", "loss", abs(c_loss - loss32) / abs(loss32), abs(loss32 - loss64) / abs(loss64),
             TOL["loss"])]
    rows.append(("logits", "logits", rel_err(t["out.logits"], lg32, np), rel_err(lg32, lg64, np),
                 TOL["logits"]))
    missing = sorted(k[len("grad."):] for k in t if k.startswith("grad.")
                     and k[len("grad."):] not in g32)
    extra = sorted(k for k in g32 if "grad." + k not in t)
    if missing or extra:
        print(f"FAIL: gradients only in the dump: {missing}; only in torch: {extra}")
        return False
    for name in g32:
        scale = None
        if name.endswith("attention.self.key.bias"):
            # Exactly 0 in exact arithmetic (a bias on the keys adds q.b to a
            # whole row of scores, which softmax ignores), so both sides hold
            # rounding noise: measure it on the scale of the key weights'
            # gradient, which the same products feed.
            scale = float(np.max(np.abs(g64[name[:-len("bias")] + "weight"])))
        rows.append((group_of(name), name, rel_err(t["grad." + name], g32[name], np, scale),
                     rel_err(g32[name].astype("float32"), g64[name], np, scale), TOL["grad"]))
    failed = [r for r in rows if not r[2] <= r[4]]  # also catches NaN
    for g, name, err, floor, tol in failed[:10]:
        print(f"FAIL: {name}: C vs torch relative error {err:.3g} > {tol:g}")
    if len(failed) > 10:
        print(f"FAIL: ... and {len(failed) - 10} more tensors")
    print(f"{'group':<20} {'worst C vs torch':>17} {'float32 floor':>14} {'tolerance':>10}  "
          "worst tensor")
    groups = {}
    for g, name, err, floor, tol in rows:
        w = groups.get(g)
        if w is None or err > w[1]:
            groups[g] = (name, err, max(floor, w[2] if w else 0.0), tol)
        else:
            groups[g] = (w[0], w[1], max(floor, w[2]), tol)
    for g, (name, err, floor, tol) in groups.items():
        print(f"{g:<20} {err:17.3e} {floor:14.3e} {tol:10.0e}  {name}")
    n = len(rows) - 2
    ok = not failed
    print(f"{'PASS' if ok else 'FAIL'}: loss, logits and {n} gradients "
          f"({sum(v.size for v in g32.values())} values)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", nargs="?", help="a file `encoder dump` wrote")
    ap.add_argument("--skip-status", type=int, default=0,
                    help="exit status when torch cannot be imported (ctest: 77)")
    ap.add_argument("--perturb", nargs=2, metavar=("SRC", "DST"),
                    help="write a copy of SRC with one gradient element changed, then stop")
    ap.add_argument("--tensor", default="grad.embeddings.LayerNorm.weight",
                    help="the tensor --perturb changes")
    a = ap.parse_args()
    try:
        import numpy as np
    except ImportError as e:
        print(f"skipped: numpy not importable ({e})")
        return a.skip_status
    try:
        if a.perturb:
            perturb(a.perturb[0], a.perturb[1], a.tensor, np)
            return 0
        if a.dump is None:
            ap.error("a dump file is required")
        try:
            import torch
        except ImportError as e:
            print(f"skipped: torch not importable ({e}); apt-get install python3-torch")
            return a.skip_status
        return 0 if compare(a.dump, np, torch) else 1
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"parity: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
