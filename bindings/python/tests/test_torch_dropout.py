"""gdropout.torch.Dropout / dropout: bit for bit the C kernels through the
numpy binding (gdropout.dropout_fwd / dropout_bwd), the per-step stream
rule against the pure-numpy reference, gradcheck in float64 through a fixed
mask, and the errors."""

import unittest

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

    def test_gradcheck_float64_fixed_mask(self):
        # the C path is float32 only; in float64 the fallback applies the
        # library's fixed mask with torch ops, and gradcheck holds it
        s = gdropout.Stream(9, 10, 0)
        x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(lambda t: gt.dropout(t, 0.4, s, fallback=True),
                                                 (x,)))
        self.assertTrue(torch.autograd.gradgradcheck(
            lambda t: gt.dropout(t, 0.4, s, fallback=True), (x,)))
        # same mask as the C kernel, scale (float)(1/(1-p)) as a double
        y = gt.dropout(x.detach(), 0.4, s, fallback=True).numpy()
        keep = np.unpackbits(R.mask(9, 10, 0, 24, 0.4), bitorder="little")[:24].reshape(4, 6)
        scale = float(np.float32(1.0 / (1.0 - float(np.float32(0.4)))))
        np.testing.assert_array_equal(y, np.where(keep == 1, x.detach().numpy() * scale, 0.0))

    def test_fallback_float16_same_mask(self):
        s = gdropout.Stream(12, 13, 14)
        x = t32((5, 40))
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.3, s)
        y = gt.dropout(x.half(), 0.3, s, fallback=True)
        self.assertEqual(y.dtype, torch.float16)
        np.testing.assert_array_equal(y.float().numpy() == 0, want == 0)

    def test_unsupported_raise(self):
        s = gdropout.Stream(1)
        for x in (torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float16),
                  torch.zeros(4, dtype=torch.int32)):
            with self.assertRaisesRegex(TypeError, "CPU float32 .*fallback=True"):
                gt.dropout(x, 0.1, s)
        with self.assertRaisesRegex(ValueError, r"p must be in \[0, 1\]"):
            gt.dropout(torch.zeros(4), 1.5, s)
        with self.assertRaisesRegex(TypeError, "gdropout.Stream"):
            gt.dropout(torch.zeros(4), 0.1, (1, 2, 0))

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda(self):
        s = gdropout.Stream(1, 2, 3)
        x = t32((64,))
        with self.assertRaisesRegex(TypeError, "cuda"):
            gt.dropout(x.cuda(), 0.2, s)
        want, _ = gdropout.dropout_fwd(x.numpy(), 0.2, s)
        self.assertBitsEqual(gt.dropout(x.cuda(), 0.2, s, fallback=True).cpu().numpy(), want)


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
        d = gt.Dropout(0.1)
        with self.assertRaisesRegex(TypeError, "fallback=True"):
            d(torch.zeros(3, dtype=torch.float64))
        self.assertEqual(d.step, 0)  # a failed call does not count
        with self.assertRaisesRegex(TypeError, "not nn.Dropout"):
            gt.replace_dropout(nn.Sequential(nn.AlphaDropout(0.1)), ["0"], seed=1)


if __name__ == "__main__":
    unittest.main()
