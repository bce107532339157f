"""gdropout.torch on bfloat16 and float16 CPU tensors: through the C half
kernels (gd_dropout_fwd_ex / _bwd_ex, counted here), float32's masks, and
forward and backward equal to the float32 path's output rounded to nearest
even (rounded by numpy, tests/test_mixed.py's rounding, not by torch);
gradcheck on a grid where the half arithmetic is exact; the torch path
where the library predates the half kernels."""

import contextlib
import unittest
from unittest import mock

import numpy as np

try:
    import torch
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout
import gdropout.torch as gt

from .test_mixed import BF16, F16, hbits

HALVES = ((torch.bfloat16, BF16, gdropout.mixed.GD_BF16),
          (torch.float16, F16, gdropout.mixed.GD_F16))
HAS_EX = gdropout.lib.has("gd_dropout_fwd_ex")


def half_bits(t):
    """A bfloat16 / float16 tensor's bits as a numpy uint16 array."""
    return t.detach().contiguous().view(torch.int16).numpy().view(np.uint16)


def half_randn(shape, dtype, seed=0):
    """Random values of the half type, none of them 0 (so that the zeros of
    an output are its dropped elements)."""
    g = torch.Generator().manual_seed(seed)
    t = (torch.randn(shape, generator=g) * 4).to(dtype)
    return torch.where(t == 0, torch.ones((), dtype=dtype), t)


@contextlib.contextmanager
def c_calls():
    """Records the C kernels gdropout.torch calls, by name with their
    arguments, and refuses the torch path (keep_mask) while active."""
    calls = []
    lib = gdropout.lib

    def spy(name):
        real = getattr(lib, name)

        def call(*args):
            calls.append((name, args))
            return real(*args)
        return call

    names = ("gd_dropout_fwd", "gd_dropout_bwd", "gd_dropout_fwd_ex", "gd_dropout_bwd_ex")
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(mock.patch.object(lib, name, spy(name)))
        stack.enter_context(mock.patch.object(gt, "keep_mask", side_effect=AssertionError(
            "the torch path was taken")))
        yield calls


@unittest.skipUnless(HAS_EX, "the library predates 1.2")
class HalfThroughCTest(unittest.TestCase):
    def assertRounded(self, kind, t, want32):
        """t (half) is want32 (a float32 tensor) rounded to nearest even."""
        np.testing.assert_array_equal(half_bits(t), hbits(kind.round(want32.detach().numpy())))

    def test_functional_forward_backward(self):
        for dtype, kind, code in HALVES:
            with self.subTest(dtype=dtype):
                for shape, p in (((3, 1001), 0.3), ((7,), 0.5), ((33,), 1.0), ((2, 3, 5), 0.1)):
                    s = gdropout.Stream(11, 77, 123)
                    xh = half_randn(shape, dtype).requires_grad_()
                    dyh = half_randn(shape, dtype, seed=1)
                    x32 = xh.detach().float().requires_grad_()  # exact widening
                    with c_calls() as calls:
                        y = gt.dropout(xh, p, s)
                        (g,) = torch.autograd.grad(y, xh, dyh)
                    self.assertEqual((y.dtype, g.dtype), (dtype, dtype))
                    self.assertEqual([(n, a[:2]) for n, a in calls],
                                     [("gd_dropout_fwd_ex", (code, 0)),
                                      ("gd_dropout_bwd_ex", (code, 0))])
                    y32 = gt.dropout(x32, p, s)
                    (g32,) = torch.autograd.grad(y32, x32, dyh.float())
                    self.assertRounded(kind, y, y32)
                    self.assertRounded(kind, g, g32)
                    # float32's mask: the zeros are its dropped elements
                    n = int(np.prod(shape))
                    keep = np.unpackbits(gdropout.mask_bernoulli(n, p, s), bitorder="little")[:n]
                    np.testing.assert_array_equal((y != 0).numpy().reshape(-1), keep == 1)

    def test_module_steps_like_the_float32_module(self):
        for dtype, kind, _ in HALVES:
            with self.subTest(dtype=dtype):
                dh = gt.Dropout(0.2, seed=2024, site=3, step=5)
                d32 = gt.Dropout(0.2, seed=2024, site=3, step=5)
                for k in range(3):
                    xh = half_randn((4, 25), dtype, seed=k).requires_grad_()
                    x32 = xh.detach().float().requires_grad_()
                    with c_calls() as calls:
                        yh = dh(xh)
                        yh.backward(torch.ones_like(yh))
                    self.assertEqual([n for n, _ in calls],
                                     ["gd_dropout_fwd_ex", "gd_dropout_bwd_ex"])
                    y32 = d32(x32)
                    y32.backward(torch.ones_like(y32))
                    self.assertRounded(kind, yh, y32)
                    self.assertRounded(kind, xh.grad, x32.grad)
                    self.assertEqual(dh.step, d32.step)
                self.assertEqual(dh.step, 8)

    def test_in_place_and_strided(self):
        for dtype, kind, _ in HALVES:
            with self.subTest(dtype=dtype):
                s = gdropout.Stream(1, 2, 0)
                x = half_randn((8, 9), dtype)
                want = gt.dropout(x.float(), 0.25, s)
                h = x.clone().requires_grad_()
                z = h * 1.0  # a non-leaf to drop in place
                ptr = z.data_ptr()
                with c_calls() as calls:
                    y = gt.dropout(z, 0.25, s, inplace=True)
                self.assertEqual(len(calls), 1)
                self.assertEqual(y.data_ptr(), ptr)
                self.assertRounded(kind, y, want)
                y.sum().backward()
                self.assertRounded(kind, h.grad, gt.dropout(torch.ones(8, 9), 0.25, s))
                # a transposed view is dropped in row-major order
                xt = x.t()
                with c_calls():
                    yt = gt.dropout(xt, 0.4, s)
                self.assertRounded(kind, yt, gt.dropout(xt.float().contiguous(), 0.4, s))

    def test_c_path_equals_torch_path(self):
        specials = [float("inf"), float("-inf"), float("nan"), -0.0, 65504.0, 2.0 ** -23]
        for dtype, _, _ in HALVES:
            with self.subTest(dtype=dtype):
                x = half_randn((3, 101), dtype)
                x[0, :6] = torch.tensor(specials).to(dtype)
                for p in (0.0, 0.3, 0.5, 1.0):
                    s = gdropout.Stream(11, 77, 123)
                    xin = x.clone().requires_grad_()
                    dy = half_randn((3, 101), dtype, seed=2)
                    yt = gt.dropout(xin, p, s, backend="torch")
                    (gt_,) = torch.autograd.grad(yt, xin, dy)
                    with c_calls() as calls:
                        yc = gt.dropout(xin, p, s, backend="c")
                        (gc,) = torch.autograd.grad(yc, xin, dy)
                    self.assertEqual(len(calls), 2)
                    np.testing.assert_array_equal(half_bits(yc), half_bits(yt))
                    np.testing.assert_array_equal(half_bits(gc), half_bits(gt_))

    def test_gradcheck(self):
        # p = 0.5 scales by 2, and x on a grid of 2^-4 in [-4, 4] is exact in
        # both types, as are x +- eps and their doubles: the half function is
        # exactly linear there, so gradcheck's finite differences are exact
        # and its Jacobian must equal the C backward's to the bit
        grid = torch.arange(-64, 64, dtype=torch.float64) / 16
        for dtype, _, _ in HALVES:
            with self.subTest(dtype=dtype):
                s = gdropout.Stream(9, 10, 0)
                x = grid[torch.randperm(128, generator=torch.Generator().manual_seed(0))[:24]]
                x = x.reshape(4, 6).requires_grad_()
                v = (grid[:24].flip(0).reshape(4, 6)).requires_grad_()

                def f(t):
                    return gt.dropout(t.to(dtype), 0.5, s).to(torch.float64)
                with c_calls() as calls:
                    self.assertTrue(torch.autograd.gradcheck(f, (x,), eps=2.0 ** -4, atol=0,
                                                             rtol=0))
                    self.assertTrue(torch.autograd.gradgradcheck(f, (x,), (v,), eps=2.0 ** -4,
                                                                 atol=0, rtol=0))
                self.assertEqual({n for n, _ in calls}, {"gd_dropout_fwd_ex", "gd_dropout_bwd_ex"})


class OlderLibraryTest(unittest.TestCase):
    """A library without the half kernels: half tensors take the torch path
    (the same masks), and backend="c" says which dtypes it takes."""

    def test_torch_path_without_ex(self):
        real = gdropout.lib.has
        with mock.patch.object(gdropout.lib, "has", lambda name: name != "gd_dropout_fwd_ex" and
                               real(name)):
            s = gdropout.Stream(3, 4, 5)
            x = half_randn((5, 40), torch.float16)
            want = gt.dropout(x.float(), 0.3, s).to(torch.float16)
            with mock.patch.object(gdropout.lib, "gd_dropout_fwd_ex",
                                   side_effect=AssertionError("C half kernel called")):
                self.assertTrue(torch.equal(gt.dropout(x, 0.3, s), want))
                with self.assertRaisesRegex(TypeError, r"take strided CPU float32 tensors; "
                                                       r"got torch.float16"):
                    gt.dropout(x, 0.3, s, backend="c")


if __name__ == "__main__":
    unittest.main()
