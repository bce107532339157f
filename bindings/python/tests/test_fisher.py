"""Fisher estimation through the binding, against numpy in double."""

import os
import tempfile
import unittest

import numpy as np

import gdropout

from .helpers import BitTestCase, requires


def rng(seed=0):
    return np.random.default_rng(seed)


def f32(a):
    return np.asarray(a, dtype=np.float32)


@requires("gd_fisher_create")
class FisherTest(BitTestCase):
    def setUp(self):
        self.f = gdropout.Fisher()
        self.w = self.f.add_tensor("layer0.weight", 12, site=0)
        self.b = self.f.add_tensor("layer0.bias", 3, site=0)
        self.ln = self.f.add_tensor("ln.bias", 4, site=2)
        self.free = self.f.add_tensor("free", 2)  # no site

    def tearDown(self):
        self.f.close()

    def test_registry(self):
        self.assertEqual((self.w, self.b, self.ln, self.free), (0, 1, 2, 3))
        self.assertEqual(len(self.f), 4)
        self.assertEqual(self.f.find("ln.bias"), 2)
        self.assertEqual(self.f.info(1), gdropout.TensorInfo("layer0.bias", 3, 0))
        self.assertEqual(self.f.info(3).site, None)
        self.assertEqual(self.f.site_count(), 3)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.add_tensor("free", 5)
        self.assertEqual(cm.exception.code, gdropout.EEXIST)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.find("nope")
        self.assertEqual(cm.exception.code, gdropout.ENOTFOUND)

    def test_accumulate_weighted(self):
        g = rng().standard_normal((5, 12)).astype(np.float32)
        w = np.array([1.0, 0.5, 2.0, 0.0, 3.0], dtype=np.float32)
        for gi, wi in zip(g, w):
            self.f.accumulate(self.w, gi.reshape(3, 4), wi)
        est, samples = self.f.read(self.w)
        want = (w[:, None].astype(np.float64) * g.astype(np.float64) ** 2).sum(0) / w.sum()
        self.assertEqual(samples, float(w.sum()))
        np.testing.assert_allclose(est, want, rtol=1e-6)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.read(self.b)  # no samples yet
        self.assertEqual(cm.exception.code, gdropout.ESTATE)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.accumulate(self.b, [1.0, float("nan"), 2.0])
        self.assertEqual(cm.exception.code, gdropout.EDOMAIN)
        with self.assertRaises(ValueError):
            self.f.accumulate(self.b, [1.0, 2.0])

    def test_batch_equals_one_by_one(self):
        g = rng(1).standard_normal((7, 3)).astype(np.float32)
        other = gdropout.Fisher()
        ob = [other.add_tensor(*t) for t in (("a", 12, 0), ("b", 3, 0))][1]
        self.f.accumulate_batch(self.b, g)
        for row in g:
            other.accumulate(ob, row)
        self.assertBitsEqual(self.f.read(self.b)[0], other.read(ob)[0])
        self.assertEqual(self.f.read(self.b)[1], 7.0)

    def test_dense(self):
        r = rng(2)
        batch, n_in, n_out = 6, 4, 3
        x = r.standard_normal((batch, n_in)).astype(np.float32)
        dy = r.standard_normal((batch, n_out)).astype(np.float32)
        self.f.accumulate_dense(self.w, x, dy, b_id=self.b)
        x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
        per_example = np.einsum("bo,bi->boi", dy64, x64)  # W[out x in] gradients
        np.testing.assert_allclose(self.f.read(self.w)[0],
                                   (per_example ** 2).mean(0).ravel(), rtol=1e-5)
        np.testing.assert_allclose(self.f.read(self.b)[0], (dy64 ** 2).mean(0), rtol=1e-5)
        self.assertEqual(self.f.read(self.w)[1], batch)
        with self.assertRaises(gdropout.GDropoutError) as cm:  # 4 x 4 is not 12
            self.f.accumulate_dense(self.w, x, np.zeros((batch, 4), np.float32))
        self.assertEqual(cm.exception.code, gdropout.ESHAPE)

    def test_dense_seq(self):
        r = rng(3)
        batch, seq, n_in, n_out = 3, 5, 4, 3
        x = r.standard_normal((batch, seq, n_in)).astype(np.float32)
        dy = r.standard_normal((batch, seq, n_out)).astype(np.float32)
        self.f.accumulate_dense_seq(self.w, x, dy, b_id=self.b)
        g = np.einsum("bso,bsi->boi", dy.astype(np.float64), x.astype(np.float64))
        gb = dy.astype(np.float64).sum(1)
        np.testing.assert_allclose(self.f.read(self.w)[0], (g ** 2).mean(0).ravel(), rtol=1e-5)
        np.testing.assert_allclose(self.f.read(self.b)[0], (gb ** 2).mean(0), rtol=1e-5)

    def test_from_adam(self):
        v = rng(4).random(4).astype(np.float32)
        self.f.from_adam(self.ln, v, 0.999, 100, batch=32)
        want = 32 * v.astype(np.float64) / (1 - np.float64(np.float32(0.999)) ** 100)
        est, samples = self.f.read(self.ln)
        np.testing.assert_allclose(est, want, rtol=1e-6)
        self.assertEqual(samples, 1.0)

    def test_sums_set_sums_merge(self):
        g = rng(5).standard_normal((4, 3)).astype(np.float32)
        self.f.accumulate_batch(self.b, g)
        sums, weight = self.f.sums(self.b)
        np.testing.assert_allclose(sums, (g.astype(np.float64) ** 2).sum(0), rtol=1e-12)
        self.assertEqual(weight, 4.0)
        other = gdropout.Fisher()
        for t in self.f.tensors():
            other.add_tensor(t.name, t.numel, t.site)
        other.set_sums(self.b, sums * 3, 12.0)
        self.f.merge(other)
        s2, w2 = self.f.sums(self.b)
        np.testing.assert_allclose(s2, sums * 4, rtol=1e-12)
        self.assertEqual(w2, 16.0)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.set_sums(self.b, [1.0, -1.0, 0.0], 1.0)
        self.assertEqual(cm.exception.code, gdropout.EDOMAIN)
        mismatched = gdropout.Fisher()
        mismatched.add_tensor("x", 1)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.merge(mismatched)
        self.assertEqual(cm.exception.code, gdropout.ESHAPE)

    def _fill(self):
        r = rng(6)
        for i, n in ((self.w, 12), (self.b, 3), (self.ln, 4), (self.free, 2)):
            self.f.accumulate(i, r.standard_normal(n).astype(np.float32))
        return {i: self.f.read(i)[0].astype(np.float64) for i in range(4)}

    def test_site_scores(self):
        est = self._fill()
        w, b, ln = est[self.w], est[self.b], est[self.ln]
        nan = float("nan")
        cases = {
            gdropout.REDUCE_TENSOR_MEAN: [(w.mean() + b.mean()) / 2, nan, ln.mean()],
            gdropout.REDUCE_ELEMENT_MEAN: [np.concatenate([w, b]).mean(), nan, ln.mean()],
            gdropout.REDUCE_SUM: [w.sum() + b.sum(), nan, ln.sum()],
            gdropout.REDUCE_MAX: [max(w.max(), b.max()), nan, ln.max()],
        }
        for reduce, want in cases.items():
            with self.subTest(reduce=reduce):
                np.testing.assert_allclose(self.f.site_scores(reduce), f32(want), rtol=1e-6)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.site_scores(99)
        self.assertEqual(cm.exception.code, gdropout.EINVAL)

    def test_unit_scores(self):
        w = self._fill()[self.w].reshape(3, 4)
        np.testing.assert_allclose(self.f.unit_scores(self.w, 3, 4, gdropout.AXIS_ROWS),
                                   w.mean(1), rtol=1e-6)
        np.testing.assert_allclose(self.f.unit_scores(self.w, 3, 4, gdropout.AXIS_COLS),
                                   w.mean(0), rtol=1e-6)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            self.f.unit_scores(self.w, 5, 4)
        self.assertEqual(cm.exception.code, gdropout.ESHAPE)

    def test_save_load_bit_exact(self):
        est = self._fill()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fisher.safetensors")
            self.f.save(path)
            with gdropout.Fisher.load(path) as g:
                self.assertEqual(g.tensors(), self.f.tensors())
                for i in range(4):
                    self.assertBitsEqual(g.read(i)[0], f32(est[i]))
                    self.assertEqual(g.read(i)[1], self.f.read(i)[1])
            with open(path, "r+b") as fh:  # break the header length
                fh.write(b"\xff" * 8)
            with self.assertRaises(gdropout.GDropoutError) as cm:
                gdropout.Fisher.load(path)
            self.assertEqual(cm.exception.code, gdropout.EFORMAT)
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.Fisher.load(os.path.join(d, "missing"))
        self.assertEqual(cm.exception.code, gdropout.EIO)

    def test_closed(self):
        g = gdropout.Fisher()
        g.close()
        g.close()  # twice is fine
        with self.assertRaisesRegex(ValueError, "closed"):
            g.add_tensor("a", 1)


if __name__ == "__main__":
    unittest.main()
