"""gdropout.mixed (mixed.h's _ex kernels) through the binding.

Each bf16 and fp16 kernel against the float32 kernel of the same rule on
the widened input, its output rounded to nearest even here, independently
of the library and of reference16 (fp16: numpy's float16 cast; bf16: the
nearer of the two bf16 values around the float32, by distance in float64),
with the float32 kernel's mask; the 16-bit rule against reference16; and
the error contract (the exception, its function and argument, outputs
untouched)."""

import os
import re
import unittest

import numpy as np

import gdropout
from gdropout import reference16 as Q

from .helpers import BitTestCase, indices

S = gdropout.Stream(2024, (3 << 16) | 5, 11)
README = os.path.join(os.path.dirname(__file__), "..", "README.md")
RULES = (gdropout.MASK_32, gdropout.MASK_16)
HAS_EX = gdropout.lib.has("gd_dropout_fwd_ex")


def bf16_nearest_even(f):
    """float32 -> bfloat16 bits: of the two bf16 magnitudes around |f| (its
    top 16 bits, and the next one up) the nearer, ties to the even one; the
    one past the largest finite value counts as 2^128 (IEEE's overflow rule,
    so it rounds to Inf); a NaN keeps its top bits, made quiet."""
    u = np.ascontiguousarray(f, dtype=np.float32).view(np.uint32)
    sign = ((u >> np.uint32(16)) & np.uint32(0x8000)).astype(np.uint16)
    a = u & np.uint32(0x7FFFFFFF)
    lo = (a >> np.uint32(16)).astype(np.uint16)
    hi = lo + np.uint16(1)

    def value(h):
        v = (h.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
        return np.where(h == 0x7F80, 2.0 ** 128, v)

    x = a.view(np.float32).astype(np.float64)
    exact = (a & np.uint32(0xFFFF)) == 0  # Inf, and values already in bf16
    with np.errstate(invalid="ignore"):
        d_lo, d_hi = x - value(lo), value(hi) - x
    up = (d_hi < d_lo) | ((d_hi == d_lo) & (lo % 2 == 1))
    r = np.where(exact, lo, np.where(up, hi, lo))
    r = np.where(a > 0x7F800000, lo | np.uint16(0x40), r)
    return (r | sign).astype(np.uint16)


class Kind:
    """A half type as the binding takes it: its numpy dtype, and the exact
    widening to float32 and the rounding back."""

    def __init__(self, name, dtype, widen, round_):
        self.name, self.dtype, self.widen, self.round = name, dtype, widen, round_

    def __repr__(self):
        return self.name

    def sample(self, shape, seed=0):
        """Random values of the type, with Inf, NaN, -0, the largest finite
        value (kept, it overflows to Inf) and a subnormal first."""
        f = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 4
        h = self.round(f).reshape(-1)
        specials = self.round(np.array([np.inf, -np.inf, np.nan, -0.0, self.largest,
                                        self.subnormal, -self.subnormal], np.float32))
        k = min(h.size, specials.size)
        h[:k] = specials[:k]
        return h.reshape(shape)


def _f16_round(f):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(f, np.float32).astype(np.float16)


BF16 = Kind("bf16", np.uint16,
            lambda h: (np.asarray(h, np.uint16).astype(np.uint32) << np.uint32(16)).view(
                np.float32),
            bf16_nearest_even)
BF16.largest, BF16.subnormal = np.float32(3.3895314e38), np.float32(2.0 ** -133)
F16 = Kind("fp16", np.float16, lambda h: np.asarray(h, np.float16).astype(np.float32),
           _f16_round)
F16.largest, F16.subnormal = np.float32(65504), np.float32(2.0 ** -23)
KINDS = (BF16, F16)
CASES = [(kind, rule) for kind in KINDS for rule in RULES]


def hbits(a):
    """A half array (float16 or uint16) as its bits."""
    return np.ascontiguousarray(a).view(np.uint16)


class HelperTest(unittest.TestCase):
    """The test's own bf16 rounding, on values whose answer is known."""

    def test_bf16_nearest_even(self):
        f = np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x7F7F7FFF, 0x7F7F8000, 0x00008000,
                      0x00018000, 0x80018000, 0x7F800000, 0xFF800000, 0x7FC00001],
                     np.uint32).view(np.float32)
        self.assertEqual(bf16_nearest_even(f).tolist(),
                         [0x3F80, 0x3F82, 0x3F81, 0x7F7F, 0x7F80, 0x0000, 0x0002, 0x8002,
                          0x7F80, 0xFF80, 0x7FC0])

    def test_bf16_agrees_with_reference16(self):
        u = np.random.default_rng(3).integers(0, 1 << 32, 100000, dtype=np.uint64)
        u = u.astype(np.uint32)
        u[::7] = (u[::7] & np.uint32(0xFFFF0000)) | np.uint32(0x8000)  # ties
        f = u.view(np.float32)
        f = f[~np.isnan(f)]
        np.testing.assert_array_equal(bf16_nearest_even(f), Q.bf16_round(f))


@unittest.skipUnless(HAS_EX, "the library predates 1.2")
class HalfEqualsFloatRounded(BitTestCase):
    """y_half = round(float32 kernel(widen(x))), with the float32 kernel's mask."""

    def float_fwd(self, x32, p, s, rule):
        # the float32 kernels of gdropout.kernels are the 32-bit rule's
        if rule == gdropout.MASK_32:
            return gdropout.dropout_fwd(x32, p, s)
        return gdropout.dropout_fwd_ex(x32, p, s, rule=rule)

    def assertRounded(self, kind, y, y32):
        self.assertEqual(y.dtype, kind.dtype)
        np.testing.assert_array_equal(hbits(y), hbits(kind.round(y32)))

    def test_forward(self):
        for kind, rule in CASES:
            with self.subTest(kind=kind, rule=rule.name):
                for n, offset, p in ((1, 0, 0.5), (7, 3, 0.3), (1001, 11, 0.1),
                                     (4097, 2 ** 64 - 4097, 0.9), (64, 5, 0.0), (33, 5, 1.0)):
                    x, s = kind.sample(n, seed=n), gdropout.Stream(S.seed, S.stream, offset)
                    y, m = gdropout.dropout_fwd_ex(x, p, s, rule=rule)
                    y32, m32 = self.float_fwd(kind.widen(x), p, s, rule)
                    self.assertRounded(kind, y, y32)
                    np.testing.assert_array_equal(m, m32)

    def test_backward_from_mask_and_from_stream(self):
        for kind, rule in CASES:
            with self.subTest(kind=kind, rule=rule.name):
                x, dy = kind.sample((3, 111)), kind.sample((3, 111), seed=1)
                _, m = gdropout.dropout_fwd_ex(x, 0.35, S, rule=rule)
                want, _ = self.float_fwd(kind.widen(dy), 0.35, S, rule)
                self.assertRounded(kind, gdropout.dropout_bwd_ex(dy, 0.35, mask=m, rule=rule), want)
                self.assertRounded(kind, gdropout.dropout_bwd_ex(dy, 0.35, S, rule=rule), want)

    def test_cols(self):
        pc = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 0.25, 0.6], dtype=np.float32)
        for kind, rule in CASES:
            with self.subTest(kind=kind, rule=rule.name):
                x, dy = kind.sample((13, 7)), kind.sample((13, 7), seed=2)
                y, m = gdropout.dropout_fwd_cols_ex(x, pc, S, rule=rule)
                y32, m32 = gdropout.dropout_fwd_cols_ex(kind.widen(x), pc, S, rule=rule)
                self.assertRounded(kind, y, y32)
                np.testing.assert_array_equal(m, m32)
                if rule == gdropout.MASK_32:
                    self.assertBitsEqual(y32, gdropout.dropout_fwd_cols(kind.widen(x), pc, S)[0])
                want, _ = gdropout.dropout_fwd_cols_ex(kind.widen(dy), pc, S, rule=rule)
                self.assertRounded(kind, gdropout.dropout_bwd_cols_ex(dy, pc, mask=m, rule=rule),
                                   want)
                self.assertRounded(kind, gdropout.dropout_bwd_cols_ex(dy, pc, S, rule=rule), want)

    def test_add_forward(self):
        for kind, rule in CASES:
            with self.subTest(kind=kind, rule=rule.name):
                x, res, bias = kind.sample((9, 41)), kind.sample((9, 41), 3), kind.sample(41, 4)
                for b in (None, bias):
                    for r in (None, res):
                        y, m = gdropout.dropout_add_fwd_ex(x, 0.3, S, bias=b, residual=r, rule=rule)
                        wide = [None if v is None else kind.widen(v) for v in (b, r)]
                        y32, m32 = gdropout.dropout_add_fwd_ex(kind.widen(x), 0.3, S, bias=wide[0],
                                                               residual=wide[1], rule=rule)
                        self.assertRounded(kind, y, y32)
                        np.testing.assert_array_equal(m, m32)
                        if rule == gdropout.MASK_32:
                            ref, _ = gdropout.dropout_add_fwd(kind.widen(x), 0.3, S, bias=wide[0],
                                                              residual=wide[1])
                            self.assertBitsEqual(y32, ref)

    def test_add_backward(self):
        for kind, rule in CASES:
            with self.subTest(kind=kind, rule=rule.name):
                dy = kind.sample((50, 23), seed=5)
                _, m = gdropout.dropout_add_fwd_ex(kind.sample((50, 23)), 0.2, S, rule=rule)
                want, _ = self.float_fwd(kind.widen(dy), 0.2, S, rule)
                for src in ({"mask": m}, {"stream": S}):
                    dx, db = gdropout.dropout_add_bwd_ex(dy, 0.2, rule=rule, **src)
                    self.assertRounded(kind, dx, want)
                    # dbias: the column sums of dx as stored (rounded), in double
                    sums = kind.widen(dx).astype(np.float64).sum(axis=0).astype(np.float32)
                    self.assertEqual(db.dtype, np.float32)
                    self.assertBitsEqual(db, sums)
                dx, none = gdropout.dropout_add_bwd_ex(dy, 0.2, S, bias_grad=False, rule=rule)
                self.assertIsNone(none)
                self.assertRounded(kind, dx, want)

    def test_gaussian(self):
        sigma = gdropout.gaussian_sigma(0.1)
        for kind in KINDS:
            x = kind.sample(1235)
            self.assertRounded(kind, gdropout.gaussian_dropout_fwd_ex(x, sigma, S),
                               gdropout.gaussian_dropout_fwd(kind.widen(x), sigma, S))
            self.assertRounded(kind, gdropout.gaussian_dropout_bwd_ex(x, sigma, S),
                               gdropout.gaussian_dropout_bwd(kind.widen(x), sigma, S))

    def test_ties_round_to_even(self):
        # p = 0 keeps everything at scale 1: y = x + bias, exactly halfway
        # between two values of the type, goes to the one with an even last bit
        for kind, xs, bias, want in (
                (BF16, [0x3F80, 0x3F81], [0x3B80, 0x3B80], [0x3F80, 0x3F82]),
                (F16, [0x3C00, 0x3C01], [0x1000, 0x1000], [0x3C00, 0x3C02])):
            x = np.array(xs, np.uint16).view(kind.dtype)
            b = np.array(bias, np.uint16).view(kind.dtype)
            y, _ = gdropout.dropout_add_fwd_ex(x.reshape(1, 2), 0.0, S, bias=b)
            self.assertEqual(hbits(y).reshape(-1).tolist(), want, kind)

    def test_float32_mask_32_is_the_float_kernel(self):
        x = F16.widen(F16.sample((5, 31)))
        y, m = gdropout.dropout_fwd_ex(x, 0.4, S)
        want, wm = gdropout.dropout_fwd(x, 0.4, S)
        self.assertBitsEqual(y, want)
        np.testing.assert_array_equal(m, wm)
        np.testing.assert_array_equal(gdropout.mask_bernoulli_ex(155, 0.4, S),
                                      gdropout.mask_bernoulli(155, 0.4, S))

    def test_in_place_and_shapes(self):
        for kind in KINDS:
            x = kind.sample((2, 3, 5))
            want, _ = gdropout.dropout_fwd_ex(x, 0.5, S)
            y, _ = gdropout.dropout_fwd_ex(x, 0.5, S, out=x)
            self.assertIs(y, x)
            np.testing.assert_array_equal(hbits(x), hbits(want))
            z, _ = gdropout.dropout_fwd_ex(kind.sample(()), 0.5, S)
            self.assertEqual(z.shape, ())
            e, em = gdropout.dropout_fwd_ex(np.zeros(0, kind.dtype), 0.5, S)
            self.assertEqual((e.size, em.size), (0, 0))
            # a strided view is read in row-major order
            t = kind.sample((6, 10))
            self.assertEqual(hbits(gdropout.dropout_fwd_ex(t.T, 0.4, S)[0]).tolist(),
                             hbits(gdropout.dropout_fwd_ex(t.T.copy(), 0.4, S)[0]).tolist())


@unittest.skipUnless(HAS_EX, "the library predates 1.2")
class Rule16Test(BitTestCase):
    """The 16-bit rule on float32 and its masks, against reference16."""

    def test_masks(self):
        for n, offset, p in ((20, 0, 0.5), (1001, 3, 0.1), (77, 2 ** 64 - 77, 0.9),
                             (64, 5, 0.0), (64, 5, 1.0), (513, 2 ** 33 - 1, 1e-5)):
            with self.subTest(n=n, offset=offset, p=p):
                s = gdropout.Stream(S.seed, S.stream, offset)
                np.testing.assert_array_equal(
                    gdropout.mask_bernoulli_ex(n, p, s, rule=gdropout.MASK_16),
                    Q.mask16(s.seed, s.stream, offset, n, p))

    def test_forward_backward(self):
        x = np.random.default_rng(1).standard_normal(999).astype(np.float32)
        for p in (0.0, 0.25, 0.5, 2.0 ** -18, 1.0):
            with self.subTest(p=p):
                y, m = gdropout.dropout_fwd_ex(x, p, S, rule=gdropout.MASK_16)
                yr, mr = Q.dropout16(x, p, S.seed, S.stream, S.offset)
                self.assertBitsEqual(y, yr)
                np.testing.assert_array_equal(m, mr)
                for src in ({"mask": m}, {"stream": S}):
                    self.assertBitsEqual(
                        gdropout.dropout_bwd_ex(x, p, rule=gdropout.MASK_16, **src), yr)

    def test_cols(self):
        x = np.random.default_rng(2).standard_normal((11, 5)).astype(np.float32)
        pc = np.array([0.0, 0.1, 0.5, 0.75, 1.0], np.float32)
        y, m = gdropout.dropout_fwd_cols_ex(x, pc, S, rule=gdropout.MASK_16)
        d = Q.draws16(S.seed, S.stream, indices(S.offset, x.size)).reshape(x.shape)
        keep = np.stack([Q.keep16(d[:, c], pc[c]) for c in range(5)], axis=1)
        scale = np.array([Q.keep_scale16(p) for p in pc], np.float32)
        self.assertBitsEqual(y, np.where(keep, x * scale, np.float32(0)))
        np.testing.assert_array_equal(m, np.packbits(keep.reshape(-1), bitorder="little"))

    def test_known_answers(self):
        # docs/SPEC.md, "Half precision"
        s = gdropout.Stream(1234, (7 << 16) | 1)
        x = np.array([0x3C00, 0xC100, 0x4200, 0x2E66, 0x4700, 0xB800, 0x7BFF, 0x0002],
                     np.uint16).view(np.float16)
        y16, _ = gdropout.dropout_fwd_ex(x, 0.5, s, rule=gdropout.MASK_16)
        y32, _ = gdropout.dropout_fwd_ex(x, 0.5, s)
        self.assertEqual(hbits(y16).tolist(), [0, 0, 0x4600, 0, 0, 0, 0x7C00, 0x0004])
        self.assertEqual(hbits(y32).tolist(), [0, 0, 0, 0x3266, 0x4B00, 0, 0x7C00, 0x0004])
        yb, _ = gdropout.dropout_fwd_ex(np.array([0x3F80, 0x3F80], np.uint16), 0.1, s,
                                        rule=gdropout.MASK_16)
        self.assertEqual(yb.tolist(), [0x3F8E, 0x3F8E])
        self.assertEqual(gdropout.mask_bernoulli_ex(20, 0.5, s, rule=gdropout.MASK_16).tolist(),
                         [0xC4, 0xF3, 0x03])


def sentinel(shape, dtype):
    return np.full(shape, 7, dtype)


@unittest.skipUnless(HAS_EX, "the library predates 1.2")
class ErrorContractTest(unittest.TestCase):
    """Each refusal: its exception, naming the function and the argument,
    and `out` untouched."""

    def refused(self, exc, pattern, call, out):
        before = out.copy()
        with self.assertRaisesRegex(exc, pattern) as cm:
            call()
        np.testing.assert_array_equal(out, before)
        return cm.exception

    def test_bad_probability(self):
        x = F16.sample(8)
        out = sentinel(8, np.float16)
        calls = {
            "dropout_fwd_ex": lambda p: gdropout.dropout_fwd_ex(x, p, S, out=out),
            "dropout_bwd_ex": lambda p: gdropout.dropout_bwd_ex(x, p, S, out=out),
            "dropout_add_fwd_ex": lambda p: gdropout.dropout_add_fwd_ex(x, p, S, out=out),
            "dropout_add_bwd_ex": lambda p: gdropout.dropout_add_bwd_ex(x, p, S, out=out),
            "mask_bernoulli_ex": lambda p: gdropout.mask_bernoulli_ex(8, p, S),
        }
        for fn, call in calls.items():
            for p in (1.5, -0.1, 1.0000000001, float("nan")):
                with self.subTest(fn=fn, p=p):
                    e = self.refused(gdropout.GDropoutError, rf"^{fn}: p={p!r} is outside",
                                     lambda: call(p), out)
                    self.assertEqual((e.code, e.function, e.argument),
                                     (gdropout.EDOMAIN, fn, "p"))
        e = self.refused(gdropout.GDropoutError, "p_cols", lambda: gdropout.dropout_fwd_cols_ex(
            x.reshape(2, 4), [0.1, 0.2, 1.5, 0.0], S, out=out.reshape(2, 4)), out)
        self.assertEqual((e.code, e.argument), (gdropout.EDOMAIN, "p_cols"))
        e = self.refused(gdropout.GDropoutError, "sigma",
                         lambda: gdropout.gaussian_dropout_fwd_ex(x, -1.0, S, out=out), out)
        self.assertEqual((e.code, e.argument), (gdropout.EDOMAIN, "sigma"))

    def test_wrong_dtype(self):
        out = sentinel(8, np.float16)
        what = r"float16 \(fp16\), uint16 \(bf16 bits\) or float32"
        for bad in (np.ones(8), np.ones(8, np.int32), [1.0] * 8, np.ones(8, np.int16)):
            self.refused(TypeError, rf"^dropout_fwd_ex: x must have dtype {what}, got",
                         lambda: gdropout.dropout_fwd_ex(bad, 0.5, S, out=out), out)
            self.refused(TypeError, rf"^gaussian_dropout_bwd_ex: dy must have dtype {what}",
                         lambda: gdropout.gaussian_dropout_bwd_ex(bad, 0.5, S, out=out), out)
        x = F16.sample((2, 4))
        o2 = out.reshape(2, 4)
        # every other tensor of the call in the first one's dtype
        self.refused(TypeError, r"^dropout_fwd_ex: out must have dtype float16, got uint16",
                     lambda: gdropout.dropout_fwd_ex(x, 0.5, S, out=np.zeros((2, 4), np.uint16)),
                     out)
        self.refused(TypeError, r"^dropout_add_fwd_ex: residual must have dtype float16",
                     lambda: gdropout.dropout_add_fwd_ex(x, 0.5, S, residual=F16.widen(x),
                                                         out=o2), out)
        self.refused(TypeError, r"^dropout_add_fwd_ex: bias must have dtype float16",
                     lambda: gdropout.dropout_add_fwd_ex(x, 0.5, S, bias=np.ones(4, np.uint16),
                                                         out=o2), out)

    def test_lengths_that_do_not_fit(self):
        x = BF16.sample((3, 5))
        out = sentinel((3, 5), np.uint16)
        cases = (
            ("out must have shape", lambda: gdropout.dropout_fwd_ex(
                x, 0.5, S, out=np.zeros(15, np.uint16))),
            ("residual must have shape", lambda: gdropout.dropout_add_fwd_ex(
                x, 0.5, S, residual=BF16.sample((3, 4)), out=out)),
            ("bias must be a vector of 5", lambda: gdropout.dropout_add_fwd_ex(
                x, 0.5, S, bias=BF16.sample(4), out=out)),
            ("p_cols must be a vector of 5", lambda: gdropout.dropout_fwd_cols_ex(
                x, [0.5] * 4, S, out=out)),
            ("15 elements need 2 mask bytes", lambda: gdropout.dropout_bwd_ex(
                x, 0.5, mask=np.zeros(3, np.uint8), out=out)),
            ("15 elements need 2 mask bytes", lambda: gdropout.dropout_add_bwd_ex(
                x, 0.5, mask=np.zeros(1, np.uint8), out=out)),
        )
        for pattern, call in cases:
            with self.subTest(pattern):
                self.refused(ValueError, pattern, call, out)

    def test_bad_rule(self):
        x, out = F16.sample(8), sentinel(8, np.float16)
        e = self.refused(gdropout.GDropoutError, r"^dropout_fwd_ex: rule=2 is not",
                         lambda: gdropout.dropout_fwd_ex(x, 0.5, S, out=out, rule=2), out)
        self.assertEqual((e.code, e.argument), (gdropout.EINVAL, "rule"))
        self.refused(TypeError, r"^dropout_bwd_ex: rule must be a gdropout.MaskRule",
                     lambda: gdropout.dropout_bwd_ex(x, 0.5, S, out=out, rule="16"), out)
        self.assertIs(gdropout.mask_bernoulli_ex(8, 0.5, S, rule=1).dtype, np.dtype(np.uint8))

    def test_library_errors(self):
        x, out = F16.sample(8), sentinel(8, np.float16)
        # neither mask nor stream: the library's own GD_EINVAL
        e = self.refused(gdropout.GDropoutError, "^dropout_bwd_ex",
                         lambda: gdropout.dropout_bwd_ex(x, 0.5, out=out), out)
        self.assertEqual((e.code, e.function), (gdropout.EINVAL, "dropout_bwd_ex"))
        e = self.refused(gdropout.GDropoutError, "^dropout_fwd_ex", lambda: gdropout.dropout_fwd_ex(
            x, 0.5, gdropout.Stream(1, 2, (1 << 64) - 5), out=out), out)
        self.assertEqual(e.code, gdropout.EOVERFLOW)

    def test_overlap_and_alignment(self):
        buf = F16.sample(17)
        before = buf.copy()
        with self.assertRaisesRegex(ValueError, r"^dropout_fwd_ex: out overlaps x"):
            gdropout.dropout_fwd_ex(buf[:-1], 0.5, S, out=buf[1:])
        np.testing.assert_array_equal(hbits(buf), hbits(before))
        # a misaligned input is copied; a misaligned out is refused
        raw = bytearray(2 * 16 + 1)
        odd = np.frombuffer(raw, np.float16, count=16, offset=1)
        odd[...] = buf[:16]
        self.assertFalse(odd.flags.aligned)
        np.testing.assert_array_equal(hbits(gdropout.dropout_fwd_ex(odd, 0.3, S)[0]),
                                      hbits(gdropout.dropout_fwd_ex(buf[:16], 0.3, S)[0]))
        with self.assertRaisesRegex(ValueError, r"^dropout_fwd_ex: out is not aligned"):
            gdropout.dropout_fwd_ex(buf[:16], 0.3, S, out=odd)
        np.testing.assert_array_equal(hbits(odd), hbits(buf[:16]))


@unittest.skipUnless(HAS_EX and os.path.exists(README), "not run from a source tree")
class ReadmeTest(unittest.TestCase):
    def test_the_readme_block_runs_as_written(self):
        with open(README, encoding="utf-8") as f:
            m = re.search(r"<!-- python-half[^\n]*\n```python\n(.*?)```", f.read(), re.S)
        self.assertIsNotNone(m, "no <!-- python-half block in bindings/python/README.md")
        env = {}
        exec(compile(m.group(1), "README.md (python-half)", "exec"), env)  # noqa: S102
        self.assertEqual((env["y16"].dtype, env["dx16"].dtype), (np.float16, np.float16))
        self.assertFalse(np.array_equal(env["m16"], env["mask"]))  # the other rule's mask


if __name__ == "__main__":
    unittest.main()
