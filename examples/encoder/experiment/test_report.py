#!/usr/bin/python3
"""Tests of report.py and baseline_tfidf.py against hand computations.

Run: /usr/bin/python3 test_report.py  (ctest: encoder_report).  Exits 77,
ctest's skip code, when a Debian package it needs is missing.
"""
import contextlib
import io
import math
import os
import random
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # ctest runs it in the source tree: no __pycache__ there
sys.path.insert(0, HERE)
from _common import HEADER, read_results, require  # noqa: E402

require("numpy", "scipy", "sklearn", "matplotlib", status=77)
import baseline_tfidf  # noqa: E402
import report  # noqa: E402

T975_DF9 = 2.2621571627409915  # Student t 0.975 quantile, 9 degrees of freedom
T975_DF6 = 2.4469118511449692  # ... 6 degrees of freedom
T975_DF4 = 2.7764451051977987  # ... 4 degrees of freedom

SEEDS = range(1, 11)
# Per-seed noise of `standard` (sums to 0: the mean is exactly 0.70).
NOISE = (0.03, -0.02, 0.01, 0.0, -0.01, 0.02, -0.03, 0.015, -0.015, 0.0)
# guided = standard + 0.02 + WOBBLE: paired difference mean 0.02.
WOBBLE = (0.01, -0.01) * 5


def hand_half(values, t):
    """The 95 % half-width written out: t * s / sqrt(n), s with n - 1."""
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return t * s / math.sqrt(n)


def row(task, frac, seed, regime, acc, val=None, f1=None):
    val = acc if val is None else val
    f1 = acc - 0.1 if f1 is None else f1
    return "%s\t%g\t%d\t%s\t100\t50\t%.6f\t%.6f\t%.6f\t%.6f\t1.0\n" % (
        task, frac, seed, regime, val, val - 0.1, acc, f1)


class Synthetic(unittest.TestCase):
    """Two shards and a baseline file with known means and differences;
    matched has seeds 1-7 at fraction 1 only, tfidf-lr seeds 1-5 and 12."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="test_report.")
        shard = ["", ""]
        for s in SEEDS:
            for frac in (1.0, 0.1):
                std = 0.70 + NOISE[s - 1] - (0.2 if frac < 1 else 0.0)
                # guided has the higher validation accuracy: best pretrained.
                shard[s % 2] += row("supersense", frac, s, "standard", std)
                shard[s % 2] += row("supersense", frac, s, "guided", std + 0.02 + WOBBLE[s - 1],
                                    val=std + 0.05)
                if frac == 1.0 and s <= 7:
                    shard[s % 2] += row("supersense", frac, s, "matched", std + 0.01 * s)
        base = "".join(row("supersense", frac, s, "tfidf-lr", 0.60 + 0.001 * s)
                       for s in (1, 2, 3, 4, 5, 12) for frac in (1.0, 0.1))
        # A repeated row (a shard run twice) must be counted once.
        base += row("supersense", 1.0, 1, "standard", 0.70 + NOISE[0])
        cls.paths = []
        for name, text in (("r0.tsv", shard[0]), ("r1.tsv", shard[1]), ("base.tsv", base)):
            p = os.path.join(cls.dir, name)
            with open(p, "w") as f:
                f.write(HEADER + text)
            cls.paths.append(p)
        cls.res = report.Results(cls.paths)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_counts(self):
        r = self.res
        self.assertEqual(r.rows, 20 + 20 + 7 + 12)
        self.assertEqual(r.duplicates, 1)
        self.assertEqual(r.conflicts, [])
        self.assertEqual(r.seeds(), list(range(1, 11)) + [12])
        self.assertEqual(r.fractions(), [1.0, 0.1])
        self.assertEqual(r.regimes(), ["standard", "guided", "matched", "tfidf-lr"])

    def test_means(self):
        std = [0.70 + n for n in NOISE]
        m, h, n = self.res.cell("supersense", 1.0, "standard", "test_acc")
        self.assertEqual(n, 10)
        self.assertAlmostEqual(m, 0.70, places=9)
        self.assertAlmostEqual(h, hand_half(std, T975_DF9), places=9)
        self.assertAlmostEqual(h, 0.0135938, places=6)  # by hand: sd 0.0190029
        m, h, n = self.res.cell("supersense", 0.1, "standard", "test_acc")
        self.assertAlmostEqual(m, 0.50, places=9)

    def test_paired_difference(self):
        m, h, n = self.res.paired("supersense", 1.0, "guided", "standard", "test_acc")
        self.assertEqual(n, 10)
        self.assertAlmostEqual(m, 0.02, places=6)
        # Differences 0.02 +- 0.01: s = 0.01 * sqrt(10 / 9).
        self.assertAlmostEqual(h, T975_DF9 * 0.01 * math.sqrt(10 / 9) / math.sqrt(10), places=6)

    def test_unpaired_seeds_are_left_out(self):
        # matched: seeds 1-7; guided - matched = 0.02 + WOBBLE - 0.01 s.
        d = [0.02 + WOBBLE[s - 1] - 0.01 * s for s in range(1, 8)]
        m, h, n = self.res.paired("supersense", 1.0, "guided", "matched", "test_acc")
        self.assertEqual(n, 7)
        self.assertAlmostEqual(m, sum(d) / 7, places=6)
        self.assertAlmostEqual(h, hand_half(d, T975_DF6), places=6)
        # tfidf-lr: seeds 1-5 and 12; standard: 1-10 -> 5 pairs.
        d = [0.70 + NOISE[s - 1] - (0.60 + 0.001 * s) for s in range(1, 6)]
        m, h, n = self.res.paired("supersense", 1.0, "standard", "tfidf-lr", "test_acc")
        self.assertEqual(n, 5)
        self.assertAlmostEqual(m, sum(d) / 5, places=6)
        self.assertAlmostEqual(h, hand_half(d, T975_DF4), places=6)

    def test_paired_over_all_fractions(self):
        # guided - standard is 0.02 + WOBBLE at both fractions: the same mean.
        m, h, n = self.res.paired_all("supersense", "guided", "standard", "test_acc")
        self.assertEqual(n, 10)
        self.assertAlmostEqual(m, 0.02, places=6)
        self.assertAlmostEqual(h, T975_DF9 * 0.01 * math.sqrt(10 / 9) / math.sqrt(10), places=6)
        # standard - tfidf-lr: +0.1 + N - 0.001 s at 1, -0.1 + N - 0.001 s at
        # 0.1; the per-seed mean is N - 0.001 s, over seeds 1-5.
        d = [NOISE[s - 1] - 0.001 * s for s in range(1, 6)]
        m, h, n = self.res.paired_all("supersense", "standard", "tfidf-lr", "test_acc")
        self.assertEqual(n, 5)
        self.assertAlmostEqual(m, sum(d) / 5, places=6)
        self.assertAlmostEqual(h, hand_half(d, T975_DF4), places=6)
        # matched has no fraction 0.1: no seed has every fraction.
        self.assertEqual(self.res.paired_all("supersense", "guided", "matched", "test_acc")[2], 0)

    def test_cpu_minutes(self):
        # Every synthetic row took 1 s; the repeated row is not counted.
        cpu = self.res.cpu_minutes()
        self.assertAlmostEqual(cpu["encoder"], 47 / 60, places=9)
        self.assertAlmostEqual(cpu["tfidf-lr"], 12 / 60, places=9)

    def test_missing_cells(self):
        self.assertEqual(self.res.cell("supersense", 0.1, "matched", "test_acc")[2], 0)
        self.assertEqual(self.res.paired("supersense", 0.1, "guided", "matched", "test_acc")[2], 0)
        self.assertEqual(report.fmt_cell(*self.res.cell("supersense", 0.1, "matched", "test_acc")),
                         report.DASH)
        self.assertEqual(self.res.best_pretrained("supersense", 1.0), "guided")
        self.assertIsNone(self.res.best_pretrained("nosuchtask", 1.0))

    def test_selection(self):
        sel = os.path.join(self.dir, "selection.txt")
        with open(sel, "w") as f:
            f.write("lr 3e-4\npool mean\n\npair_pool pair\n")
        out = os.path.join(self.dir, "sel.md")
        self.assertEqual(report.main(self.paths + ["--out", out, "--selection", sel]), 0)
        with open(out) as f:
            self.assertIn("Chosen on the validation split (%s): lr 3e-4, pool mean, "
                          "pair_pool pair.\n" % sel, f.read())
        with open(sel, "a") as f:
            f.write("p\n")
        with self.assertRaises(report.FormatError) as e:
            report.read_selection(sel)
        self.assertIn("selection.txt:5: expected", str(e.exception))

    def test_markdown(self):
        out = os.path.join(self.dir, "results.md")
        self.assertEqual(report.main(self.paths + ["--out", out]), 0)
        with open(out) as f:
            md = f.read()
        self.assertIn("59 rows (1 repeated", md)
        self.assertIn("seeds: 1\u201310, 12;", md)
        self.assertIn("| 1 | 0.7000 \u00b1 0.0136 (n=10) | 0.7200 \u00b1 ", md)
        # The matched column at fraction 0.1 is missing; standard - tfidf has n=5.
        guided = [0.52 + n + w for n, w in zip(NOISE, WOBBLE)]
        self.assertIn("| 0.1 | 0.5000 \u00b1 0.0136 (n=10) | 0.5200 \u00b1 %.4f (n=10) | \u2013 | "
                      % hand_half(guided, T975_DF9), md)
        self.assertIn("| standard \u2212 tfidf-lr | pretrained encoder vs bag of words | "
                      "**+0.0990 \u00b1 %.4f (n=5)** |"
                      % hand_half([0.10 + NOISE[s - 1] - 0.001 * s for s in range(1, 6)],
                                  T975_DF4), md)
        self.assertIn("| guided \u2212 standard | guided vs the uniform rate | "
                      "**+0.0200 \u00b1 0.0075 (n=10)** | **+0.0200 \u00b1 0.0075 (n=10)** |", md)
        self.assertIn("(n=7) | \u2013 |", md)
        self.assertIn("guided: **+0.1", md)
        self.assertIn("### Paired differences in test macro-F1", md)
        # Deterministic: a second run writes the same bytes.
        out2 = os.path.join(self.dir, "results2.md")
        report.main(self.paths + ["--out", out2])
        with open(out2) as f:
            self.assertEqual(f.read(), md)

    def test_figures_are_byte_stable(self):
        sites = os.path.join(self.dir, "sites.tsv")
        with open(sites, "w") as f:
            f.write("site\tname\tlayer\tkind\tscore\tscore_wo_ln\tp\n"
                    "0\tembeddings.dropout\t-1\tembeddings\t0.004\t0.006\t0\n")
            for layer in range(2):
                for k, kind in enumerate(report.SITE_KINDS):
                    f.write("%d\tx\t%d\t%s\t%g\t%g\t%g\n" % (1 + 3 * layer + k, layer, kind,
                                                           1e-5 * (k + 1), 5e-6 * (k + 1),
                                                           0.02 * (k + layer)))
        blobs = []
        for run in range(2):
            out = os.path.join(self.dir, "md%d" % run, "results.md")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            figs = os.path.join(self.dir, "md%d" % run, "figs")
            self.assertEqual(report.main(self.paths + ["--out", out, "--figures", figs,
                                                       "--sites", sites]), 0)
            with open(out) as f:
                md = f.read()
            self.assertIn("(figs/accuracy.svg)", md)
            self.assertIn("(figs/sites.svg)", md)
            self.assertIn("7 sites; plan rates 0 to 0.06, mean 0.02571", md)
            blob = []
            for name in ("accuracy.svg", "accuracy.png", "sites.svg", "sites.png"):
                with open(os.path.join(figs, name), "rb") as f:
                    blob.append(f.read())
            blobs.append(blob)
        for a, b in zip(*blobs):
            self.assertGreater(len(a), 1000)
            self.assertEqual(a, b)

    def test_bar(self):
        # At 0.1: standard 0.8 + N, TF-IDF 0.6, scratch 0.5: cleared.  At
        # 0.05: scratch within 0.005 +- 0.01 of standard: not cleared.  At
        # 0.5 (above the bar's fraction): not in the table.
        text = ""
        for s in SEEDS:
            std = 0.8 + NOISE[s - 1]
            text += row("supersense", 0.1, s, "standard", std)
            text += row("supersense", 0.1, s, "tfidf-lr", 0.6)
            text += row("supersense", 0.1, s, "scratch", 0.5)
            text += row("supersense", 0.05, s, "standard", std)
            text += row("supersense", 0.05, s, "tfidf-lr", 0.6)
            text += row("supersense", 0.05, s, "scratch", std - 0.005 + WOBBLE[s - 1])
            text += row("supersense", 0.5, s, "standard", std)
        path = os.path.join(self.dir, "bar.tsv")
        with open(path, "w") as f:
            f.write(HEADER + text)
        md = "\n".join(report.bar_section(report.Results([path])))
        half = hand_half([0.2 + n for n in NOISE], T975_DF9)
        self.assertIn("| supersense | 0.1 | **+0.2000 ± %.4f (n=10)** | **+0.3000 ± %.4f "
                      "(n=10)** | yes |" % (half, half), md)
        self.assertIn("| supersense | 0.05 | **+0.2000 ± %.4f (n=10)** | +0.0050 ± %.4f "
                      "(n=10) | no |" % (half, hand_half([0.005 - w for w in WOBBLE], T975_DF9)),
                      md)
        self.assertNotIn("| supersense | 0.5 |", md)
        self.assertIn("Cleared in 1 of 2 cells.", md)
        self.assertEqual(report.cleared(0.1, math.nan, 1), report.DASH)
        self.assertEqual(report.cleared(0.1, 0.1, 5), "no")
        self.assertEqual(report.cleared(0.1, 0.099, 5), "yes")

    def test_bad_rows_are_named(self):
        bad = os.path.join(self.dir, "bad.tsv")
        with open(bad, "w") as f:
            f.write(HEADER + "supersense\t1\t1\tstandard\n")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(report.main([bad, "--out", os.path.join(self.dir, "x.md")]), 1)
        self.assertIn("bad.tsv:2: expected 11", err.getvalue())


# ---- the baseline --------------------------------------------------------

WORDS = {"animal": "dog cat horse", "food": "bread cheese apple", "act": "run jump swim"}


def gloss(label, i):
    """The label's three words, rotated, around fixed filler: only the
    words carry the label (filler varying with i would correlate with it in
    a small subset), and every training row teaches all three."""
    w = WORDS[label].split()
    return "the %s %s of %s" % (w[i % 3], w[(i + 1) % 3], w[(i + 2) % 3])


def write_export(root, pair):
    """A task folder whose clean rows 0-23 are the only ones any subset uses;
    rows 24-71 carry the wrong labels, so training on anything but the
    subsets' rows cannot reach accuracy 1."""
    labels = sorted(WORDS)
    task = os.path.join(root, "toypair" if pair else "toy")
    os.makedirs(task)

    def line(label, i, wrong=False):
        text = gloss(labels[(labels.index(label) + 1) % 3] if wrong else label, i)
        if pair:
            # The label is whether text_b is an animal gloss; text_a is the
            # same everywhere, so only its own features can be learnt.
            y = "hypernym" if label == "animal" else "other"
            return "%s\tsome thing\t%s\n" % (y, text)
        return "%s\t%s\n" % (label, text)

    with open(os.path.join(task, "train.tsv"), "w") as f:
        for i in range(24):
            f.write(line(labels[i % 3], i))
        for i in range(48):
            f.write(line(labels[i % 3], i, wrong=True))
    for name in ("val", "test"):
        with open(os.path.join(task, name + ".tsv"), "w") as f:
            for i in range(12):
                f.write(line(labels[(i + 1) % 3], i + 5))
    subsets = {("0.5", 1): [3, 17, 0, 22, 8, 13, 5, 10, 19, 1, 14, 6],
               ("0.5", 2): [20, 2, 9, 15, 4, 23, 11, 16, 7, 18, 12, 21],
               ("0.25", 1): [3, 17, 0, 22, 8, 13],
               ("0.25", 2): [20, 2, 9, 15, 4, 22]}
    with open(os.path.join(task, "subsets.tsv"), "w") as f:
        f.write("fraction\tseed\tindices\n")
        for (frac, seed), idx in subsets.items():
            f.write("%s\t%d\t%s\n" % (frac, seed, ",".join(map(str, idx))))
    return subsets


def run_baseline(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return baseline_tfidf.main(argv)


class Baseline(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test_baseline.")
        self.export = os.path.join(self.dir, "export")
        self.subsets = {t: write_export(self.export, t == "toypair") for t in ("toy", "toypair")}

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_exact_subsets_and_accuracy_1(self):
        out = os.path.join(self.dir, "b.tsv")
        self.assertEqual(run_baseline([self.export, "--out", out]), 0)
        rows = read_results(out)
        self.assertEqual(len(rows), 8)
        for r in rows:
            idx = self.subsets[r["task"]][("%g" % r["fraction"], r["seed"])]
            self.assertEqual(r["n_train"], len(idx))
            self.assertEqual((r["regime"], r["steps"]), ("tfidf-lr", 0))
            self.assertEqual((r["val_acc"], r["test_acc"], r["test_f1"]), (1.0, 1.0, 1.0), r)
        # The subsets are read back exactly, in their order.
        got = baseline_tfidf.read_subsets(os.path.join(self.export, "toy", "subsets.tsv"), 72)
        self.assertEqual({(t, s): i for t, _, s, i in got}, self.subsets["toy"])

    def test_pair_features_see_shared_words(self):
        # The label is whether text_b repeats a word of text_a: every word is
        # as common in either class, so only features crossing the two texts
        # (the pair set's A * B) can learn it.
        rng = random.Random(7)
        words = ["w%d" % i for i in range(12)]

        def rows(n):
            labels, a_col, b_col = [], [], []
            for i in range(n):
                a = rng.sample(words, 3)
                rest = [w for w in words if w not in a]
                b = rng.sample(rest, 2) + [rng.choice(a)] if i % 2 else rng.sample(rest, 3)
                rng.shuffle(b)
                labels.append("shared" if i % 2 else "other")
                a_col.append(" ".join(a))
                b_col.append(" ".join(b))
            return labels, [a_col, b_col]
        train, val, test = rows(600), rows(100), rows(100)
        classes = ["other", "shared"]
        idx = list(range(600))
        va, _, ta, _, _, feats = baseline_tfidf.run_one(train, val, test, idx, classes)
        self.assertEqual(feats, "pair")
        self.assertGreaterEqual(min(va, ta), 0.95)
        _, _, ta, _, _, feats = baseline_tfidf.run_one(train, val, test, idx, classes,
                                                       features=("separate",))
        self.assertEqual(feats, "separate")
        self.assertLess(ta, 0.7)

    def test_the_poison_bites(self):
        # Training on every row (not a subset) must fail: the test above can.
        with open(os.path.join(self.export, "toy", "subsets.tsv"), "w") as f:
            f.write("fraction\tseed\tindices\n1\t1\t%s\n" % ",".join(map(str, range(72))))
        shutil.rmtree(os.path.join(self.export, "toypair"))
        out = os.path.join(self.dir, "b.tsv")
        self.assertEqual(run_baseline([self.export, "--out", out]), 0)
        self.assertLess(read_results(out)[0]["test_acc"], 0.5)

    def test_resume_seeds_and_determinism(self):
        a, b = os.path.join(self.dir, "a.tsv"), os.path.join(self.dir, "b.tsv")
        self.assertEqual(run_baseline([self.export, "--out", a, "--seeds", "1"]), 0)
        self.assertEqual({r["seed"] for r in read_results(a)}, {1})
        run_baseline([self.export, "--out", a])  # adds seed 2 only
        run_baseline([self.export, "--out", a])  # adds nothing
        run_baseline([self.export, "--out", b])
        ra, rb = read_results(a), read_results(b)
        self.assertEqual(len(ra), 8)

        def key(r):
            return {k: v for k, v in r.items() if k != "seconds"}
        self.assertEqual(sorted(map(str, map(key, ra))), sorted(map(str, map(key, rb))))

    def test_bad_subset_index_is_named(self):
        with open(os.path.join(self.export, "toy", "subsets.tsv"), "a") as f:
            f.write("0.1\t3\t1,72\n")
        out = os.path.join(self.dir, "c.tsv")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(run_baseline([self.export, "--out", out]), 1)
        self.assertIn("subsets.tsv:6: indices must be distinct rows of train.tsv", err.getvalue())
        self.assertFalse(os.path.exists(out))  # bad input leaves --out untouched


if __name__ == "__main__":
    unittest.main()
