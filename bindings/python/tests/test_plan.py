"""The guided schedule through the binding."""

import math
import os
import tempfile
import unittest

import numpy as np

import gdropout

from .helpers import BitTestCase, requires


@requires("gd_plan_create")
class PlanTest(BitTestCase):
    def test_bert_rank_linear(self):
        # BERT-base's 37 sites at p_max 0.099, p_min 0: 0.099, 0.09625, ..., 0
        n = 37
        scores = np.random.default_rng(0).permutation(n).astype(np.float32) + 1
        with gdropout.Plan(n) as plan:
            plan.set_scores(scores)
            probs = plan.compute(gdropout.RULE_RANK_LINEAR, 0.099, 0.0)
            p_max = float(np.float32(0.099))
            rank = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
            want = (p_max - p_max * rank / (n - 1)).astype(np.float32)
            self.assertBitsEqual(probs, want)
            self.assertEqual(plan.get(int(np.argmin(scores))), np.float32(0.099))
            self.assertEqual(plan.get(int(np.argmax(scores))), 0.0)
            self.assertAlmostEqual(sorted(probs)[-2], 0.09625, places=7)

    def test_uniform_and_ties(self):
        with gdropout.Plan(3) as plan:
            plan.set_scores([5.0, 5.0, 1.0])
            self.assertBitsEqual(plan.compute(gdropout.RULE_UNIFORM, 0.1, 0.0),
                                 np.full(3, 0.1, np.float32))
            # ties by site index: site 0 ranks before site 1
            probs = plan.compute(gdropout.RULE_RANK_LINEAR, 0.2, 0.0)
            self.assertBitsEqual(probs, np.float32([0.1, 0.0, 0.2]))

    def test_site_info_save_load(self):
        with gdropout.Plan(2) as plan, tempfile.TemporaryDirectory() as d:
            plan.set_site(0, 0.5, name="encoder.0")
            plan.set_site(1, 2.0)
            info = plan.site_info(0)
            self.assertEqual(info.name, "encoder.0")
            self.assertEqual(info.score, 0.5)
            self.assertTrue(math.isnan(info.prob))
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.get(0)
            self.assertEqual(cm.exception.code, gdropout.ESTATE)
            plan.compute(gdropout.RULE_RANK_LINEAR, 0.3, 0.1)
            path = os.path.join(d, "plan.txt")
            plan.save(path)
            with gdropout.Plan.load(path) as back:
                self.assertEqual(len(back), 2)
                self.assertBitsEqual(back.get_all(), plan.get_all())
                self.assertEqual(back.site_info(0).name, "encoder.0")
                self.assertEqual(back.site_info(1).name, "")

    def test_errors(self):
        with self.assertRaises(gdropout.GDropoutError) as cm:
            gdropout.Plan(0)
        self.assertEqual(cm.exception.code, gdropout.EINVAL)
        with gdropout.Plan(2) as plan:
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.set_site(0, float("nan"))
            self.assertEqual(cm.exception.code, gdropout.EDOMAIN)
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.set_site(2, 1.0)
            self.assertEqual(cm.exception.code, gdropout.ENOTFOUND)
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.compute(gdropout.RULE_RANK_LINEAR, 0.1, 0.0)  # no scores yet
            self.assertEqual(cm.exception.code, gdropout.ESTATE)
            plan.set_scores([1.0, 2.0])
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.compute(gdropout.RULE_RANK_LINEAR, 0.1, 0.2)  # p_min > p_max
            self.assertEqual(cm.exception.code, gdropout.EDOMAIN)
            with self.assertRaises(gdropout.GDropoutError) as cm:
                plan.set_scores([1.0])
            self.assertEqual(cm.exception.code, gdropout.ESHAPE)


class ControlRatesTest(BitTestCase):
    """control_rates: the reversed, permuted and matched controls of a plan
    (issue #22), with known answers."""

    def test_known_answers(self):
        r = np.array([0.0, 0.1, 0.05, 0.2], np.float32)
        rev = gdropout.control_rates(r, "reversed")
        self.assertEqual(rev.dtype, np.float32)
        # ranks by rate: site0 < site2 < site1 < site3 -> rates reversed
        self.assertBitsEqual(rev, np.array([0.2, 0.05, 0.1, 0.0], np.float32))
        m = gdropout.control_rates(r, "matched")
        self.assertBitsEqual(m, np.full(4, np.float32(np.float64(r).mean()), np.float32))
        # Fisher-Yates on the control stream's words, by hand
        u = gdropout.random_u32(3, gdropout.Stream(7, gdropout.CONTROL_STREAM, 0))
        want = r.copy()
        for k, i in enumerate((3, 2, 1)):
            j = (int(u[k]) * (i + 1)) >> 32
            want[i], want[j] = want[j], want[i]
        self.assertBitsEqual(gdropout.control_rates(r, "permuted", seed=7), want)
        # permuting keeps the multiset and differs across seeds
        draws = {tuple(gdropout.control_rates(np.arange(8) / 80, "permuted", seed=s))
                 for s in range(20)}
        self.assertGreater(len(draws), 10)
        for d in draws:
            self.assertEqual(sorted(d), sorted(np.float32(np.arange(8) / 80)))

    def test_reversed_rank_linear_plan(self):
        # a computed plan: the most informative site (highest score, p 0)
        # gets p_max, the least informative (p_max) gets 0, and the mean holds
        scores = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.6], np.float32)
        with gdropout.Plan(6) as plan:
            plan.set_scores(scores)
            p = plan.compute(gdropout.Rule.RANK_LINEAR, 0.2, 0.0)
            rev = gdropout.control_rates(plan, "reversed")
        self.assertEqual(float(p[4]), 0.0)
        self.assertEqual(float(rev[4]), float(np.float32(0.2)))
        self.assertEqual(float(rev[1]), 0.0)
        self.assertBitsEqual(np.sort(rev), np.sort(p))
        # reversing twice is the plan again (distinct rates)
        self.assertBitsEqual(gdropout.control_rates(rev, "reversed"), p)
        # ties are ranked by site index
        self.assertBitsEqual(gdropout.control_rates([0.1, 0.1, 0.3], "reversed"),
                             np.array([0.3, 0.1, 0.1], np.float32))

    def test_the_library_agrees(self):
        """Plan.control (the C library's gd_plan_control) and control_rates
        (numpy) give the same rates bit for bit, for every kind and seeds."""
        names = ["embeddings"] + ["layer.%d.%s" % (l, k) for l in range(4)
                                  for k in ("attn", "ffn", "out")]
        scores = np.linspace(0.5, 3.0, len(names)).astype(np.float32)[::-1].copy()
        for kind in gdropout.CONTROLS:
            for seed in (0, 1, 12345):
                with gdropout.Plan(len(names)) as plan:
                    for i, n in enumerate(names):
                        plan.set_site(i, float(scores[(5 * i) % len(names)]), n)
                    plan.compute(gdropout.Rule.RANK_LINEAR, 0.2, 0.0)
                    want = gdropout.control_rates(plan, kind, **(
                        {"seed": seed} if kind in ("permuted", "kind") else {}))
                    got = plan.control(kind, seed)
                self.assertBitsEqual(got, want)

    def test_kind_drops_ascii_digits_only(self):
        """The C library removes 0-9 alone; str.isdigit() is true of Arabic-
        Indic digits too, which once grouped these five sites otherwise."""
        names = ["enc.a\u0663", "enc.a\u0661", "enc.b", "enc.a\u0662", "x"]
        with gdropout.Plan(len(names)) as plan:
            for i, n in enumerate(names):
                plan.set_site(i, i + 1.0, name=n)
            plan.compute(gdropout.Rule.RANK_LINEAR, 0.4, 0.0)
            for seed in range(8):
                want = gdropout.control_rates(plan, "kind", seed=seed)
                self.assertBitsEqual(plan.control("kind", seed), want)
                plan.compute(gdropout.Rule.RANK_LINEAR, 0.4, 0.0)
        # each name its own kind: nothing moves
        self.assertBitsEqual(gdropout.control_rates([0.4, 0.3, 0.2, 0.1, 0.0], "kind", seed=3,
                                                    names=names),
                             np.array([0.4, 0.3, 0.2, 0.1, 0.0], np.float32))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "kind must be one of"):
            gdropout.control_rates([0.1], "shuffled")
        with self.assertRaisesRegex(ValueError, "needs seed"):
            gdropout.control_rates([0.1, 0.2], "permuted")
        with self.assertRaisesRegex(ValueError, "seed is for 'permuted' and 'kind' only"):
            gdropout.control_rates([0.1, 0.2], "matched", seed=1)
        with self.assertRaisesRegex(ValueError, r"rates\[1\] = 1.5 is outside"):
            gdropout.control_rates([0.1, 1.5], "matched")
        with self.assertRaisesRegex(ValueError, "non-empty vector"):
            gdropout.control_rates([], "matched")


if __name__ == "__main__":
    unittest.main()
