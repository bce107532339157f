"""gdropout.torch.estimate_fisher: every method against the batch-of-one
loop on a small encoder, and against a hand-written per-example float64
reference for one nn.Linear (plain and over a sequence).

Tolerance: relative error <= 1e-5 per tensor, measured against the
tensor's largest reference value, plus 1e-12 of the model's largest value
for tensors whose exact gradient is zero (an attention key bias: softmax is
invariant to it, so its "Fisher" is ~1e-19 of rounding noise in every
method).  Measured: at most 6.5e-7 on these models."""

import contextlib
import io
import unittest
from unittest import mock

import numpy as np

try:
    import torch
    from torch import nn
    import torch.nn.functional as F
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout
import gdropout.torch as gt

from .test_torch_models import Encoder, torch_encoder

REL = 1e-5
METHODS = ["loop", "vmap", "dense", "auto"] if gt.vmap_backend() else ["loop", "dense", "auto"]


def ce(out, target):
    return F.cross_entropy(out, target, reduction="none")


def estimates(f):
    return {t.name: f.read(i)[0] for i, t in enumerate(f.tensors())}


class Recording(gdropout.Fisher):
    """A Fisher that records which accumulate call each tensor went through.

    estimate_fisher accumulates into a Fisher of its own and merges it into
    the one it is given at the end (all or nothing), so inside `with` the
    Fisher class it makes is patched to a Recording that shares this one's
    list (its tensor ids are this one's: same tensors, same order)."""

    def __init__(self, calls=None):
        super().__init__()
        self.calls = [] if calls is None else calls

    def __enter__(self):
        calls = self.calls

        class Shared(Recording):
            def __init__(self):
                super().__init__(calls)
        self._patch = mock.patch.object(gt, "Fisher", Shared)
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()
        return super().__exit__(*exc)

    def accumulate(self, tensor_id, grad, w=1.0):
        self.calls.append(("accumulate", tensor_id))
        super().accumulate(tensor_id, grad, w)

    def accumulate_batch(self, tensor_id, grads):
        self.calls.append(("batch", tensor_id))
        super().accumulate_batch(tensor_id, grads)

    def accumulate_dense(self, w_id, x, dy, b_id=None):
        self.calls.append(("dense", w_id))
        super().accumulate_dense(w_id, x, dy, b_id)

    def accumulate_dense_seq(self, w_id, x, dy, b_id=None):
        self.calls.append(("dense_seq", w_id))
        super().accumulate_dense_seq(w_id, x, dy, b_id)


class FisherCase(unittest.TestCase):
    def assertClose(self, got, want, what):
        scale = max(float(np.abs(v).max()) for v in want.values())
        self.assertEqual(sorted(got), sorted(want))
        for name, w in want.items():
            g = np.asarray(got[name], np.float64).reshape(-1)
            w = np.asarray(w, np.float64).reshape(-1)
            err = np.abs(g - w).max()
            tol = REL * np.abs(w).max() + 1e-12 * scale
            self.assertLessEqual(err, tol, f"{what}: {name}: |error| {err:.3g} > {tol:.3g}")


class EncoderFisherTest(FisherCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = Encoder()
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, 16, (11, 6), generator=g)
        y = torch.randint(0, 3, (11,), generator=g)
        # uneven batches, one of a single example
        self.batches = [(ids[:4], y[:4]), (ids[4:5], y[4:5]), (ids[5:], y[5:])]
        self.sites = gt.map_sites(self.model, ids[:2], leave_alone=["head_drop"])

    def run_method(self, method, **kw):
        with gt.estimate_fisher(self.model, ce, self.batches, sites=self.sites, method=method,
                                **kw) as f:
            self.assertEqual({f.read(i)[1] for i in range(len(f))}, {11.0})
            self.assertEqual([t.site for t in f.tensors()], list(self.sites.params.values()))
            return estimates(f)

    def test_every_method_equals_the_loop(self):
        loop = self.run_method("loop")
        self.assertGreater(min(float(v.max()) for k, v in loop.items() if "k.bias" not in k), 0)
        for method in METHODS[1:]:
            with self.subTest(method=method):
                self.assertClose(self.run_method(method), loop, method)

    def test_loop_is_the_batch_of_one(self):
        # the loop against autograd by hand, in float64 on a float64 copy
        model = Encoder()
        model.load_state_dict(self.model.state_dict())
        model.double().eval()
        want = {n: 0.0 for n, _ in model.named_parameters()}
        for ids, y in self.batches:
            for i in range(len(y)):
                model.zero_grad()
                ce(model(ids[i:i + 1]), y[i:i + 1]).sum().backward()
                for n, p in model.named_parameters():
                    want[n] = want[n] + p.grad.numpy() ** 2 / 11.0
        self.assertClose(self.run_method("loop"), want, "loop vs float64 autograd")

    def test_dense_path_takes_every_linear(self):
        with Recording() as f:
            gt.estimate_fisher(self.model, ce, self.batches, sites=self.sites, method="dense",
                               fisher=f)
            how = {}
            for kind, tid in f.calls:
                how.setdefault(f.info(tid).name, set()).add(kind)
        linears = [n for n, m in self.model.named_modules() if isinstance(m, nn.Linear)]
        for name in linears:
            want = "dense" if name == "head" else "dense_seq"  # head: [B, d]; blocks: [B, T, d]
            self.assertEqual(how[f"{name}.weight"], {want}, name)
            self.assertNotIn(f"{name}.bias", how, name)  # with its weight, b_id
        others = {n for n, _ in self.model.named_parameters()} - {
            f"{n}.{w}" for n in linears for w in ("weight", "bias")}
        rest_kind = "batch" if gt.vmap_backend() else "accumulate"
        self.assertEqual({n: how[n] for n in others}, {n: {rest_kind} for n in others})

    def test_mode_restored_and_fisher_added_to(self):
        self.model.train()
        with gt.estimate_fisher(self.model, ce, self.batches[:1], sites=self.sites,
                                method="loop") as f:
            self.assertTrue(self.model.training)
            gt.estimate_fisher(self.model, ce, self.batches[1:], sites=self.sites,
                               method="dense", fisher=f)
            self.assertClose(estimates(f), self.run_method("loop"), "two calls")

    def test_progress(self):
        seen = []
        self.run_method("dense", progress=lambda *a: seen.append(a))
        self.assertEqual(seen, [(1, 3, 4), (2, 3, 5), (3, 3, 11)])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.run_method("loop", progress=True)
        lines = err.getvalue().split("\r")
        self.assertEqual(lines[0], "")
        self.assertRegex(lines[3], r"^gdropout.torch: Fisher \(loop\): batch 3/3, 11 examples, "
                                   r"[0-9.]+ s\n$")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):  # not a terminal: quiet by default
            self.run_method("loop")
        self.assertEqual(err.getvalue(), "")

    def test_grad_modes(self):
        """Under torch.no_grad() every method still takes its gradients (the
        loop and dense ones once raised torch's "does not require grad");
        under torch.inference_mode() none can be recorded, and the pass (and
        map_sites) is refused where it once gave an all-zero Fisher."""
        loop = self.run_method("loop")
        for method in METHODS:
            with self.subTest(method=method), torch.no_grad():
                self.assertClose(self.run_method(method), loop, f"{method} under no_grad")
        with torch.inference_mode():
            for method in METHODS:
                with self.subTest(method=method), self.assertRaisesRegex(
                        RuntimeError, "^estimate_fisher: called under torch.inference_mode"):
                    gt.estimate_fisher(self.model, ce, self.batches, sites=self.sites,
                                       method=method)
            ids = self.batches[0][0]
            with self.assertRaisesRegex(RuntimeError, "^map_sites: called under"):
                gt.map_sites(self.model, ids[:2], leave_alone=["head_drop"])
            with self.assertRaisesRegex(RuntimeError, "^dropout_sites: called under"):
                gt.dropout_sites(self.model, ids[:2])
        with torch.no_grad():
            self.assertEqual(gt.map_sites(self.model, self.batches[0][0][:2],
                                          leave_alone="head_drop").params, self.sites.params)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, r"one loss per example, shape \[4\]"):
            gt.estimate_fisher(self.model, lambda o, t: F.cross_entropy(o, t), self.batches,
                               method="dense")
        with self.assertRaisesRegex(ValueError, "method must be one of"):
            gt.estimate_fisher(self.model, ce, self.batches, method="fast")
        with self.assertRaisesRegex(ValueError, "example index on dim 0"):
            gt.estimate_fisher(self.model, ce, [(torch.zeros(2, 6, dtype=torch.long),
                                                 torch.zeros(3, dtype=torch.long))])
        with self.assertRaisesRegex(ValueError, "no example"):
            gt.estimate_fisher(self.model, ce, [])
        with self.assertRaisesRegex(TypeError, "sites must be a Sites"):
            gt.estimate_fisher(self.model, ce, self.batches, sites=["drop"])
        other = gt.map_sites(nn.Sequential(nn.Linear(2, 2), nn.Dropout()), torch.zeros(1, 2))
        with self.assertRaisesRegex(ValueError, "parameters the model lacks"):
            gt.estimate_fisher(self.model, ce, self.batches, sites=other)


class AllOrNothingTest(FisherCase):
    """estimate_fisher(fisher=F) adds a pass to F only when every batch
    succeeded: a failure in any batch, the last included, leaves F's sums and
    weights exactly as they were (issue #26, item 13)."""

    def setUp(self):
        torch.manual_seed(0)
        self.model = Encoder()
        g = torch.Generator().manual_seed(2)
        ids = torch.randint(0, 16, (9, 6), generator=g)
        y = torch.randint(0, 3, (9,), generator=g)
        self.batches = [(ids[:3], y[:3]), (ids[3:6], y[3:6]), (ids[6:], y[6:])]
        self.sites = gt.map_sites(self.model, ids[:2], leave_alone=["head_drop"])

    @staticmethod
    def sums(f):
        return [f.sums(i) for i in range(len(f))]

    def test_a_failed_pass_changes_nothing(self):
        class Injected(Exception):
            pass
        for method in METHODS:
            for fail_at, exc, where in ((1, Injected, "loss"), (2, KeyboardInterrupt, "loss"),
                                        (0, Injected, "loss"), (2, Injected, "batches")):
                with self.subTest(method=method, fail_at=fail_at, exc=exc.__name__, where=where):
                    f = gt.estimate_fisher(self.model, ce, self.batches[:1], sites=self.sites,
                                           method=method)
                    before = self.sums(f)
                    state = {"batch": -1, "calls": 0}

                    def batches():
                        for k, b in enumerate(self.batches):
                            if where == "batches" and k == fail_at:
                                raise exc("injected in the data")
                            state["batch"], state["calls"] = k, 0
                            yield b

                    def loss(out, target):
                        state["calls"] += 1
                        # the second loss call of batch fail_at (loop: its
                        # second example; dense: the vmap/loop pass after the
                        # Linear layers went in), the first for vmap
                        if where == "loss" and state["batch"] == fail_at and (
                                state["calls"] == 2 or method == "vmap"):
                            raise exc("injected in the loss")
                        return ce(out, target)
                    with self.assertRaises(exc):
                        gt.estimate_fisher(self.model, loss, batches(), sites=self.sites,
                                           method=method, fisher=f)
                    self.assertGreaterEqual(state["batch"], 0 if where == "loss" else 1)
                    after = self.sums(f)
                    for (s0, w0), (s1, w1) in zip(before, after):
                        self.assertEqual(w0, w1)
                        np.testing.assert_array_equal(s0, s1)
                    # and a pass that succeeds adds exactly what it would alone
                    gt.estimate_fisher(self.model, ce, self.batches[1:], sites=self.sites,
                                       method=method, fisher=f)
                    with gt.estimate_fisher(self.model, ce, self.batches[1:], sites=self.sites,
                                            method=method) as alone:
                        for (s0, w0), (s1, w1), (s2, w2) in zip(before, self.sums(f),
                                                                self.sums(alone)):
                            self.assertEqual(w1, w0 + w2)
                            np.testing.assert_array_equal(s1, s0 + s2)
                    f.close()


class TorchEncoderFisherTest(FisherCase):
    """torch's own nn.TransformerEncoder: nn.MultiheadAttention calls its
    projections functionally, so only linear1/linear2/head take the dense
    path and in_proj/out_proj go by vmap or the loop."""

    def test_methods_agree(self):
        torch.manual_seed(2)
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.1, batch_first=True)
        model = nn.Sequential(torch_encoder(layer, 2), nn.Flatten(), nn.Linear(40, 3))
        x, y = torch.randn(7, 5, 8), torch.randint(0, 3, (7,))
        sites = gt.map_sites(model, x[:1])
        res = {}
        for method in METHODS:
            with gt.estimate_fisher(model, ce, [(x[:3], y[:3]), (x[3:], y[3:])], sites=sites,
                                    method=method) as f:
                res[method] = estimates(f)
        for method in METHODS[1:]:
            self.assertClose(res[method], res["loop"], method)


class LinearReferenceTest(FisherCase):
    """One nn.Linear, loss_n = 0.5 * ||W x_n + b - t_n||^2 (summed over the
    sequence when x_n is one): per example dy = W x + b - t,
    g_W = sum_t dy_t x_t^T, g_b = sum_t dy_t, written out in float64."""

    def reference(self, lin, x, t):
        w = lin.weight.detach().numpy().astype(np.float64)
        b = lin.bias.detach().numpy().astype(np.float64)
        xs = x.numpy().astype(np.float64)
        ts = t.numpy().astype(np.float64)
        fw, fb = np.zeros_like(w), np.zeros_like(b)
        for n in range(xs.shape[0]):
            xn = xs[n].reshape(-1, w.shape[1])
            dy = xn @ w.T + b - ts[n].reshape(-1, w.shape[0])
            gw = dy.T @ xn
            gb = dy.sum(axis=0)
            fw += gw ** 2
            fb += gb ** 2
        return {"weight": fw / xs.shape[0], "bias": fb / xs.shape[0]}

    def check(self, shape_x, shape_t):
        torch.manual_seed(3)
        lin = nn.Linear(5, 3)
        x, t = torch.randn(*shape_x), torch.randn(*shape_t)

        def loss(out, target):
            return 0.5 * ((out - target) ** 2).reshape(out.shape[0], -1).sum(dim=1)

        want = self.reference(lin, x, t)
        for method in METHODS:
            with Recording() as f:
                gt.estimate_fisher(lin, loss, [(x[:4], t[:4]), (x[4:], t[4:])], method=method,
                                   fisher=f)
                self.assertClose(estimates(f), want, f"{method}, x {tuple(x.shape)}")
                kinds = {k for k, _ in f.calls}
                if method in ("dense", "auto"):
                    self.assertEqual(kinds, {"dense" if x.dim() == 2 else "dense_seq"})

    def test_plain(self):
        self.check((9, 5), (9, 3))

    def test_sequence(self):
        self.check((9, 4, 5), (9, 4, 3))

    def test_float64_model(self):
        torch.manual_seed(4)
        lin = nn.Linear(5, 3).double()
        x, t = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)

        def loss(out, target):
            return 0.5 * ((out - target) ** 2).sum(dim=1)

        want = self.reference(lin, x, t)
        for method in METHODS:
            with gt.estimate_fisher(lin, loss, [(x, t)], method=method) as f:
                self.assertClose(estimates(f), want, f"{method}, float64")

    def test_shared_linear_leaves_the_dense_path(self):
        # called twice per forward: its per-example gradient is a sum over
        # both calls, which one GEMM on squares cannot give; vmap/loop must
        torch.manual_seed(5)
        lin = nn.Linear(4, 4)

        class Twice(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lin

            def forward(self, x):
                return self.lin(torch.tanh(self.lin(x)))

        model = Twice()
        x, t = torch.randn(6, 4), torch.randn(6, 4)

        def loss(out, target):
            return ((out - target) ** 2).sum(dim=1)

        with gt.estimate_fisher(model, loss, [(x, t)], method="loop") as f:
            want = estimates(f)
        with Recording() as f:
            gt.estimate_fisher(model, loss, [(x, t)], method="dense", fisher=f)
            self.assertNotIn("dense", {k for k, _ in f.calls})
            self.assertClose(estimates(f), want, "shared Linear")


class TiedWeightsTest(FisherCase):
    """An output layer tied to the embedding (as in language models): the
    shared weight's per-example gradient has both uses' terms, so it stays
    off the dense path, and vmap differentiates it under both names."""

    def test_methods_agree(self):
        class TiedLM(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(10, 6)
                self.mix = nn.Linear(6, 6)
                self.decoder = nn.Linear(6, 10)
                self.decoder.weight = self.embed.weight

            def forward(self, ids):
                return self.decoder(torch.tanh(self.mix(self.embed(ids))))

        torch.manual_seed(8)
        model = TiedLM()
        ids, nxt = torch.randint(0, 10, (7, 5)), torch.randint(0, 10, (7, 5))

        def loss(out, target):
            return F.cross_entropy(out.transpose(1, 2), target, reduction="none").mean(dim=1)

        self.assertEqual([n for n, _ in model.named_parameters()],
                         ["embed.weight", "mix.weight", "mix.bias", "decoder.bias"])
        res = {}
        for method in METHODS:
            with Recording() as f:
                gt.estimate_fisher(model, loss, [(ids, nxt)], method=method, fisher=f)
                res[method] = estimates(f)
                if method == "dense":
                    self.assertEqual({f.info(i).name for k, i in f.calls if k == "dense_seq"},
                                     {"mix.weight"})
        for method in METHODS[1:]:
            self.assertClose(res[method], res["loop"], method)


class VmapFailureTest(FisherCase):
    """A forward vmap cannot run (a data-dependent Python branch): "vmap"
    raises, "auto" warns and takes the loop for what is outside nn.Linear."""

    @unittest.skipUnless(gt.vmap_backend(), "no torch.func / functorch")
    def test_auto_falls_back_to_the_loop(self):
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.linspace(0.5, 2.0, 4))
                self.lin = nn.Linear(4, 2)

            def forward(self, x):
                if float(x.abs().max()) > 1e6:  # .item(): no vmap
                    raise ValueError("input out of range")
                return self.lin(x * self.scale)

        torch.manual_seed(7)
        model, x, t = Gate(), torch.randn(5, 4), torch.randn(5, 2)

        def loss(out, target):
            return ((out - target) ** 2).sum(dim=1)

        with gt.estimate_fisher(model, loss, [(x, t)], method="loop") as f:
            want = estimates(f)
        with self.assertRaises(RuntimeError):
            gt.estimate_fisher(model, loss, [(x, t)], method="vmap")
        with self.assertWarnsRegex(RuntimeWarning, "vmap failed on this model"):
            with Recording() as f:
                gt.estimate_fisher(model, loss, [(x, t), (x, t)], method="auto", fisher=f)
                self.assertEqual({f.info(i).name: k for k, i in f.calls},
                                 {"scale": "accumulate", "lin.weight": "dense"})
                # the same batch twice: the same mean
                self.assertClose(estimates(f), want, "auto after vmap failed")


@unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
class CudaFisherTest(FisherCase):
    def test_cuda_equals_cpu(self):
        torch.manual_seed(6)
        model = Encoder()
        ids, y = torch.randint(0, 16, (5, 6)), torch.randint(0, 3, (5,))
        sites = gt.map_sites(model, ids[:1], leave_alone=["head_drop"])
        with gt.estimate_fisher(model, ce, [(ids, y)], sites=sites, method="loop") as f:
            want = estimates(f)
        model.cuda()
        for method in METHODS:
            with gt.estimate_fisher(model, ce, [(ids, y)], sites=sites, method=method) as f:
                self.assertClose(estimates(f), want, f"cuda {method}")


if __name__ == "__main__":
    unittest.main()
