"""Bad arguments are refused before the C library sees them, with a message
naming the function the caller used and the argument; good ones keep their
shape.  Each case here was once accepted silently or reported wrongly."""

import enum
import os
import pickle
import re
import tempfile
import unittest

import numpy as np

import gdropout
from gdropout import reference as R

from .helpers import HEADER_DIR, BitTestCase, requires

S = gdropout.Stream(99, 3, 5)


class ShapesAndDtypes(BitTestCase):
    def test_zero_d_keeps_its_shape(self):
        x = np.float32(3.0)
        y, m = gdropout.dropout_fwd(x, 0.0, S)
        self.assertEqual(y.shape, ())
        self.assertEqual(float(y), 3.0)
        self.assertEqual(m.shape, (1,))
        self.assertEqual(gdropout.dropout_bwd(np.float32(2.0), 0.0, mask=m).shape, ())
        self.assertEqual(gdropout.gaussian_dropout_fwd(np.float32(1.0), 0.5, S).shape, ())
        y1, _ = gdropout.dropout_fwd(np.array(3.0, np.float32), 0.5, S)
        ry, _ = R.dropout(np.array([3.0], np.float32), 0.5, S.seed, S.stream, S.offset)
        self.assertBitsEqual(y1.reshape(1), ry)

    def test_float64_documented_and_returned_as_float32(self):
        x = np.linspace(-1, 1, 10)  # float64
        y, _ = gdropout.dropout_fwd(x, 0.5, S)
        self.assertEqual(y.dtype, np.float32)
        for fn in (gdropout.dropout_fwd, gdropout.dropout_bwd, gdropout.dropout_fwd_cols,
                   gdropout.dropout_add_fwd, gdropout.gaussian_dropout_fwd):
            self.assertIn("float32", fn.__doc__, fn.__name__)
        self.assertIn("float64", gdropout.kernels.__doc__)


class OverlapTest(BitTestCase):
    def test_partial_overlap_refused(self):
        buf = np.arange(17, dtype=np.float32)
        before = buf.copy()
        with self.assertRaisesRegex(ValueError, r"dropout_fwd: out overlaps x"):
            gdropout.dropout_fwd(buf[:-1], 0.5, S, out=buf[1:])
        with self.assertRaisesRegex(ValueError, r"dropout_bwd: out overlaps dy"):
            gdropout.dropout_bwd(buf[1:], 0.5, S, out=buf[:-1])
        with self.assertRaisesRegex(ValueError, r"gaussian_dropout_fwd: out overlaps x"):
            gdropout.gaussian_dropout_fwd(buf[:-1], 0.5, S, out=buf[1:])
        self.assertBitsEqual(buf, before)

    def test_cols_and_add_overlap(self):
        buf = np.ones(4 * 8 + 8, dtype=np.float32)
        x = buf[8:].reshape(4, 8)
        with self.assertRaisesRegex(ValueError, r"dropout_add_fwd: out overlaps bias"):
            gdropout.dropout_add_fwd(x.copy(), 0.5, S, bias=buf[:8], out=buf[:32].reshape(4, 8))
        out = np.zeros(16, np.float32)
        mask = out.view(np.uint8)[:2]
        with self.assertRaisesRegex(ValueError, r"dropout_bwd: out overlaps mask"):
            gdropout.dropout_bwd(np.ones(16, np.float32), 0.5, mask=mask, out=out)
        # p_cols is checked in double, so what the kernel reads is a copy
        p = np.zeros(40, np.float32)
        y, _ = gdropout.dropout_fwd_cols(np.ones((4, 8), np.float32), p[:8], S,
                                         out=p[:32].reshape(4, 8))
        self.assertEqual(y.tolist(), [[1.0] * 8] * 4)

    def test_exact_in_place_still_allowed(self):
        x = np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)
        res = np.random.default_rng(2).standard_normal((6, 8)).astype(np.float32)
        want, _ = gdropout.dropout_add_fwd(x, 0.3, S, residual=res)
        got, _ = gdropout.dropout_add_fwd(x, 0.3, S, residual=res, out=res)
        self.assertIs(got, res)
        self.assertBitsEqual(got, want)
        dy = x.copy()
        want = gdropout.dropout_bwd(dy, 0.3, S)
        self.assertIs(gdropout.dropout_bwd(dy, 0.3, S, out=dy), dy)
        self.assertBitsEqual(dy, want)


class ProbabilityTest(unittest.TestCase):
    def test_p_checked_in_double(self):
        x = np.ones(8, np.float32)
        out = np.full(8, 7.0, np.float32)
        for p in (1.0000000001, -1e-50, 1.5, float("nan"), float("inf")):
            for call in (lambda: gdropout.dropout_fwd(x, p, S, out=out),
                         lambda: gdropout.mask_bernoulli(8, p, S),
                         lambda: gdropout.dropout_bwd(x, p, S, out=out),
                         lambda: gdropout.dropout_add_fwd(x, p, S, out=out),
                         lambda: gdropout.gaussian_sigma(p)):
                with self.subTest(p=p), self.assertRaises(gdropout.GDropoutError) as cm:
                    call()
                self.assertEqual(cm.exception.code, gdropout.EDOMAIN)
                self.assertEqual(cm.exception.argument, "p")
                self.assertIn(f"p={p!r}", str(cm.exception))
        self.assertTrue(np.all(out == 7.0))
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.dropout_fwd_cols(np.ones((2, 2)), np.array([0.5, 1.0000000001]), S)
        self.assertEqual(cm.exception.argument, "p_cols")
        self.assertEqual(cm.exception.function, "dropout_fwd_cols")
        # -0.0 and exact ends are fine
        self.assertEqual(gdropout.dropout_fwd(x, -0.0, S)[0].tolist(), [1.0] * 8)
        self.assertEqual(gdropout.dropout_fwd(x, 1.0, S)[0].tolist(), [0.0] * 8)

    def test_p_type(self):
        with self.assertRaisesRegex(TypeError, r"^dropout_fwd: p must be a real number, got str"):
            gdropout.dropout_fwd(np.ones(4), "0.5", S)
        with self.assertRaisesRegex(TypeError, r"^gaussian_dropout_fwd: sigma must be a real"):
            gdropout.gaussian_dropout_fwd(np.ones(4), None, S)
        self.assertEqual(gdropout.dropout_fwd(np.ones(4), np.float64(0.0), S)[0].tolist(),
                         [1.0] * 4)

    def test_stream_required_where_c_needs_one(self):
        with self.assertRaisesRegex(TypeError, r"^dropout_fwd: stream is required"):
            gdropout.dropout_fwd(np.ones(4), 0.5, None)
        with self.assertRaisesRegex(TypeError, r"^gaussian_dropout_fwd: stream is required"):
            gdropout.gaussian_dropout_fwd(np.ones(4), 0.5, None)
        # a backward pass from its stored mask needs none
        _, m = gdropout.dropout_fwd(np.ones(4), 0.5, S)
        self.assertEqual(gdropout.dropout_bwd(np.ones(4), 0.5, mask=m).shape, (4,))

    def test_philox_words_are_not_wrapped(self):
        want = gdropout.philox4x32_10([1, 2, 3, 4], [5, 6])
        self.assertEqual(gdropout.philox4x32_10(np.array([1, 2, 3, 4], np.int64),
                                                [5, np.uint64(6)]).tolist(), want.tolist())
        for ctr, err in (([2 ** 32, 0, 0, 0], ValueError), ([-1, 0, 0, 0], ValueError),
                         ([1.9, 0, 0, 0], TypeError), ([True, 0, 0, 0], TypeError)):
            with self.subTest(ctr=ctr), self.assertRaisesRegex(err, r"^philox4x32_10: ctr"):
                gdropout.philox4x32_10(ctr, [0, 0])
        with self.assertRaisesRegex(ValueError, r"^philox4x32_10: key must hold ints in "
                                    r"\[0, 4294967295\], got 4294967296$"):
            gdropout.philox4x32_10([0, 0, 0, 0], [0, 2 ** 32])

    def test_float_overflow_refused_before_c(self):
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.gaussian_dropout_fwd(np.ones(4), 1e39, S)
        self.assertEqual((cm.exception.code, cm.exception.argument), (gdropout.EDOMAIN, "sigma"))
        self.assertIn("too large for a float", str(cm.exception))
        # 3.4028235e38 rounds to FLT_MAX: finite, so accepted
        gdropout.gaussian_dropout_fwd(np.zeros(4), 3.4028235e38, S)
        for p in (1.0, 1 - 1e-10):
            with self.subTest(p=p), self.assertRaises(gdropout.GDropoutError) as cm:
                gdropout.gaussian_sigma(p)
            self.assertEqual((cm.exception.code, cm.exception.function, cm.exception.argument),
                             (gdropout.EDOMAIN, "gaussian_sigma", "p"))
        self.assertEqual(gdropout.gaussian_sigma(0.5), 1.0)

    def test_kernel_errors_name_the_python_function(self):
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.random_u32(10, gdropout.Stream(1, 2, (1 << 64) - 5))
        self.assertEqual(cm.exception.function, "random_u32")
        self.assertTrue(str(cm.exception).startswith("random_u32: "), str(cm.exception))
        with self.assertRaisesRegex(ValueError, r"^random_u32: n must be"):
            gdropout.random_u32(-1, S)
        with self.assertRaisesRegex(TypeError, r"^mask_bernoulli: n must be an int"):
            gdropout.mask_bernoulli(2.5, 0.5, S)


@requires("gd_fisher_create")
class FisherArgsTest(unittest.TestCase):
    def setUp(self):
        self.f = gdropout.Fisher()
        self.t = self.f.add_tensor("t", 3, site=0)

    def tearDown(self):
        self.f.close()

    def test_site_and_sizes(self):
        with self.assertRaisesRegex(ValueError, r"^Fisher.add_tensor: site must be None or"):
            self.f.add_tensor("a", 3, site=-2)
        with self.assertRaisesRegex(TypeError, r"^Fisher.add_tensor: numel must be an int"):
            self.f.add_tensor("a", 2.5)
        with self.assertRaisesRegex(TypeError, r"^Fisher.add_tensor: site must be"):
            self.f.add_tensor("a", 3, site="1")
        with self.assertRaisesRegex(TypeError, r"^Fisher.add_tensor: name must be a str"):
            self.f.add_tensor(b"a", 3)
        self.assertEqual(len(self.f), 1)  # nothing registered by the refusals

    def test_name_and_numel_named(self):
        for name, numel, arg in (("", 3, "name"), ("__metadata__", 3, "name"),
                                 ("a\x01", 3, "name"), ("ok", 0, "numel")):
            with self.subTest(name=name, numel=numel), \
                    self.assertRaises(gdropout.GDropoutError) as cm:
                self.f.add_tensor(name, numel)
            self.assertEqual((cm.exception.code, cm.exception.argument), (gdropout.EINVAL, arg))
        self.assertEqual(len(self.f), 1)

    def test_site_scores_without_sites(self):
        with gdropout.Fisher() as f:
            f.add_tensor("a", 2)  # no site
            with self.assertRaises(gdropout.GDropoutError) as cm:
                f.site_scores()
            self.assertEqual((cm.exception.code, cm.exception.argument),
                             (gdropout.EINVAL, "n_sites"))
            self.assertIn("no site to score", str(cm.exception))
            f.add_tensor("b", 2, site=(1 << 64) - 3)
            with self.assertRaises(gdropout.GDropoutError) as cm:
                f.site_scores()
            self.assertEqual(cm.exception.code, gdropout.ENOMEM)

    def test_weight_too_large_for_a_float(self):
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.accumulate(self.t, [1.0, 2.0, 3.0], 1e39)
        self.assertEqual((cm.exception.code, cm.exception.argument), (gdropout.EDOMAIN, "w"))
        with self.assertRaises(gdropout.GDropoutError):
            self.f.read(self.t)  # nothing was added

    def test_unknown_tensor_names_the_call(self):
        for call, function in ((lambda: self.f.accumulate(99, [1.0]), "Fisher.accumulate"),
                               (lambda: self.f.read(99), "Fisher.read"),
                               (lambda: self.f.info(99), "Fisher.info"),
                               (lambda: self.f.accumulate_batch(99, [[1.0]]),
                                "Fisher.accumulate_batch")):
            with self.subTest(function), self.assertRaises(gdropout.GDropoutError) as cm:
                call()
            e = cm.exception
            self.assertEqual((e.code, e.function, e.argument),
                             (gdropout.ENOTFOUND, function, "tensor_id"))
            self.assertNotIn("gd_fisher", str(e))
            self.assertIn("tensor_id=99", str(e))
        with self.assertRaisesRegex(ValueError, r"^Fisher.accumulate: tensor_id must be"):
            self.f.accumulate(-1, [1.0, 2.0, 3.0])

    def test_weight_checked_in_double(self):
        for w in (-1e-50, float("nan"), float("inf")):
            with self.subTest(w=w), self.assertRaises(gdropout.GDropoutError) as cm:
                self.f.accumulate(self.t, [1.0, 2.0, 3.0], w)
            self.assertEqual((cm.exception.code, cm.exception.argument), (gdropout.EDOMAIN, "w"))
        with self.assertRaises(gdropout.GDropoutError):
            self.f.read(self.t)  # nothing was added

    def test_nul_refused(self):
        with self.assertRaisesRegex(ValueError, r"^Fisher.add_tensor: name contains a NUL"):
            self.f.add_tensor("a\0secret", 3)
        with self.assertRaisesRegex(ValueError, r"^Fisher.find: name contains a NUL"):
            self.f.find("t\0x")
        self.f.accumulate(self.t, [1.0, 2.0, 3.0])
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ValueError, r"^Fisher.save: path contains a NUL"):
                self.f.save(os.path.join(d, "x\0.bak"))
            with self.assertRaisesRegex(ValueError, r"^Fisher.load: path contains a NUL"):
                gdropout.Fisher.load(os.path.join(d, "x\0.bak"))
            self.assertEqual(os.listdir(d), [])

    def test_enums(self):
        self.assertTrue(issubclass(gdropout.Reduce, enum.IntEnum))
        self.assertTrue(issubclass(gdropout.Axis, enum.IntEnum))
        self.assertIs(gdropout.REDUCE_MAX, gdropout.Reduce.MAX)
        self.assertIs(gdropout.AXIS_COLS, gdropout.Axis.COLS)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.unit_scores(self.t, 1, 3, axis=7)
        self.assertEqual((cm.exception.code, cm.exception.argument), (gdropout.EINVAL, "axis"))
        with self.assertRaises(gdropout.GDropoutError) as cm:  # refused before allocating
            self.f.unit_scores(self.t, 10 ** 12, 3)
        self.assertEqual(cm.exception.code, gdropout.ESHAPE)
        self.assertIn("Fisher.unit_scores: rows * cols = 1000000000000 * 3", str(cm.exception))


@requires("gd_plan_create")
class PlanArgsTest(unittest.TestCase):
    def test_bad_site_name_named(self):
        with gdropout.Plan(2) as p:
            for name in ("a b", "-", "x\x7f"):
                with self.subTest(name=name), self.assertRaises(gdropout.GDropoutError) as cm:
                    p.set_site(0, 1.0, name=name)
                self.assertEqual((cm.exception.code, cm.exception.argument),
                                 (gdropout.EINVAL, "name"))
                self.assertIn("without white space", str(cm.exception))

    def test_n_sites(self):
        with self.assertRaisesRegex(TypeError, r"^Plan: n_sites must be an int"):
            gdropout.Plan(2.5)
        with self.assertRaisesRegex(ValueError, r"^Plan: n_sites must be"):
            gdropout.Plan(-1)

    def test_compute_and_names(self):
        with gdropout.Plan(2) as plan, tempfile.TemporaryDirectory() as d:
            plan.set_scores([1.0, 2.0])
            for p_max in (1.0000000001, -1e-50):
                with self.assertRaises(gdropout.GDropoutError) as cm:
                    plan.compute(gdropout.Rule.RANK_LINEAR, p_max=p_max)
                self.assertEqual((cm.exception.function, cm.exception.argument),
                                 ("Plan.compute", "p_max"))
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.compute(17)
            self.assertEqual((cm.exception.code, cm.exception.argument),
                             (gdropout.EINVAL, "rule"))
            with self.assertRaisesRegex(ValueError, r"^Plan.set_site: name contains a NUL"):
                plan.set_site(0, 1.0, name="a\0b")
            with self.assertRaisesRegex(TypeError, r"^Plan.set_site: site must be an int"):
                plan.set_site(0.0, 1.0)
            plan.compute(gdropout.RULE_RANK_LINEAR)
            with self.assertRaisesRegex(ValueError, r"^Plan.save: path contains a NUL"):
                plan.save(os.path.join(d, "p\0.txt"))
            self.assertEqual(os.listdir(d), [])

    def test_rule_enum(self):
        self.assertTrue(issubclass(gdropout.Rule, enum.IntEnum))
        self.assertIs(gdropout.RULE_UNIFORM, gdropout.Rule.UNIFORM)
        self.assertEqual(int(gdropout.RULE_LOG_SCORE_LINEAR), 3)


class TablesFromTheLibrary(unittest.TestCase):
    def test_error_enum(self):
        self.assertTrue(issubclass(gdropout.Error, enum.IntEnum))
        names = {e.name: int(e) for e in gdropout.Error}
        for name, code in names.items():
            self.assertEqual(gdropout.error_name(code), "GD_" + name)
            self.assertIs(getattr(gdropout, name), gdropout.Error[name])
        self.assertEqual(names["OK"], 0)
        self.assertEqual(gdropout.error_name(min(names.values()) - 1), "GD_EUNKNOWN")
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.dropout_fwd([1.0], 2.0, S)
        self.assertIs(cm.exception.code, gdropout.Error.EDOMAIN)

    def test_error_pickles(self):
        e = gdropout.GDropoutError(gdropout.EDOMAIN, "dropout_fwd", "p", "p=2.0 is outside [0, 1]")
        back = pickle.loads(pickle.dumps(e))
        self.assertEqual((back.code, back.function, back.argument, str(back)),
                         (e.code, e.function, e.argument, str(e)))
        self.assertIs(back.code, gdropout.Error.EDOMAIN)

    @unittest.skipUnless(os.path.isdir(HEADER_DIR), "not run from a source tree")
    def test_enums_match_header(self):
        text = ""
        for fn in ("fisher.h", "plan.h", "common.h"):
            with open(os.path.join(HEADER_DIR, fn), encoding="utf-8") as f:
                text += f.read()
        for enum_cls, prefix in ((gdropout.Rule, "GD_RULE_"), (gdropout.Reduce, "GD_REDUCE_"),
                                 (gdropout.Axis, "GD_AXIS_")):
            want = {m[0]: int(m[1]) for m in re.findall(prefix + r"(\w+) = (\d+)", text)}
            self.assertEqual({e.name: int(e) for e in enum_cls}, want)
        want = {m[0]: int(m[1]) for m in re.findall(r"X\(GD_(\w+), (-\d+),", text)}
        got = {e.name: int(e) for e in gdropout.Error if e.name != "OK"}
        self.assertEqual(got, want)


class CopiesAndHandles(unittest.TestCase):
    """A Fisher or Plan owns its C object: a shallow copy once shared it,
    and both copies freed it (a use after free, then a double free); an int
    given as the internal handle reached C as a pointer."""

    def test_handles_cannot_be_copied_or_pickled(self):
        import copy
        for make in (lambda: gdropout.Fisher(), lambda: gdropout.Plan(3)):
            with make() as obj:
                name = type(obj).__name__
                for op in (copy.copy, copy.deepcopy, pickle.dumps):
                    with self.subTest(name=name, op=op.__name__), self.assertRaisesRegex(
                            TypeError, f"^{name} owns a C object and cannot be copied"):
                        op(obj)
                self.assertEqual(len(obj), 0 if name == "Fisher" else 3)  # still usable

    def test_handle_is_not_positional(self):
        with self.assertRaises(TypeError):
            gdropout.Fisher(10)
        with self.assertRaises(TypeError):
            gdropout.Plan(3, 7)
        for bad in (10, None.__class__, 0.5):
            with self.subTest(bad=bad), self.assertRaisesRegex(TypeError, "_handle is internal"):
                gdropout.Fisher(_handle=bad)

    def test_stream_pickles_and_copies(self):
        import copy
        s = gdropout.Stream(2 ** 64 - 1, 7, 12345)
        for op in (copy.copy, copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))):
            t = op(s)
            self.assertEqual(t, s)
            self.assertEqual(gdropout.random_u32(5, t).tolist(),
                             gdropout.random_u32(5, s).tolist())

    def test_stream_ints(self):
        self.assertEqual(gdropout.Stream(np.int64(5), np.uint64(2), np.int32(1)),
                         gdropout.Stream(5, 2, 1))
        self.assertIs(type(gdropout.Stream(np.uint64(5)).seed), int)
        for bad in (True, 1.0, "1"):
            with self.subTest(bad=bad), self.assertRaisesRegex(TypeError,
                                                               r"^Stream.seed must be an int"):
                gdropout.Stream(bad)
        with self.assertRaisesRegex(ValueError, r"^Stream.offset must be an int in"):
            gdropout.Stream(1, 2, 2 ** 64)


if __name__ == "__main__":
    unittest.main()
