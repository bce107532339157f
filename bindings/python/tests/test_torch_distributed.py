"""Data-parallel training with gdropout.torch.Dropout: two processes
(torch.distributed, gloo, CPU) under DistributedDataParallel, each with the
same seed and its rank.  Rank r's masks must be the C kernels' at Philox
offset r << 40 (Dropout's documented rule), so the two ranks draw different
masks for the same input, and the step counters stay in step."""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

try:
    import torch
    import torch.distributed as dist
    from torch import nn
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout.torch as gt
from gdropout import reference as R

from .helpers import BitTestCase

SEED, P, WORLD = 11, 0.5, 2
TESTS_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(rank, init_file, out_dir):
    """One rank: a DDP model with a gdropout Dropout at rank `rank`, one
    training step on an input the same on every rank; saves the dropout's
    input and output, its step and the synchronised gradient."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 40), gt.Dropout(P, seed=SEED, site=3, rank=rank),
                          nn.Linear(40, 2))
    seen = {}
    model[1].register_forward_hook(lambda m, a, y: seen.update(x=a[0].detach(), y=y.detach()))
    ddp = nn.parallel.DistributedDataParallel(model)
    x = torch.linspace(-1, 1, 5 * 6).reshape(5, 6)
    for _ in range(2):  # two steps: the second uses stream (1 << 16) | 3
        ddp.zero_grad()
        ddp(x).sum().backward()
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), x=seen["x"].numpy(), y=seen["y"].numpy(),
             step=model[1].step, grad=model[0].weight.grad.numpy())
    dist.destroy_process_group()


@unittest.skipUnless(dist.is_available() and dist.is_gloo_available(),
                     "torch.distributed with gloo is not available")
class DataParallelTest(BitTestCase):
    def test_two_ranks(self):
        with tempfile.TemporaryDirectory() as d:
            init = os.path.join(d, "init")
            env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1",
                       PYTHONPATH=os.pathsep.join(
                           [TESTS_PARENT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
            code = ("import sys; from tests.test_torch_distributed import worker; "
                    "worker(int(sys.argv[1]), sys.argv[2], sys.argv[3])")
            procs = [subprocess.Popen([sys.executable, "-W", "error", "-c", code, str(r), init, d],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                     for r in range(WORLD)]
            outs = []
            for p in procs:
                try:
                    out, _ = p.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    for q in procs:
                        q.kill()
                    raise
                outs.append((p.returncode, out.decode(errors="replace")))
            for r, (rc, out) in enumerate(outs):
                self.assertEqual(rc, 0, f"rank {r}:\n{out}")
            res = [dict(np.load(os.path.join(d, f"rank{r}.npz"))) for r in range(WORLD)]
        stream = (1 << 16) | 3  # step 1 (the second call), site 3
        for r, got in enumerate(res):
            self.assertEqual(int(got["step"]), 2)
            want, _ = R.dropout(got["x"], np.float32(P), SEED, stream, r << gt.RANK_SHIFT)
            self.assertBitsEqual(got["y"], want)
        # same input on both ranks, different masks
        np.testing.assert_array_equal(res[0]["x"], res[1]["x"])
        self.assertFalse(np.array_equal(res[0]["y"] == 0, res[1]["y"] == 0))
        # DDP averaged the gradients: every rank holds the same
        self.assertBitsEqual(res[0]["grad"], res[1]["grad"])


if __name__ == "__main__":
    unittest.main()
