"""The dropout kernels through the binding, against the numpy reference."""

import math
import unittest

import numpy as np

import gdropout
from gdropout import reference as R

from .helpers import BitTestCase

S = gdropout.Stream(2024, (3 << 16) | 5, 11)


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class DropoutTest(BitTestCase):
    def test_fwd_matches_reference(self):
        x = data(3, 333)
        for p in (0.0, 0.1, 0.5, 1.0):
            y, m = gdropout.dropout_fwd(x, p, S)
            ry, rm = R.dropout(x, p, S.seed, S.stream, S.offset)
            self.assertBitsEqual(y, ry)
            np.testing.assert_array_equal(m, rm)
            self.assertEqual(m.size, math.ceil(x.size / 8))

    def test_drop_fraction_binomial(self):
        n, p = 1 << 16, 0.3
        kept = np.unpackbits(gdropout.mask_bernoulli(n, p, S), bitorder="little")[:n]
        sd = math.sqrt(n * p * (1 - p))  # 117
        self.assertLess(abs((n - kept.sum()) - n * p), 6 * sd)

    def test_split_calls_equal_one_call(self):
        x = data(1000)
        y, _ = gdropout.dropout_fwd(x, 0.4, S)
        parts = [gdropout.dropout_fwd(x[a:b], 0.4, S.at(S.offset + a))[0]
                 for a, b in ((0, 3), (3, 517), (517, 1000))]
        self.assertBitsEqual(np.concatenate(parts), y)

    def test_in_place(self):
        x = data(257)
        want, _ = gdropout.dropout_fwd(x, 0.2, S)
        y, _ = gdropout.dropout_fwd(x, 0.2, S, out=x)
        self.assertIs(y, x)
        self.assertBitsEqual(x, want)

    def test_bwd_mask_and_regenerated(self):
        x, dy = data(777), data(777, seed=1)
        _, m = gdropout.dropout_fwd(x, 0.35, S)
        want, _ = R.dropout(dy, 0.35, S.seed, S.stream, S.offset)
        self.assertBitsEqual(gdropout.dropout_bwd(dy, 0.35, mask=m), want)
        self.assertBitsEqual(gdropout.dropout_bwd(dy, 0.35, stream=S), want)

    def test_cols(self):
        x, dy = data(17, 6), data(17, 6, seed=2)
        pc = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 0.25], dtype=np.float32)
        y, m = gdropout.dropout_fwd_cols(x, pc, S)
        ry, rm = R.dropout_cols(x, pc, S.seed, S.stream, S.offset)
        self.assertBitsEqual(y, ry)
        np.testing.assert_array_equal(m, rm)
        want, _ = R.dropout_cols(dy, pc, S.seed, S.stream, S.offset)
        self.assertBitsEqual(gdropout.dropout_bwd_cols(dy, pc, mask=m), want)
        self.assertBitsEqual(gdropout.dropout_bwd_cols(dy, pc, stream=S), want)
        # leading dimensions fold into rows
        y3, _ = gdropout.dropout_fwd_cols(x.reshape(1, 17, 6), pc, S)
        self.assertBitsEqual(y3.reshape(17, 6), y)

    def test_add_fwd(self):
        x, res, bias = data(9, 40), data(9, 40, seed=3), data(40, seed=4)
        for b in (None, bias):
            for r in (None, res):
                y, m = gdropout.dropout_add_fwd(x, 0.3, S, bias=b, residual=r)
                ry, rm = R.dropout_add(x, 0.3, S.seed, S.stream, S.offset, bias=b, residual=r)
                self.assertBitsEqual(y, ry)
                np.testing.assert_array_equal(m, rm)

    def test_add_bwd(self):
        dy = data(50, 24, seed=5)
        _, m = gdropout.dropout_add_fwd(data(50, 24), 0.2, S)
        dx, db = gdropout.dropout_add_bwd(dy, 0.2, mask=m)
        want, _ = R.dropout(dy, 0.2, S.seed, S.stream, S.offset)
        self.assertBitsEqual(dx, want)
        self.assertBitsEqual(db, want.astype(np.float64).sum(axis=0).astype(np.float32))
        dx2, none = gdropout.dropout_add_bwd(dy, 0.2, stream=S, bias_grad=False)
        self.assertIsNone(none)
        self.assertBitsEqual(dx2, want)

    def test_sum_cols(self):
        x = data(1000, 7)
        self.assertBitsEqual(gdropout.sum_cols(x),
                             x.astype(np.float64).sum(axis=0).astype(np.float32))

    def test_gaussian(self):
        x, dy = data(1234), data(1234, seed=6)
        sigma = gdropout.gaussian_sigma(0.1)
        self.assertEqual(np.float32(sigma), np.float32(math.sqrt(0.1 / 0.9)))
        self.assertEqual(sigma, float(np.float32(math.sqrt(float(np.float32(0.1)) /
                                                           (1 - float(np.float32(0.1)))))))
        y = gdropout.gaussian_dropout_fwd(x, sigma, S)
        self.assertBitsEqual(y, R.gaussian_dropout(x, sigma, S.seed, S.stream, S.offset))
        self.assertBitsEqual(gdropout.gaussian_dropout_bwd(dy, sigma, S),
                             R.gaussian_dropout(dy, sigma, S.seed, S.stream, S.offset))

    def test_empty(self):
        y, m = gdropout.dropout_fwd(np.zeros(0, np.float32), 0.5, S)
        self.assertEqual((y.size, m.size), (0, 0))


class ConversionAndErrorsTest(BitTestCase):
    def test_inputs_are_converted(self):
        x64 = data(5, 8).astype(np.float64)
        want, _ = gdropout.dropout_fwd(x64.astype(np.float32), 0.5, S)
        self.assertBitsEqual(gdropout.dropout_fwd(x64, 0.5, S)[0], want)
        strided = np.asfortranarray(x64.astype(np.float32))
        self.assertBitsEqual(gdropout.dropout_fwd(strided, 0.5, S)[0], want)
        self.assertBitsEqual(gdropout.dropout_fwd(x64.tolist(), 0.5, S)[0], want)
        with self.assertRaises(TypeError):
            gdropout.dropout_fwd(np.ones(4, dtype=complex), 0.5, S)

    def test_out_is_checked_not_converted(self):
        x = data(16)
        with self.assertRaisesRegex(TypeError, "float32"):
            gdropout.dropout_fwd(x, 0.5, S, out=np.empty(16))
        with self.assertRaisesRegex(ValueError, "C-contiguous"):
            gdropout.dropout_fwd(x, 0.5, S, out=np.empty(32, np.float32)[::2])
        with self.assertRaisesRegex(ValueError, "shape"):
            gdropout.dropout_fwd(x, 0.5, S, out=np.empty(15, np.float32))
        ro = np.empty(16, np.float32)
        ro.flags.writeable = False
        with self.assertRaisesRegex(ValueError, "read-only"):
            gdropout.dropout_fwd(x, 0.5, S, out=ro)

    def test_mask_checked(self):
        with self.assertRaisesRegex(ValueError, "mask bytes"):
            gdropout.dropout_bwd(data(17), 0.5, mask=np.zeros(2, np.uint8))
        with self.assertRaisesRegex(TypeError, "uint8"):
            gdropout.dropout_bwd(data(16), 0.5, mask=np.zeros(2, np.int32))

    def test_library_errors_raise(self):
        x = data(8)
        out = np.full(8, 7.0, np.float32)
        for p in (1.5, -0.1, float("nan")):
            with self.assertRaises(gdropout.GDropoutError) as cm:
                gdropout.dropout_fwd(x, p, S, out=out)
            e = cm.exception
            self.assertEqual((e.code, e.name), (gdropout.EDOMAIN, "GD_EDOMAIN"))
            self.assertEqual(e.message, gdropout.strerror(gdropout.EDOMAIN))
            self.assertEqual(e.function, "dropout_fwd")
            self.assertTrue(np.all(out == 7.0))  # untouched
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.random_u32(10, gdropout.Stream(1, 2, (1 << 64) - 5))
        self.assertEqual(cm.exception.code, gdropout.EOVERFLOW)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.dropout_bwd(x, 0.5)  # neither mask nor stream
        self.assertEqual(cm.exception.code, gdropout.EINVAL)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.gaussian_sigma(1.0)
        self.assertEqual(cm.exception.code, gdropout.EDOMAIN)

    def test_stream_validation(self):
        with self.assertRaises(ValueError):
            gdropout.Stream(-1)
        with self.assertRaises(ValueError):
            gdropout.Stream(1, 1 << 64)
        with self.assertRaises(AttributeError):
            S.offset = 3
        self.assertEqual(S.at(5), gdropout.Stream(S.seed, S.stream, 5))
        with self.assertRaises(TypeError):
            gdropout.dropout_fwd(data(4), 0.5, (1, 2, 3))


def unaligned(values, dtype=np.float32):
    """A writeable array of values whose data starts one byte past an
    aligned address (np.frombuffer at offset 1): what C may not read or
    write as floats.  The test suite also runs against a UBSan build of the
    library (.ci/steps/60-python.sh), which reports such an access."""
    v = np.asarray(values, dtype=dtype)
    buf = bytearray(v.nbytes + 1)
    a = np.frombuffer(buf, dtype=dtype, count=v.size, offset=1).reshape(v.shape)
    a[...] = v
    assert not a.flags.aligned and a.flags.writeable
    return a


class AlignmentTest(BitTestCase):
    """Misaligned numpy arrays: inputs are copied to aligned memory, a
    misaligned out= is refused (issue #26, item 12)."""

    def test_inputs_are_copied(self):
        x = np.random.default_rng(1).standard_normal(1003).astype(np.float32)
        s = gdropout.Stream(4, 5, 6)
        want, mask = gdropout.dropout_fwd(x, 0.3, s)
        y, m = gdropout.dropout_fwd(unaligned(x), 0.3, s)
        self.assertBitsEqual(y, want)
        self.assertBitsEqual(m, mask)
        self.assertBitsEqual(gdropout.dropout_bwd(unaligned(x), 0.3, stream=s),
                             gdropout.dropout_bwd(x, 0.3, stream=s))
        xc = x.reshape(17, 59)
        pc = np.linspace(0, 0.9, 59)
        self.assertBitsEqual(gdropout.dropout_fwd_cols(unaligned(xc), unaligned(pc), s)[0],
                             gdropout.dropout_fwd_cols(xc, pc, s)[0])
        self.assertBitsEqual(gdropout.sum_cols(unaligned(xc)), gdropout.sum_cols(xc))
        self.assertBitsEqual(
            gdropout.dropout_add_fwd(unaligned(xc), 0.2, s, bias=unaligned(xc[0]),
                                     residual=unaligned(xc))[0],
            gdropout.dropout_add_fwd(xc, 0.2, s, bias=xc[0], residual=xc)[0])
        self.assertBitsEqual(gdropout.gaussian_dropout_fwd(unaligned(x), 0.5, s),
                             gdropout.gaussian_dropout_fwd(x, 0.5, s))
        with gdropout.Fisher() as f:
            t = f.add_tensor("w", 1003)
            f.accumulate(t, unaligned(x))
            f.accumulate_batch(t, unaligned(np.stack([x, x])))
            f.set_sums(t, unaligned(np.abs(x), np.float64), 3.0)
            self.assertBitsEqual(f.sums(t)[0], np.abs(x).astype(np.float64))

    def test_misaligned_out_is_refused(self):
        x = np.ones(100, np.float32)
        s = gdropout.Stream(1)
        out = unaligned(np.zeros(100))
        for call in (lambda: gdropout.dropout_fwd(x, 0.1, s, out=out),
                     lambda: gdropout.dropout_bwd(x, 0.1, stream=s, out=out),
                     lambda: gdropout.gaussian_dropout_fwd(x, 0.1, s, out=out),
                     lambda: gdropout.dropout_fwd(out, 0.1, s, out=out)):
            with self.assertRaisesRegex(ValueError, "out is not aligned"):
                call()
        self.assertFalse(out.any())  # untouched


class VersionTest(unittest.TestCase):
    def test_version(self):
        major, minor, patch = gdropout.version()
        self.assertEqual(major, 1)
        self.assertEqual(gdropout.version_string(), f"{major}.{minor}.{patch}")
        self.assertEqual(gdropout.NONE, (1 << 64) - 1)
        self.assertEqual(gdropout.lib.gd_none(), gdropout.NONE)
        self.assertIn(gdropout.dispatch_name(), ("scalar", "avx2", "avx512"))

    def test_error_table(self):
        for name in ("EINVAL", "EDOMAIN", "EOVERFLOW", "ESHAPE", "ENOTFOUND", "EEXIST",
                     "ENOMEM", "EIO", "EFORMAT", "ESTATE"):
            self.assertEqual(gdropout.error_name(getattr(gdropout, name)), "GD_" + name)
        self.assertEqual(gdropout.error_name(-999), "GD_EUNKNOWN")


if __name__ == "__main__":
    unittest.main()
