"""PyTorch's bf16 and fp16 dropout on the CPU beside libgdropout's _ex
kernels (1.2), same session, interleaved samples, median thread CPU time,
one thread each (torch.set_num_threads(1); the C kernels are one-threaded).

    GDROPOUT_LIBRARY=build/src/libgdropout.so.1 /usr/bin/python3 bench/torch_half_bench.py [N] [REPS]

torch.nn.functional.dropout(training=True) draws its mask with its own
generator (not reproducible across precisions or by another framework) and
keeps it as a tensor for backward; the C forward here writes the packed
bit mask (n/8 bytes), which backward can also regenerate from the stream.
"""

import ctypes
import statistics
import sys
import time

import numpy as np
import torch

import gdropout
from gdropout import _native

GD_BF16, GD_F16, GD_MASK_32, GD_MASK_16 = 1, 2, 0, 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 24
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lib = gdropout.lib
    stream = ctypes.byref(_native.CStream(0x5EED, 3 << 16 | 7, 0))
    print(f"n = {n}, median of {reps}, one thread; torch {torch.__version__}, "
          f"libgdropout {gdropout.__version__ if hasattr(gdropout, '__version__') else '?'}, "
          f"float family {lib.gd_dispatch_name().decode()}\n")
    print("| dtype | torch dropout ms | gd _ex + mask, 32-bit rule ms | ratio | "
          "gd _ex + mask, 16-bit rule ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, tdt, code in (("bf16", torch.bfloat16, GD_BF16), ("fp16", torch.float16, GD_F16)):
        x = torch.randn(n).to(tdt)
        xh = x.view(torch.int16).numpy().view(np.uint16)
        yh = np.empty_like(xh)
        m = np.empty((n + 7) // 8, dtype=np.uint8)

        def t_torch():
            torch.nn.functional.dropout(x, 0.1, training=True)

        def ours(rule):
            def f():
                rc = lib.gd_dropout_fwd_ex(code, rule, yh.ctypes.data, xh.ctypes.data, n, 0.1,
                                           stream, m.ctypes.data)
                assert rc == 0, rc
            return f

        try:
            t_torch()
        except RuntimeError as e:  # torch 1.13 has no CPU fp16 bernoulli
            print(f"| {name} | not run: {str(e).splitlines()[0]} | | | | |")
            continue
        fns = [t_torch, ours(GD_MASK_32), ours(GD_MASK_16)]
        samples = [[] for _ in fns]
        for f in fns:
            f()
        for _ in range(reps):
            for i, f in enumerate(fns):
                t0 = time.thread_time()
                f()
                samples[i].append(time.thread_time() - t0)
        t = [statistics.median(s) * 1e3 for s in samples]
        print(f"| {name} | {t[0]:.2f} | {t[1]:.2f} | {t[0] / t[1]:.1f}x | {t[2]:.2f} | "
              f"{t[0] / t[2]:.1f}x |")


if __name__ == "__main__":
    main()
