"""gdropout.torch.Dropout / dropout: bit for bit the C kernels through the
numpy binding (gdropout.dropout_fwd / dropout_bwd), the per-step stream
rule against the pure-numpy reference, gradcheck in float64 through a fixed
mask, and the errors."""

import unittest
from unittest import mock

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout
import gdropout.torch as gt

from .helpers import BitTestCase, R


def t32(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape, np.float32))


class FunctionalTest(BitTestCase):
    def test_forward_backward_bit_exact(self):
        for shape, p in (((3, 1000), 0.3), ((7,), 0.5), ((2, 3, 5), 0.0), ((33,), 1.0),
                         ((4, 17), np.float32(0.1))):
            with self.subTest(shape=shape, p=p):
                s = gdropout.Stream(11, 77, 123)
                x = t32(shape).requires_grad_()
                y = gt.dropout(x, p, s)
                want, mask = gdropout.dropout_fwd(x.detach().numpy(), p, s)
                self.assertBitsEqual(y.detach().numpy(), want)
                dy = t32(shape, 1)
                y.backward(dy)
                self.assertBitsEqual(x.grad.numpy(), gdropout.dropout_bwd(dy.numpy(), p, stream=s))
                self.assertBitsEqual(x.grad.numpy(), gdropout.dropout_bwd(dy.numpy(), p, mask=mask))

    def test_no_copy_and_inplace(self):
        s = gdropout.Stream(1, 2, 0)
        x = t32((8, 9))
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.25, s)
        h = x.clone().requires_grad_()
        z = h * 1.0  # a non-leaf to drop in place
        ptr = z.data_ptr()
        y = gt.dropout(z, 0.25, s, inplace=True)
        self.assertEqual(y.data_ptr(), ptr)
        self.assertBitsEqual(y.detach().numpy(), want)
        y.sum().backward()
        self.assertBitsEqual(h.grad.numpy(), gdropout.dropout_bwd(np.ones((8, 9), np.float32),
                                                                  0.25, stream=s))

    def test_non_contiguous_is_row_major(self):
        s = gdropout.Stream(3, 4, 5)
        x = t32((6, 10)).t()  # [10, 6], not contiguous
        want, _ = gdropout.dropout_fwd(x.contiguous().numpy(), 0.4, s)
        self.assertBitsEqual(gt.dropout(x, 0.4, s).numpy(), want)

    def test_double_backward(self):
        s = gdropout.Stream(5, 6, 0)
        x = t32((50,)).requires_grad_()
        y = gt.dropout(x, 0.5, s)
        (g,) = torch.autograd.grad(y, x, torch.ones(50), create_graph=True)
        v = t32((50,), 2)
        (gg,) = torch.autograd.grad(g, x, v, allow_unused=True) if g.requires_grad else (None,)
        # dropout is linear: the second derivative w.r.t. x is zero / absent
        self.assertTrue(gg is None or not gg.any())
        # the backward's own derivative w.r.t. dy is the forward again
        dy = torch.ones(50, requires_grad=True)
        (dx,) = torch.autograd.grad(gt.dropout(x, 0.5, s), x, dy, create_graph=True)
        (ddy,) = torch.autograd.grad(dx, dy, v)
        self.assertBitsEqual(ddy.numpy(), gdropout.dropout_fwd(v.numpy(), 0.5, s)[0])

    def test_gradcheck_float64(self):
        # float64 goes by the torch path: the library's mask, and gradcheck
        # holds its backward (and the backward's own backward)
        s = gdropout.Stream(9, 10, 0)
        x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(lambda t: gt.dropout(t, 0.4, s), (x,)))
        self.assertTrue(torch.autograd.gradgradcheck(lambda t: gt.dropout(t, 0.4, s), (x,)))
        # same mask as the C kernel, scale (float)(1/(1-p)) applied in double
        y = gt.dropout(x.detach(), 0.4, s).numpy()
        keep = np.unpackbits(R.mask(9, 10, 0, 24, 0.4), bitorder="little")[:24].reshape(4, 6)
        scale = float(np.float32(1.0 / (1.0 - float(np.float32(0.4)))))
        np.testing.assert_array_equal(y, np.where(keep == 1, x.detach().numpy() * scale, 0.0))

    def test_float16_bfloat16_same_mask(self):
        s = gdropout.Stream(12, 13, 14)
        x = t32((5, 40))
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.3, s)
        scale = float(np.float32(1.0 / (1.0 - float(np.float32(0.3)))))
        for dt in (torch.float16, torch.bfloat16):
            with self.subTest(dtype=dt):
                xh = x.to(dt)
                y = gt.dropout(xh, 0.3, s)
                self.assertEqual(y.dtype, dt)
                np.testing.assert_array_equal(y.float().numpy() == 0, want == 0)
                # multiplied in float32, rounded once to the type
                expect = torch.where(torch.from_numpy(want != 0), (xh.float() * scale).to(dt),
                                     torch.zeros((), dtype=dt))
                self.assertTrue(torch.equal(y, expect))

    def test_unsupported_raise(self):
        s = gdropout.Stream(1)
        # (bfloat16 and float16 take the C path too: tests/test_torch_half.py)
        for x in (torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.int16)):
            with self.assertRaisesRegex(TypeError, "CPU float32, bfloat16 or float16 tensors; "
                                                   f"got {x.dtype} .*backend='torch'"):
                gt.dropout(x, 0.1, s, backend="c")
        with self.assertRaisesRegex(TypeError, "floating"):
            gt.dropout(torch.zeros(4, dtype=torch.int32), 0.1, s)
        with self.assertRaisesRegex(ValueError, "backend must be one of"):
            gt.dropout(torch.zeros(4), 0.1, s, backend="cuda")
        with self.assertRaisesRegex(ValueError, r"p must be in \[0, 1\]"):
            gt.dropout(torch.zeros(4), 1.5, s)
        with self.assertRaisesRegex(TypeError, "gdropout.Stream"):
            gt.dropout(torch.zeros(4), 0.1, (1, 2, 0))

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda(self):
        s = gdropout.Stream(1, 2, 3)
        x = t32((64, 33))
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.2, s)
        xc = x.cuda().requires_grad_()
        y = gt.dropout(xc, 0.2, s)
        self.assertEqual(y.device.type, "cuda")
        self.assertBitsEqual(y.detach().cpu().numpy(), want)
        y.backward(torch.ones_like(y))
        self.assertBitsEqual(xc.grad.cpu().numpy(),
                             gdropout.dropout_bwd(np.ones((64, 33), np.float32), 0.2, stream=s))


class TorchPathTest(BitTestCase):
    """The torch-ops path (Philox4x32-10 in int64 torch ops, the path every
    non-CPU-float32 tensor takes) run on CPU tensors against the C library."""

    CASES = ((0, 0, 0, 10), ((1 << 64) - 1, (1 << 64) - 1, 3, 37),
             (12345678901234, (7 << 16) | 3, (1 << 40) + 1, 1001), (5, 6, 2, 1), (5, 6, 7, 0))

    def test_words_equal_random_u32(self):
        for seed, stream, offset, n in self.CASES:
            with self.subTest(seed=seed, stream=stream, offset=offset, n=n):
                w = gt.philox_words(seed, stream, offset, n)
                self.assertEqual(w.dtype, torch.int64)
                c = gdropout.random_u32(n, gdropout.Stream(seed, stream, offset))
                np.testing.assert_array_equal(w.numpy(), c.astype(np.int64))

    def test_words_across_chunks(self):
        # the generator works in chunks of Philox blocks: make them tiny
        with mock.patch.object(gt, "_CHUNK", 3):
            for offset, n in ((0, 12), (1, 30), (3, 13), (6, 1)):
                w = gt.philox_words(77, 88, offset, n)
                c = gdropout.random_u32(n, gdropout.Stream(77, 88, offset))
                np.testing.assert_array_equal(w.numpy(), c.astype(np.int64), (offset, n))

    def test_keep_mask_equals_mask_bernoulli(self):
        for p in (0.0, 1e-9, 0.1, 0.5, np.float32(0.7), 0.999999, 1.0):
            with self.subTest(p=p):
                s = gdropout.Stream(3, 4, 5)
                k = gt.keep_mask((7, 9), p, s)
                self.assertEqual(k.dtype, torch.bool)
                want = np.unpackbits(gdropout.mask_bernoulli(63, p, s), bitorder="little")[:63]
                np.testing.assert_array_equal(k.numpy().reshape(-1), want.astype(bool))

    def test_dropout_equals_the_c_kernels(self):
        x = t32((3, 1001))
        x[0, :5] = torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 3e38])
        for p in (0.0, 0.3, 0.5, 1.0):
            for shape_fn in (lambda t: t, lambda t: t.t()):  # contiguous, transposed
                with self.subTest(p=p):
                    s = gdropout.Stream(11, 77, 123)
                    xin = shape_fn(x).clone().requires_grad_()
                    y = gt.dropout(xin, p, s, backend="torch")
                    yc = gt.dropout(xin, p, s, backend="c")
                    self.assertBitsEqual(y.detach().numpy(), yc.detach().numpy())
                    dy = t32(tuple(xin.shape), 1)
                    (g,) = torch.autograd.grad(y, xin, dy)
                    (gc,) = torch.autograd.grad(yc, xin, dy)
                    self.assertBitsEqual(g.numpy(), gc.numpy())

    def test_inplace(self):
        s = gdropout.Stream(1, 2, 0)
        x = t32((8, 9))
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.25, s)
        h = x.clone().requires_grad_()
        z = h * 1.0
        ptr = z.data_ptr()
        y = gt.dropout(z, 0.25, s, inplace=True, backend="torch")
        self.assertEqual(y.data_ptr(), ptr)
        self.assertBitsEqual(y.detach().numpy(), want)
        y.sum().backward()
        self.assertBitsEqual(h.grad.numpy(), gdropout.dropout_bwd(np.ones((8, 9), np.float32),
                                                                  0.25, stream=s))

    def test_module_backend_torch(self):
        d = gt.Dropout(0.2, seed=2024, site=3, step=5, backend="torch")
        x = t32((4, 25))
        y = d(x)
        want, _ = R.dropout(x.numpy(), np.float32(0.2), 2024, (5 << 16) | 3, 0)
        self.assertBitsEqual(y.numpy(), want)

    def test_argument_checks(self):
        with self.assertRaisesRegex(ValueError, "offset"):
            gt.philox_words(0, 0, -1, 4)
        with self.assertRaisesRegex(ValueError, "2\\*\\*63"):
            gt.philox_words(0, 0, (1 << 63) - 2, 4)
        with self.assertRaisesRegex(ValueError, "seed"):
            gt.philox_words(1 << 64, 0, 0, 4)


class ModuleTest(BitTestCase):
    def test_stream_per_step_matches_the_reference(self):
        # call k of site 3 started at step 5: stream ((5 + k) << 16) | 3, offset 0
        d = gt.Dropout(0.2, seed=2024, site=3, step=5)
        x = t32((4, 25))
        for k in range(3):
            y = d(x)
            want, _ = R.dropout(x.numpy(), np.float32(0.2), 2024, ((5 + k) << 16) | 3, 0)
            self.assertBitsEqual(y.numpy(), want)
            self.assertEqual(d.step, 6 + k)
        d.eval()
        self.assertIs(d(x), x)
        self.assertEqual(d.step, 8)  # eval calls do not count
        d.train()
        d.p = 0.0
        self.assertIs(d(x), x)
        self.assertEqual(d.step, 9)  # p = 0 calls do
        self.assertEqual(d.stream(), gdropout.Stream(2024, (9 << 16) | 3, 0))

    def test_drop_in_for_nn_dropout(self):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2),
                              nn.Dropout(0.1, inplace=True))
        new = gt.replace_dropout(model, ["2", "4"], seed=77, step=10)
        self.assertIs(model[2], new[0])
        self.assertEqual((model[2].p, model[2].site, model[2].step), (0.3, 0, 10))
        self.assertEqual((model[4].p, model[4].site, model[4].inplace), (0.1, 1, True))
        x = t32((5, 6))
        out = model(x)
        out.sum().backward()
        h = model[1](model[0](x)).detach().numpy()
        h2, _ = R.dropout(h, np.float32(0.3), 77, (10 << 16) | 0, 0)
        y2 = model[3](torch.from_numpy(h2)).detach().numpy()
        want, _ = R.dropout(y2, np.float32(0.1), 77, (10 << 16) | 1, 0)
        self.assertBitsEqual(out.detach().numpy(), want)
        gt.set_step(model, 100)
        self.assertEqual([model[2].step, model[4].step], [100, 100])
        self.assertIn("site=1", repr(model[4]))

    def test_validation(self):
        with self.assertRaisesRegex(ValueError, "site must be an int in"):
            gt.Dropout(0.1, site=1 << 16)
        with self.assertRaisesRegex(ValueError, "p must be in"):
            gt.Dropout(-0.1)
        with self.assertRaisesRegex(ValueError, "seed must be an int"):
            gt.Dropout(0.1, seed=-1)
        with self.assertRaisesRegex(ValueError, "step must be an int"):
            gt.Dropout(0.1, step=1 << 48)
        with self.assertRaisesRegex(ValueError, "rank must be an int"):
            gt.Dropout(0.1, rank=-1)
        with self.assertRaisesRegex(ValueError, "backend must be one of"):
            gt.Dropout(0.1, backend="gpu")
        d = gt.Dropout(0.1, backend="c")
        with self.assertRaisesRegex(TypeError, "backend='torch'"):
            d(torch.zeros(3, dtype=torch.float64))
        self.assertEqual(d.step, 0)  # a failed call does not count
        with self.assertRaisesRegex(TypeError, "not nn.Dropout"):
            gt.replace_dropout(nn.Sequential(nn.AlphaDropout(0.1)), ["0"], seed=1)

    def test_integer_and_p_types(self):
        # numpy's integers are ints; bool and floats are not
        d = gt.Dropout(np.float32(0.25), seed=np.int64(3), site=np.uint16(2), step=np.int32(4))
        self.assertEqual((d.p, d.seed, d.site, d.step), (0.25, 3, 2, 4))
        self.assertIs(type(d.seed), int)
        self.assertEqual(d.stream(), gdropout.Stream(3, (4 << 16) | 2, 0))
        for kw in ({"seed": True}, {"site": True}, {"step": 2.0}, {"rank": False}):
            with self.subTest(kw=kw), self.assertRaisesRegex(ValueError, "must be an int in"):
                gt.Dropout(0.1, **kw)
        for p in ("0.5", True, None):
            with self.subTest(p=p), self.assertRaisesRegex(TypeError, "p must be a real number"):
                gt.Dropout(p)
            with self.subTest(p=p), self.assertRaisesRegex(TypeError, "p must be a real number"):
                gt.dropout(torch.ones(3), p, gdropout.Stream(1))
        with self.assertRaisesRegex(ValueError, r"^set_step: step must be an int"):
            gt.set_step(nn.Sequential(d), -1)
        with self.assertRaisesRegex(ValueError, r"^set_rank: rank must be an int"):
            gt.set_rank(nn.Sequential(d), 1.0)

    def test_keep_mask_checks_p(self):
        s = gdropout.Stream(5, 6, 7)
        for p in (-0.5, 7.0, float("nan")):
            with self.subTest(p=p), self.assertRaisesRegex(ValueError,
                                                           r"^keep_mask: p must be in \[0, 1\]"):
                gt.keep_mask((4,), p, s)
        with self.assertRaisesRegex(TypeError, "^keep_mask: stream must be a gdropout.Stream"):
            gt.keep_mask((4,), 0.5, (5, 6, 7))
        want = np.unpackbits(gdropout.mask_bernoulli(9, 0.3, s), bitorder="little")[:9]
        self.assertEqual(gt.keep_mask((3, 3), 0.3, s).reshape(-1).tolist(),
                         want.astype(bool).tolist())

    def test_replace_checks_before_changing_anything(self):
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1), nn.Dropout(0.2))
        first = gt.replace_dropout(model, ["1", "2"], seed=4)
        for kw in ({"seed": -5}, {"step": -1}, {"backend": "gpu"}, {"rank": 1 << 30},
                   {"seed": 1.5}):
            with self.subTest(kw=kw), self.assertRaises(ValueError):
                gt.replace_dropout(model, ["1", "2"], **dict({"seed": 4}, **kw))
            self.assertEqual([(m.seed, m.step, m.rank, m.backend) for m in first],
                             [(4, 0, 0, "auto")] * 2)


class StateTest(BitTestCase):
    def test_step_in_state_dict_and_resume(self):
        def model():
            return nn.Sequential(nn.Linear(5, 7), gt.Dropout(0.5, seed=9, site=0),
                                 nn.Linear(7, 3), gt.Dropout(0.4, seed=9, site=1))
        torch.manual_seed(0)
        a = model()
        x = t32((6, 5))
        a(x), a(x)  # two steps
        state = a.state_dict()
        self.assertEqual(int(state["1.step"]), 2)
        self.assertEqual(int(state["3.step"]), 2)
        want = a(x).detach()  # the third step's masks
        b = model()
        b.load_state_dict(state)
        self.assertEqual([b[1].step, b[3].step], [2, 2])
        self.assertBitsEqual(b(x).detach().numpy(), want.numpy())  # not step 0's masks again
        self.assertFalse(torch.equal(model()(x), want))  # a fresh model (step 0) differs
        # a checkpoint from before the replacement (no step) loads, step kept
        plain = nn.Sequential(nn.Linear(5, 7), nn.Dropout(0.5), nn.Linear(7, 3), nn.Dropout(0.4))
        b.load_state_dict(plain.state_dict())
        self.assertEqual(b[1].step, 3)
        bad = dict(state, **{"1.step": torch.tensor(-1)})
        with self.assertRaisesRegex(RuntimeError, "1.step.*step must be an int"):
            b.load_state_dict(bad)
        # a float or bool is not a step to truncate (7.9 once loaded as 7)
        for v in (torch.tensor(7.9), torch.tensor(True), torch.tensor([1, 2])):
            with self.subTest(v=v), self.assertRaisesRegex(RuntimeError,
                                                           "1.step.*step must be an int"):
                b.load_state_dict(dict(state, **{"1.step": v}))
        self.assertEqual(b[1].step, 3)  # every refusal left it

    def test_rank_offsets(self):
        x = t32((4, 25))
        for rank in (0, 1, 5):
            d = gt.Dropout(0.3, seed=1, site=2, step=7, rank=rank)
            want, _ = R.dropout(x.numpy(), np.float32(0.3), 1, (7 << 16) | 2, rank << 40)
            self.assertBitsEqual(d(x).numpy(), want)
        m = nn.Sequential(gt.Dropout(0.1), nn.Sequential(gt.Dropout(0.2)))
        gt.set_rank(m, 3)
        self.assertEqual([m[0].rank, m[1][0].rank], [3, 3])
        self.assertEqual(m[0].stream(), gdropout.Stream(0, 0, 3 << 40))
        with self.assertRaisesRegex(ValueError, "rank must be"):
            gt.set_rank(m, gt.MAX_RANK + 1)


class SharedModuleTest(unittest.TestCase):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)
            self.a = nn.Dropout(0.3)
            self.b = self.a  # one module, two names
            self.c = nn.Dropout(0.1)

        def forward(self, x):
            return self.c(self.b(self.lin(self.a(x))))

    def test_replace_under_every_name(self):
        net = self.Net()
        new = gt.replace_dropout(net, ["a", "c"], seed=5)
        self.assertIsInstance(net.a, gt.Dropout)
        self.assertIs(net.a, net.b)
        self.assertEqual([d.site for d in new], [0, 1])
        with self.assertRaisesRegex(ValueError, "b and a are one module"):
            gt.replace_dropout(self.Net(), ["a", "b", "c"], seed=5)

    def test_sites_and_plan_under_every_name(self):
        net = self.Net()
        sites = gt.map_sites(net, torch.zeros(2, 4))
        self.assertEqual(sites.names, ("a", "c"))  # one module, one site
        self.assertEqual(sites.aliases, {"a": ("b",)})
        self.assertEqual(sites.index("b"), 0)
        self.assertIn("a (also b)", repr(sites))
        self.assertEqual(gt.dropout_sites(net), ["a", "c"])
        gt.apply_plan(net, [0.25, 0.05], sites)
        self.assertEqual((net.a.p, net.b.p, net.c.p), (0.25, 0.25, 0.05))
        # by its other name, and both names with one rate
        gt.apply_plan(net, [0.15, 0.05], ["b", "c"])
        self.assertEqual((net.a.p, net.b.p), (0.15, 0.15))
        gt.apply_plan(net, [0.2, 0.2, 0.05], ["a", "b", "c"])
        self.assertEqual(net.b.p, 0.2)
        with self.assertRaisesRegex(ValueError, "a and b are one module .* p = 0.2 and p = 0.3"):
            gt.apply_plan(net, [0.2, 0.3, 0.05], ["a", "b", "c"])
        self.assertEqual((net.a.p, net.c.p), (0.2, 0.05))  # unchanged by the refused plan
        # leave_alone by either name
        self.assertEqual(gt.map_sites(net, torch.zeros(2, 4), leave_alone=["b"]).names, ("c",))
        # replaced, then trained: both names draw one mask per call (the
        # module is called twice per forward, so it counts two steps)
        gt.replace_dropout(net, sites, seed=3)
        net(torch.ones(2, 4))
        self.assertEqual(net.b.step, 2)


if __name__ == "__main__":
    unittest.main()
