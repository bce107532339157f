"""The numpy reference of 1.2's 16-bit rule and half-precision rounding
(gdropout/reference16.py) against docs/SPEC.md's known answers and against
the C library's _ex kernels, bit for bit (called through the ctypes
prototypes directly: the Python wrappers of the half kernels are not part
of this file)."""

import ctypes
import unittest

import numpy as np

import gdropout
from gdropout import _native
from gdropout import reference as R
from gdropout import reference16 as Q

from .helpers import indices

GD_F32, GD_BF16, GD_F16 = 0, 1, 2
GD_MASK_32, GD_MASK_16 = 0, 1
SEED, STREAM = 1234, (7 << 16) | 1
lib = gdropout.lib


def _ptr(a):
    return None if a is None else a.ctypes.data


def _stream(offset=0, seed=SEED, stream=STREAM):
    return ctypes.byref(_native.CStream(seed, stream, offset))


@unittest.skipUnless(lib.has("gd_dropout_fwd_ex"), "the library predates 1.2")
class Rule16Test(unittest.TestCase):
    def test_known_answers(self):
        d = Q.draws16(SEED, STREAM, indices(0, 8))
        self.assertEqual(d.tolist(), [0x495D, 0x7FB9, 0xF613, 0x3CCB, 0x47AC, 0x3353, 0xB217,
                                      0x81ED])
        self.assertEqual(Q.mask16(SEED, STREAM, 0, 20, 0.5).tolist(), [0xC4, 0xF3, 0x03])
        self.assertEqual(Q.k16(0.1), 6554)
        self.assertEqual(Q.k16(1.0), 65536)
        self.assertEqual(Q.k16(2.0 ** -18), 0)

    def test_library_masks(self):
        for n, offset, p in ((20, 0, 0.5), (1001, 3, 0.1), (77, 2 ** 64 - 77, 0.9),
                             (64, 5, 0.0), (64, 5, 1.0), (513, 2 ** 33 - 1, 1e-5)):
            with self.subTest(n=n, offset=offset, p=p):
                m = np.zeros((n + 7) // 8, dtype=np.uint8)
                self.assertEqual(lib.gd_mask_bernoulli_ex(GD_MASK_16, _ptr(m), n, p,
                                                          _stream(offset)), 0)
                np.testing.assert_array_equal(m, Q.mask16(SEED, STREAM, offset, n, p))

    def test_library_float_forward(self):
        x = np.random.default_rng(1).standard_normal(999).astype(np.float32)
        for p in (0.0, 0.25, 0.5, 1.0):
            y = np.empty_like(x)
            m = np.zeros(125, dtype=np.uint8)
            self.assertEqual(lib.gd_dropout_fwd_ex(GD_F32, GD_MASK_16, _ptr(y), _ptr(x), x.size,
                                                   p, _stream(11), _ptr(m)), 0)
            yr, mr = Q.dropout16(x, p, SEED, STREAM, 11)
            np.testing.assert_array_equal(y.view(np.uint32), yr.view(np.uint32))
            np.testing.assert_array_equal(m, mr)


@unittest.skipUnless(lib.has("gd_dropout_fwd_ex"), "the library predates 1.2")
class HalfTest(unittest.TestCase):
    def test_rounding_known_values(self):
        f = np.array([65504, 65520, 1 + 2 ** -11, 2 ** -25, 2 ** -24, np.inf], dtype=np.float32)
        self.assertEqual(Q.f16_round(f).tolist(), [0x7BFF, 0x7C00, 0x3C00, 0, 1, 0x7C00])
        b = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8], dtype=np.float32)
        self.assertEqual(Q.bf16_round(b).tolist(), [0x3F80, 0x3F82])
        sub = np.array([0x007FFFFF, 0x00008000, 0x7F800001], dtype=np.uint32).view(np.float32)
        self.assertEqual(Q.bf16_round(sub).tolist(), [0x0080, 0x0000, 0x7FC0])

    def test_library_equals_float_rounded(self):
        rng = np.random.default_rng(7)
        for dtype, widen, rnd in ((GD_BF16, Q.bf16_widen, Q.bf16_round),
                                  (GD_F16, Q.f16_widen, Q.f16_round)):
            for rule in (GD_MASK_32, GD_MASK_16):
                for n, offset, p in ((1, 0, 0.5), (1001, 3, 0.3), (4097, 2 ** 64 - 4097, 0.9)):
                    with self.subTest(dtype=dtype, rule=rule, n=n, p=p):
                        x = rng.integers(0, 65536, n, dtype=np.uint64).astype(np.uint16)
                        y = np.empty_like(x)
                        m = np.zeros((n + 7) // 8, dtype=np.uint8)
                        self.assertEqual(lib.gd_dropout_fwd_ex(dtype, rule, _ptr(y), _ptr(x), n, p,
                                                               _stream(offset), _ptr(m)), 0)
                        ref = R.dropout if rule == GD_MASK_32 else Q.dropout16
                        yf, mf = ref(widen(x), p, SEED, STREAM, offset)
                        np.testing.assert_array_equal(y, rnd(yf))
                        np.testing.assert_array_equal(m, mf)

    def test_library_known_answers(self):
        x = np.array([0x3C00, 0xC100, 0x4200, 0x2E66, 0x4700, 0xB800, 0x7BFF, 0x0002],
                     dtype=np.uint16)
        y = np.empty_like(x)
        self.assertEqual(lib.gd_dropout_fwd_ex(GD_F16, GD_MASK_16, _ptr(y), _ptr(x), 8, 0.5,
                                               _stream(), None), 0)
        self.assertEqual(y.tolist(), [0, 0, 0x4600, 0, 0, 0, 0x7C00, 0x0004])


if __name__ == "__main__":
    unittest.main()
