#!/usr/bin/python3
"""PyTorch (CPU, one thread) against gd_bench's times from the same session.

usage: torch_bench.py GD_TSV [--n N] [--reps R]

GD_TSV is the file `gd_bench --tsv` wrote ("name<TAB>n<TAB>ms").  Times the
same ops in PyTorch at the same n and prints a markdown table of
torch time / gdropout time (higher = gdropout faster).
"""
import argparse
import statistics
import sys
import time

import torch


def median_ms(fn, reps):
    """Median thread CPU time of fn, as gd_bench times its rows (one thread,
    torch.set_num_threads(1)): wall time on a loaded machine counts other
    processes' time slices and inflated the ratio hundreds of times."""
    fn()  # warm up (allocator, kernels)
    samples = []
    for _ in range(reps):
        t0 = time.thread_time()
        fn()
        samples.append((time.thread_time() - t0) * 1e3)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gd_tsv")
    ap.add_argument("--reps", type=int, default=11)
    args = ap.parse_args()

    gd = {}
    with open(args.gd_tsv) as f:
        for line in f:
            name, n, ms = line.split("\t")
            gd[(name, int(n))] = float(ms)
    sizes = sorted({n for (_, n) in gd})

    torch.set_num_threads(1)
    torch.manual_seed(0)
    p, sigma = 0.1, 0.33333334
    print(f"\n### PyTorch {torch.__version__} on CPU, torch.set_num_threads(1)\n")
    print("| op | n | torch ms | gdropout ms | torch / gdropout |")
    print("|---|---:|---:|---:|---:|")
    for n in sizes:
        x = torch.rand(n) * 2 - 1
        dy = torch.rand(n) * 2 - 1
        y = torch.empty(n)
        # forward as autograd records it: output and the kept mask
        fwd = lambda: torch.native_dropout(x, p, True)
        _, mask = torch.native_dropout(x, p, True)
        bwd = lambda: torch.ops.aten.native_dropout_backward(dy, mask, 1.0 / (1.0 - p))
        z = torch.empty(n)

        def gauss():
            torch.randn(n, out=z)
            z.mul_(sigma).add_(1.0)
            torch.mul(x, z, out=y)

        scale = lambda: torch.mul(x, 1.1111112, out=y)
        rows = [
            ("dropout forward + mask", "fwd_mask", fwd),
            ("dropout backward, stored mask", "bwd_mask", bwd),
            ("Gaussian dropout forward", "gauss_fwd", gauss),
            ("scale y = a * x", "scale", scale),
        ]
        for label, tag, fn in rows:
            if (tag, n) not in gd:
                continue
            t = median_ms(fn, args.reps)
            g = gd[(tag, n)]
            print(f"| {label} | {n} | {t:.3f} | {g:.3f} | {t / g:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
