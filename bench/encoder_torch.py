#!/usr/bin/python3
"""The encoder's training speed in PyTorch, at `encoder speed`'s shapes.

    bench/encoder_torch.py [--wordnet DIR] [--vocab vocab.txt] [--steps 20]
                           [--warm 3] [--json OUT] [--check-dump DUMP --vocab V]

The model is examples/encoder/tests/torch_model.py, the module the parity
test holds equal to the C trainer (float32, CPU, one thread: torch's own
threads and OpenBLAS's, which Debian's torch calls for its matrix products).
A timed step is what `encoder speed` times: forward, backward, gradient
clipping at norm 1 and an AdamW step (weight decay on matrices only), with
dropout 0.1 at every site (torch's dropout).  Building a batch is not timed
here (pure Python would dominate); in C it is, and costs well under 1 %.

The batches are the C speed command's, exactly: this script reads WordNet,
tokenizes with the C tokenizer's rule (ASCII lowercase; a token is a run of
[A-Za-z0-9_] and bytes >= 0x80, or any other single non-blank byte; cut at
255 bytes), builds the 8000-entry vocabulary the same way (or reads
vocab.txt), and replays the C code's random generator (splitmix64 on a
counter), held-out rule, epoch order (length-sorted chunks of 64 batches,
batches shuffled), masking (15 % of non-[UNK] tokens, 80/10/10) and
supersense task, so every timed batch has the same sequences, padding and
masked positions.  --check-dump verifies that replay against a file
`encoder dump` wrote (default seed 5) and stops.

Reports non-padding tokens per second of wall time and per CPU second, and
the tokens in the timed steps (so a C run's CPU seconds per step convert to
tokens per CPU second on the same batches).
"""
import argparse
import json
import math
import os
import re
import sys
import time

# One thread everywhere, before torch (and OpenBLAS under it) loads.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "encoder", "tests"))

M64 = (1 << 64) - 1
PAD, UNK, CLS, SEP, MASK, N_SPECIAL = 0, 1, 2, 3, 4, 5
SPECIALS = [b"[PAD]", b"[UNK]", b"[CLS]", b"[SEP]", b"[MASK]"]
SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST = 0, 1, 2
# The supersense classes: noun lexicographer files, in class order.
SUPER_FILES = [5, 6, 8, 13, 15, 18, 20, 27]


# ---- the C code's random generator (examples/encoder/util.h) -------------

def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Rng:
    def __init__(self, seed, stream):
        self.state = mix64(seed ^ mix64((stream + 0x5851F42D4C957F2D) & M64))

    def u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return mix64(self.state)

    def unit(self):
        return (self.u64() >> 11) * 2.0 ** -53

    def below(self, n):
        k = int(self.unit() * float(n))
        return k if k < n else n - 1

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.below(i)
            a[i - 1], a[j] = a[j], a[i - 1]


# ---- WordNet, tokenizer, vocabulary --------------------------------------

def read_wordnet(folder):
    """[(pos, offset, lexfile, gloss bytes)] in the C reader's order."""
    syn = []
    for name in ("data.noun", "data.verb", "data.adj", "data.adv"):
        with open(os.path.join(folder, name), "rb") as fp:
            for line in fp:
                if line[:1] in (b" ", b"\n"):
                    continue  # the license header
                bar = line.find(b" | ")
                f = line[:bar].split()
                gloss = line[bar + 3:].lstrip(b" ").rstrip(b" \n\r")
                syn.append((f[2].decode(), int(f[0]), int(f[1]), gloss))
    return syn


def split_of(pos, offset):
    if pos != "n":
        return SPLIT_TRAIN
    u = (mix64(offset) >> 11) * 2.0 ** -53
    return SPLIT_TEST if u < 0.1 else SPLIT_VAL if u < 0.2 else SPLIT_TRAIN


TOKEN = re.compile(rb"[A-Za-z0-9_\x80-\xff]+|[^ \t\n\r\x0b\x0c]")


def tokenize(text):
    return [t.lower()[:255] for t in TOKEN.findall(text)]  # bytes.lower: ASCII only


def build_vocab(texts, size):
    count = {}
    for text in texts:
        for t in tokenize(text):
            count[t] = count.get(t, 0) + 1
    words = sorted(count, key=lambda t: (-count[t], t))[:size - N_SPECIAL]
    return {t: i for i, t in enumerate(SPECIALS + words)}


def load_vocab(path):
    with open(path, "rb") as fp:
        toks = fp.read().split(b"\n")
    if toks and toks[-1] == b"":
        toks.pop()
    if toks[:N_SPECIAL] != SPECIALS:
        raise ValueError(f"{path}: the first five lines are not the special tokens")
    return {t: i for i, t in enumerate(toks)}


def encode(vocab, text):
    return [vocab.get(t, UNK) for t in tokenize(text)]


# ---- corpus, order, batches (examples/encoder/data.c) --------------------

def corpus(syn, vocab, split, max_tokens):
    out = []
    for pos, off, _, gloss in syn:
        if split_of(pos, off) == split:
            ids = encode(vocab, gloss)[:max_tokens]
            if ids:
                out.append(ids)
    return out


def epoch_order(seqs, batch, seed, epoch):
    r = Rng(seed, 0x6F72646572 + epoch)
    n = len(seqs)
    order = list(range(n))
    r.shuffle(order)
    chunk = batch * 64
    for at in range(0, n, chunk):
        part = order[at:at + chunk]
        part.sort(key=lambda i: (len(seqs[i]), i))
        order[at:at + chunk] = part
    full = n // batch
    perm = list(range(full))
    r.shuffle(perm)
    shuffled = [i for p in perm for i in order[p * batch:(p + 1) * batch]]
    return shuffled + order[full * batch:]


def mlm_batch(seqs, idx, vocab_size, r):
    """ids [B][T], seg, lens, mpos, mlabel, as enc_batch_mlm builds them."""
    T = max(len(seqs[i]) for i in idx) + 2
    ids, lens, mpos, mlabel = [], [], [], []
    for s, i in enumerate(idx):
        row = [CLS] + seqs[i] + [SEP]
        n = len(row)
        row += [PAD] * (T - n)
        lens.append(n)
        cand = [t for t in range(1, n - 1) if row[t] != UNK]
        if cand:
            k = max(1, math.floor(0.15 * len(cand) + 0.5))
            for j0 in range(k):
                j = j0 + r.below(len(cand) - j0)
                t = cand[j]
                cand[j] = cand[j0]
                cand[j0] = t
                mpos.append(s * T + t)
                mlabel.append(row[t])
                u = r.unit()
                if u < 0.8:
                    row[t] = MASK
                elif u < 0.9:
                    row[t] = N_SPECIAL + r.below(vocab_size - N_SPECIAL)
        ids.append(row)
    return {"ids": ids, "seg": [[0] * T for _ in idx], "len": lens, "mpos": mpos,
            "mlabel": mlabel}


def supersense(syn, vocab, per_class):
    """train, val, test: [(ids, label)] as enc_task_supersense builds them."""
    nouns = [k for k, s in enumerate(syn) if s[0] == "n"]
    sets = [[], [], []]
    want = [per_class, 150, 150]
    for c, lexfile in enumerate(SUPER_FILES):
        for split in range(3):
            mem = [k for k in nouns if syn[k][2] == lexfile and split_of("n", syn[k][1]) == split]
            Rng(1, 0x7375706572 * 16 + c * 3 + split).shuffle(mem)
            if len(mem) < want[split]:
                raise ValueError(f"supersense: class {c} has only {len(mem)} synsets")
            sets[split] += [(encode(vocab, syn[k][3])[:256], c) for k in mem[:want[split]]]
    for split in range(3):
        perm = list(range(len(sets[split])))
        Rng(2, split).shuffle(perm)
        sets[split] = [sets[split][p] for p in perm]
    return sets


def task_batch(examples, idx, max_len):
    rows = [[CLS] + examples[i][0][:max_len - 2] + [SEP] for i in idx]
    T = max(len(r) for r in rows)
    return {"ids": [r + [PAD] * (T - len(r)) for r in rows], "seg": [[0] * T for _ in rows],
            "len": [len(r) for r in rows], "label": [examples[i][1] for i in idx]}


# ---- timing ---------------------------------------------------------------

def tensors(torch, b):
    return {k: torch.tensor(v, dtype=torch.int64) for k, v in b.items()}


def measure(torch, model, batches, mlm, warm, steps, pool="mean"):
    F = torch.nn.functional
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-6)
    total = warm + steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (total - s) / total))
    params = list(model.parameters())

    def drop(site, x):
        return F.dropout(x, 0.1, training=True)
    model.train()
    tokens = 0
    for k, b in enumerate(batches[:total]):
        if k == warm:
            w0, c0, tokens = time.perf_counter(), time.process_time(), 0
        opt.zero_grad(set_to_none=True)
        if mlm:
            _, loss = model.forward_mlm(b["ids"], b["seg"], b["len"], b["mpos"], b["mlabel"], drop)
        else:
            _, loss = model.forward_cls(b["ids"], b["seg"], b["len"], b["label"], pool, drop)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        tokens += int(b["len"].sum())
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    T = [b["ids"].shape[1] for b in batches[warm:total]]
    return {"tok_s": tokens / wall, "tok_cpu_s": tokens / cpu, "cpu_step": cpu / steps,
            "tokens": tokens, "steps": steps, "mean_T": sum(T) / len(T)}


def check_dump(path, syn, vocab):
    sys.path.insert(0, os.path.join(HERE, "..", "examples", "encoder", "tests"))
    import numpy as np
    import parity
    header, t = parity.read_dump(path, np)
    meta = header["__metadata__"]
    B, max_len = t["batch.ids"].shape[0], int(meta["max_len"])
    if len(vocab) != int(meta["vocab"]):
        raise ValueError(f"vocabulary of {len(vocab)} entries, the dump's {meta['vocab']}")
    if meta["mode"] == "mlm":
        held = corpus(syn, vocab, SPLIT_VAL, max_len - 2)
        b = mlm_batch(held, list(range(B)), len(vocab), Rng(5, 1))
        keys = ["ids", "len", "mpos", "mlabel"]
    else:
        b = task_batch(supersense(syn, vocab, 500)[1], list(range(B)), max_len)
        keys = ["ids", "len", "label"]
    for k in keys:
        mine = np.asarray(b[k], dtype=np.float32).reshape(t["batch." + k].shape)
        if not np.array_equal(mine, t["batch." + k]):
            raise ValueError(f"batch.{k} differs from the dump's")
    print(f"{path}: the replayed {meta['mode']} batch equals the dump's ({', '.join(keys)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--vocab", help="vocab.txt (default: built as `encoder speed` builds it)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per phase")
    ap.add_argument("--warm", type=int, default=3, help="untimed steps first")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256, help="pretraining batch")
    ap.add_argument("--ft-batch", type=int, default=32, help="fine-tuning batch")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--check-dump", help="verify the batch replay against this dump and stop")
    a = ap.parse_args()
    t0 = time.perf_counter()
    syn = read_wordnet(a.wordnet)
    if a.vocab:
        vocab = load_vocab(a.vocab)
    else:
        vocab = build_vocab([s[3] for s in syn if split_of(s[0], s[1]) == SPLIT_TRAIN], 8000)
    if a.check_dump:
        check_dump(a.check_dump, syn, vocab)
        return 0
    import torch
    import torch_model
    torch.set_num_threads(1)
    torch.manual_seed(1)
    total = a.warm + a.steps
    seqs = corpus(syn, vocab, SPLIT_TRAIN, 62)
    order = epoch_order(seqs, a.batch, 1, 0)
    per = len(seqs) // a.batch
    pre = [tensors(torch, mlm_batch(seqs, order[(k % per) * a.batch:(k % per + 1) * a.batch],
                                    len(vocab), Rng(1, k))) for k in range(total)]
    train = supersense(syn, vocab, 500)[0]
    per = len(train) // a.ft_batch
    ft = [tensors(torch, task_batch(train, range((k % per) * a.ft_batch,
                                                 (k % per + 1) * a.ft_batch), 64))
          for k in range(total)]
    print(f"data: {len(seqs)} glosses, vocabulary {len(vocab)}; "
          f"{time.perf_counter() - t0:.1f} s to read and batch")
    cfg = {"vocab": len(vocab), "hidden": a.hidden, "layers": a.layers, "heads": a.heads,
           "ffn": a.ffn, "max_len": 64, "classes": 0}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; model L={a.layers} "
          f"H={a.hidden} heads={a.heads} F={a.ffn}; {a.steps} timed steps each")
    out = {"torch": torch.__version__}
    out["pretrain"] = measure(torch, torch_model.build(torch, cfg), pre, True, a.warm, a.steps)
    cfg["classes"] = len(SUPER_FILES)
    out["finetune"] = measure(torch, torch_model.build(torch, cfg), ft, False, a.warm, a.steps)
    for what in ("pretrain", "finetune"):
        r = out[what]
        print(f"{what:<9} {r['tok_s']:8.0f} tokens/s   {r['tok_cpu_s']:8.0f} tokens/CPU-s   "
              f"{r['cpu_step']:.3f} CPU s/step   ({r['tokens']} tokens in {r['steps']} steps, "
              f"mean padded length {r['mean_T']:.1f})")
    if a.json:
        with open(a.json, "w") as fp:
            json.dump(out, fp, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
