#!/usr/bin/python3
"""Tests of report.py, select_rates.py and baseline_tfidf.py against hand
computations.

Run: /usr/bin/python3 test_report.py  (ctest: encoder_report).  Exits 77,
ctest's skip code, when a Debian package it needs is missing.
"""
import contextlib
import fcntl
import io
import math
import os
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # ctest runs it in the source tree: no __pycache__ there
sys.path.insert(0, HERE)
from _common import (COLUMNS, CURVE_HEADER, HEADER, FormatError, read_curves,  # noqa: E402
                     read_results, require)

require("numpy", "scipy", "sklearn", "matplotlib", status=77)
import baseline_tfidf  # noqa: E402
import report  # noqa: E402
import select_rates  # noqa: E402

T975_DF9 = 2.2621571627409915  # Student t 0.975 quantile, 9 degrees of freedom
T975_DF4 = 2.7764451051977987  # ... 4 degrees of freedom
TASK = "supersense"
SEEDS = range(1, 11)
# Per-seed noise shared by every cell (sums to 0: means are exact).
NOISE = (0.03, -0.02, 0.01, 0.0, -0.01, 0.02, -0.03, 0.015, -0.015, 0.0)
# A paired difference's own noise (sums to 0; sd 0.01 * sqrt(10 / 9)).
WOBBLE = (0.01, -0.01) * 5
PAIR_HALF = T975_DF9 * 0.01 * math.sqrt(10 / 9) / math.sqrt(10)  # half-width of c + WOBBLE


def hand_half(values, t):
    """The 95 % half-width written out: t * s / sqrt(n), s with n - 1."""
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return t * s / math.sqrt(n)


def c_rate(p):
    """A rate as the C driver writes it: a float's value with %.9g (0.1 ->
    0.100000001)."""
    return "%.9g" % struct.unpack("f", struct.pack("f", p))[0] if p else "0"


def row(frac, seed, regime, rate, test, val, f1=None, task=TASK, steps=300, best=150,
        loss=0.1, best_loss=0.2, config="c0ffee", rate_text=None):
    f1 = test - 0.1 if f1 is None else f1
    return "\t".join([
        task, "%g" % frac, str(seed), regime, rate_text or c_rate(rate), "0.0003", "100",
        str(steps), str(steps), str(best), "%.6f" % loss, "%.6f" % best_loss, "acc",
        "%.6f" % val, "%.6f" % (val - 0.1), "%.6f" % test, "%.6f" % f1, "1.0", config]) + "\n"


# The grid, per fraction: (regime, rate) -> (validation base, test base,
# whether the test score carries WOBBLE); every score also carries
# NOISE[seed].  Validation means pick, at 0.1: p_std 0.1 (0.63); guided 0.2
# ties none (0.60), so p_gd 0 (ties: the smaller rate) and p_gd+ 0.2.  At
# 0.02 standard 0.05 wins (0.44) instead.
GRID = {
    0.1: {("none", 0): (0.60, 0.70, False),
          ("standard", 0.05): (0.61, 0.65, False),
          ("standard", 0.1): (0.63, 0.71, True),
          ("standard", 0.2): (0.62, 0.65, False),
          ("standard", 0.3): (0.55, 0.65, False),
          ("guided", 0.1): (0.59, 0.65, False),
          ("guided", 0.2): (0.60, 0.72, False),
          ("guided", 0.3): (0.58, 0.65, False),
          ("gaussian", 0.1): (0.60, 0.69, False),
          ("matched", 0.2): (0.60, 0.70, True),
          ("reversed", 0.2): (0.60, 0.67, False),
          ("permuted", 0.2): (0.60, 0.68, False),
          ("kind", 0.2): (0.60, 0.66, False),
          ("scratch", 0.1): (0.40, 0.50, False),
          ("tfidf-lr", 0): (0.55, 0.60, False)},
    0.02: {("none", 0): (0.40, 0.50, False),
           ("standard", 0.05): (0.44, 0.53, False),
           ("standard", 0.1): (0.43, 0.45, False),
           ("standard", 0.2): (0.42, 0.45, False),
           ("standard", 0.3): (0.35, 0.45, False),
           ("guided", 0.1): (0.39, 0.45, False),
           ("guided", 0.2): (0.40, 0.52, False),
           ("guided", 0.3): (0.38, 0.45, False),
           ("gaussian", 0.05): (0.40, 0.49, False),
           ("matched", 0.2): (0.40, 0.50, True),
           ("scratch", 0.1): (0.20, 0.30, False),
           ("tfidf-lr", 0): (0.35, 0.40, False)},
}


def grid_rows(frac, regime, rate, **kw):
    val, test, wobble = GRID[frac][(regime, rate)]
    return "".join(row(frac, s, regime, rate, test + NOISE[s - 1] + (WOBBLE[s - 1] if wobble
                                                                     else 0.0),
                       val + NOISE[s - 1], **kw) for s in SEEDS)


def run_main(module, argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = module.main(argv)
    return status, err.getvalue()


# Curves: 8 evaluations; none's loss falls by a third over the last quarter
# (0.3 -> 0.2), standard 0.1's is flat there.
NONE_LOSSES = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2)
FLAT_LOSSES = (1.0, 0.8, 0.6, 0.5, 0.4, 0.5, 0.5, 0.5)


def curve_lines(regime, rate, seed, losses, frac=0.1):
    return "".join("%s\t%g\t%d\t%s\t%s\t%d\t%.6f\t%.6f\t0.0003\n" % (
        TASK, frac, seed, regime, c_rate(rate), 10 * (i + 1), loss, 0.5 + 0.01 * i)
        for i, loss in enumerate(losses))


class Synthetic(unittest.TestCase):
    """Two shards and a baseline file with known means, choices and
    differences (GRID); curves for none and standard 0.1 at fraction 0.1,
    seeds 1-3."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="test_report.")
        shard = ["", ""]
        for i, (frac, regime, rate) in enumerate(sorted(
                (f, g, p) for f, cells in GRID.items() for g, p in cells)):
            if regime != "tfidf-lr" and (frac, regime) != (0.1, "none"):
                shard[i % 2] += grid_rows(frac, regime, rate)
        # none at 0.1: training losses 0.1 s (mean 0.55); best steps: seeds 1
        # and 2 late (> 0.9 * 300), seed 3 on the boundary (not late).
        shard[0] += "".join(row(0.1, s, "none", 0, 0.70 + NOISE[s - 1], 0.60 + NOISE[s - 1],
                                loss=0.1 * s, best={1: 290, 2: 296, 3: 270}.get(s, 150))
                            for s in SEEDS)
        base = grid_rows(0.1, "tfidf-lr", 0, config="tfidf", steps=0, best=0) + \
            grid_rows(0.02, "tfidf-lr", 0, config="tfidf", steps=0, best=0)
        # Repeated rows (a shard run twice; the rate written another way)
        # must be counted once.
        base += row(0.1, 1, "standard", 0.1, 0.0, 0.0, rate_text="0.1", config="tfidf")
        cls.paths = []
        for name, text in (("r0.tsv", shard[0]), ("r1.tsv", shard[1]), ("base.tsv", base)):
            p = os.path.join(cls.dir, name)
            with open(p, "w") as f:
                f.write(HEADER + text)
            cls.paths.append(p)
        cls.curves = os.path.join(cls.dir, "curves.tsv")
        with open(cls.curves, "w") as f:
            f.write(CURVE_HEADER)
            # A rerun of seed 1's none: its lines come again; the last kept.
            f.write(curve_lines("none", 0, 1, (9.0,) * 8))
            for s in (1, 2, 3):
                f.write(curve_lines("none", 0, s, NONE_LOSSES))
                f.write(curve_lines("standard", 0.1, s, FLAT_LOSSES))
        cls.plan = os.path.join(cls.dir, "guided.plan")
        with open(cls.plan, "w") as f:
            # mean 0.15, max 0.3: guided at p_max q has mean rate q / 2.
            f.write("# gdropout plan, 4 sites: <index> <name or -> <score> <p>\n"
                    "0 a 1 0\n1 b 0.5 0.1\n2 c 0.1 0.2\n3 d 0.01 0.3\n")
        cls.res = report.Results(cls.paths, [cls.curves], (),
                                 report.plan_ratio(report.read_plan(cls.plan)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def md(self, *extra):
        out = os.path.join(self.dir, "results.md")
        status, err = run_main(report, self.paths + ["--out", out] + list(extra))
        self.assertEqual(status, 0, err)
        with open(out) as f:
            return f.read()

    def test_demo_page(self):
        """--demo: each cell at its own rate, and the paired differences of
        the first rate of each regime (guided 0.1: test 0.65; none 0.70;
        per-seed noise cancels in the pairs; 10 seeds)."""
        md = self.md("--demo", "--plan", self.plan)
        self.assertIn("## supersense, fraction 0.1 (100 training examples)", md)
        self.assertIn("| guided | 0.1 | 0.05 |", md)
        line = [ln for ln in md.splitlines() if ln.startswith("| guided \u2212 none")]
        self.assertEqual(len(line), 2, md)  # fractions 0.1 and 0.02
        self.assertIn("\u22120.0500 \u00b1 0.0000 (n=10)", line[0])
        self.assertNotIn("Rates chosen on validation", md)

    def test_counts(self):
        r = self.res
        n = sum(len(c) for c in GRID.values()) * 10
        self.assertEqual(r.rows, n)
        self.assertEqual(r.duplicates, 1)
        self.assertEqual(r.conflicts, [(TASK, 0.1, 1, "standard", 0.1)])
        self.assertEqual(r.seeds(), list(SEEDS))
        self.assertEqual(r.fractions(), [0.1, 0.02])
        self.assertEqual(r.regimes(), ["none", "standard", "gaussian", "guided", "matched",
                                       "reversed", "permuted", "kind", "scratch", "tfidf-lr"])
        self.assertEqual(r.configs, {"c0ffee": n - 20, "tfidf": 20})

    def test_selection(self):
        got = {k: c.rates for k, c in self.res.computed.items()}
        self.assertEqual(got, {
            (TASK, 0.02): {"p_std": 0.05, "p_gd": 0.0, "p_std_plus": 0.05, "p_gd_plus": 0.2},
            (TASK, 0.1): {"p_std": 0.1, "p_gd": 0.0, "p_std_plus": 0.1, "p_gd_plus": 0.2}})
        c = self.res.computed[(TASK, 0.1)]
        self.assertEqual(c.seeds, list(SEEDS))
        self.assertEqual(c.val[("none", 0.0)], 0.60)
        self.assertEqual(c.val[("guided", 0.2)], 0.60)  # the tie, exact
        self.assertAlmostEqual(c.val[("standard", 0.1)], 0.63, places=12)
        self.assertEqual(len(c.val), 8)  # none, 4 standard, 3 guided: nothing else

    def test_selection_file(self):
        out = os.path.join(self.dir, "sel.tsv")
        status, err = run_main(select_rates, self.paths + ["--out", out])
        self.assertEqual((status, err), (0, ""))
        with open(out) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[0].split("\t"), [
            "task", "fraction", "p_std", "p_gd", "p_std_plus", "p_gd_plus", "n_seeds",
            "val:none", "val:standard:0.05", "val:standard:0.1", "val:standard:0.2",
            "val:standard:0.3", "val:guided:0.1", "val:guided:0.2", "val:guided:0.3"])
        self.assertEqual(lines[1], "\t".join([TASK, "0.02", "0.05", "0", "0.05", "0.2", "10",
                                              "0.400000", "0.440000", "0.430000", "0.420000",
                                              "0.350000", "0.390000", "0.400000", "0.380000"]))
        self.assertEqual(lines[2].split("\t")[:7], [TASK, "0.1", "0.1", "0", "0.1", "0.2", "10"])
        self.assertEqual(lines[3:], [""])
        self.assertEqual(select_rates.read_selection(out), {
            (TASK, 0.02): {"p_std": 0.05, "p_gd": 0.0, "p_std_plus": 0.05, "p_gd_plus": 0.2,
                           "n_seeds": 10},
            (TASK, 0.1): {"p_std": 0.1, "p_gd": 0.0, "p_std_plus": 0.1, "p_gd_plus": 0.2,
                          "n_seeds": 10}})

    def test_selection_never_reads_test_columns(self):
        # The same rows with every test score scrambled: the same file.
        rng = random.Random(3)
        scrambled = []
        for i, path in enumerate(self.paths):
            with open(path) as f:
                lines = f.read().split("\n")
            for j in range(1, len(lines)):
                f = lines[j].split("\t")
                if len(f) == len(COLUMNS):
                    f[15], f[16] = "%.6f" % rng.random(), "%.6f" % rng.random()
                    lines[j] = "\t".join(f)
            scrambled.append(os.path.join(self.dir, "scrambled%d.tsv" % i))
            with open(scrambled[-1], "w") as f:
                f.write("\n".join(lines))
        outs = []
        for name, paths in (("a.tsv", self.paths), ("b.tsv", scrambled)):
            outs.append(os.path.join(self.dir, name))
            self.assertEqual(run_main(select_rates, paths + ["--out", outs[-1]])[0], 0)
        with open(outs[0]) as a, open(outs[1]) as b:
            self.assertEqual(a.read(), b.read())
        # ... while the validation column does move it.
        self.assertNotEqual(read_results(scrambled[0])[0]["test_acc"],
                            read_results(self.paths[0])[0]["test_acc"])

    def test_selection_uneven_seeds(self):
        # standard 0.1 at 0.1 without seed 1 (its noise +0.03): every
        # candidate's mean is then over seeds 2-10, and the choice holds.
        path = os.path.join(self.dir, "uneven.tsv")
        with open(path, "w") as f:
            f.write(HEADER + "".join(
                line for c in [("none", 0), ("standard", 0.05), ("standard", 0.1)]
                for line in grid_rows(0.1, *c).splitlines(True)
                if not (c == ("standard", 0.1) and line.split("\t")[2] == "1")))
        out = os.path.join(self.dir, "uneven-sel.tsv")
        status, err = run_main(select_rates, [path, "--out", out])
        self.assertEqual(status, 0)
        self.assertIn("warning: supersense 0.1: standard:0.1 lacks seed(s) 1; the means use "
                      "the 9 seeds every candidate has\n", err)
        self.assertEqual(err.count("warning"), 1)
        ch = select_rates.select(read_results(path))[0]
        self.assertEqual(ch.seeds, list(range(2, 11)))
        self.assertAlmostEqual(ch.val[("none", 0.0)], 0.60 - 0.03 / 9, places=12)
        self.assertEqual((ch.rates["p_std"], ch.rates["p_gd"]), (0.1, 0.0))
        self.assertTrue(math.isnan(ch.rates["p_gd_plus"]))

    def test_arms_resolve_to_the_chosen_rates(self):
        r = self.res
        self.assertEqual(r.resolve(TASK, 0.1, "standard@p_std"), ("standard", 0.1))
        self.assertEqual(r.resolve(TASK, 0.02, "standard@p_std"), ("standard", 0.05))
        self.assertEqual(r.resolve(TASK, 0.1, "guided@p_gd"), ("none", 0.0))
        self.assertEqual(r.resolve(TASK, 0.1, "guided@p_gd+"), ("guided", 0.2))
        self.assertEqual(r.resolve(TASK, 0.1, "matched"), ("matched", 0.2))
        self.assertEqual(r.resolve(TASK, 0.02, "gaussian"), ("gaussian", 0.05))
        # scratch has one rate (0.1), not p_std+ (0.05) at 0.02: its only one.
        self.assertEqual(r.resolve(TASK, 0.02, "scratch"), ("scratch", 0.1))
        self.assertIsNone(r.resolve(TASK, 0.02, "reversed"))
        self.assertEqual(r.resolve_pair(TASK, 0.1, "guided@same", "kind"),
                         (("guided", 0.2), ("kind", 0.2)))
        self.assertEqual(r.resolve_pair(TASK, 0.1, "gaussian", "standard@same"),
                         (("gaussian", 0.1), ("standard", 0.1)))
        self.assertAlmostEqual(r.plan_ratio, 0.5, places=12)
        self.assertAlmostEqual(r.mean_rate("guided", 0.2), 0.1, places=12)
        self.assertAlmostEqual(r.mean_rate("kind", 0.3), 0.15, places=12)
        self.assertEqual(r.mean_rate("standard", 0.2), 0.2)
        self.assertEqual(r.mean_rate("none", 0.0), 0.0)
        self.assertTrue(math.isnan(r.mean_rate("tfidf-lr", 0.0)))

    def test_means(self):
        m, h, n = self.res.cell(TASK, 0.1, "none", "test_acc")
        self.assertEqual(n, 10)
        self.assertAlmostEqual(m, 0.70, places=9)
        self.assertAlmostEqual(h, hand_half([0.70 + x for x in NOISE], T975_DF9), places=9)
        self.assertAlmostEqual(h, 0.0135938, places=6)  # by hand: sd 0.0190029
        m, h, n = self.res.cell(TASK, 0.1, "standard@p_std", "test_acc")
        self.assertAlmostEqual(m, 0.71, places=9)
        self.assertAlmostEqual(h, hand_half([0.71 + x + w for x, w in zip(NOISE, WOBBLE)],
                                            T975_DF9), places=9)
        self.assertAlmostEqual(self.res.cell(TASK, 0.02, "standard@p_std", "test_acc")[0], 0.53,
                               places=9)

    def test_paired_differences(self):
        cases = [  # (fraction, a, b, mean; WOBBLE in it or not)
            (0.1, "standard@p_std", "none", 0.01, True),
            (0.1, "guided@same", "matched", 0.02, True),
            (0.1, "guided@same", "reversed", 0.05, False),
            (0.1, "guided@same", "permuted", 0.04, False),
            (0.1, "guided@same", "kind", 0.06, False),
            (0.1, "gaussian", "standard@same", -0.02, True),
            (0.1, "guided@p_gd", "standard@p_std", -0.01, True),
            (0.1, "standard@p_std", "scratch", 0.21, True),
            (0.1, "standard@p_std", "tfidf-lr", 0.11, True),
            (0.02, "standard@p_std", "none", 0.03, False),
            (0.02, "guided@same", "matched", 0.02, True),
            (0.02, "gaussian", "standard@same", -0.04, False),
        ]
        for f, a, b, want, wobble in cases:
            m, h, n = self.res.paired(TASK, f, a, b, "test_acc")
            self.assertEqual(n, 10, (f, a, b))
            self.assertAlmostEqual(m, want, places=6, msg=(f, a, b))
            self.assertAlmostEqual(h, PAIR_HALF if wobble else 0.0, places=6, msg=(f, a, b))
        self.assertEqual(self.res.paired(TASK, 0.02, "guided@same", "kind", "test_acc")[2], 0)

    def test_headline(self):
        """--headline: the README's table, differences in points with their
        half-widths rounded to 0.1, bold where the interval excludes 0, and
        the count of guided-vs-dropout intervals that do."""
        out = os.path.join(self.dir, "headline.md")
        self.md("--plan", self.plan, "--headline", out)
        with open(out) as f:
            text = f.read()
        rows = {ln.split(" | ")[0].lstrip("| "): ln.split(" | ")[1:]
                for ln in text.splitlines() if ln.startswith("| ")}
        self.assertEqual(rows["test score, points (seeds)"][:2],
                         ["supersense 10 %", "supersense 2 % |"])
        half = "%.1f" % (100 * PAIR_HALF)
        self.assertEqual(rows["pretrained encoder \u2212 the same from scratch"][0],
                         "**+21.0 \u00b1 %s (10)**" % half)
        self.assertEqual(rows["guided \u2212 its mean rate at every site"][0],
                         "**+2.0 \u00b1 %s (10)**" % half)
        self.assertEqual(rows["guided \u2212 its rates reversed"][0], "**+5.0 \u00b1 0.0 (10)**")
        self.assertIn("supersense at 10 %: guided \u2212 its rates reversed", text)

    def test_paired_over_all_fractions(self):
        # standard@p_std - none: 0.01 + W at 0.1 (p 0.1), 0.03 at 0.02 (p
        # 0.05): each seed's mean 0.02 + W / 2.
        m, h, n = self.res.paired_all(TASK, "standard@p_std", "none", "test_acc")
        self.assertEqual(n, 10)
        self.assertAlmostEqual(m, 0.02, places=6)
        self.assertAlmostEqual(h, PAIR_HALF / 2, places=6)
        m, h, n = self.res.paired_all(TASK, "guided@same", "matched", "test_acc")
        self.assertAlmostEqual(m, 0.02, places=6)
        self.assertAlmostEqual(h, PAIR_HALF, places=6)
        # kind has no fraction 0.02: no seed has every fraction.
        self.assertEqual(self.res.paired_all(TASK, "guided@same", "kind", "test_acc")[2], 0)

    def test_convergence(self):
        # none at 0.1: best steps 290 and 295 of 300 are late, 270 (= 0.9 *
        # 300) is not; 3 of its 10 runs have curves, each -1/3 (seed 1's
        # rerun replaced its first lines).
        self.assertEqual(read_curves(self.curves)[(TASK, 0.1, 1, "none", 0.0)][80][0], 0.2)
        n, late, change, nc = self.res.convergence(TASK, 0.1, "none", 0.0)
        self.assertEqual((n, late, nc), (10, 2, 3))
        self.assertAlmostEqual(change, -1 / 3, places=9)
        n, late, change, nc = self.res.convergence(TASK, 0.1, "standard", 0.1)
        self.assertEqual((n, late, nc, change), (10, 0, 3, 0.0))
        self.assertEqual(self.res.convergence(TASK, 0.1, "tfidf-lr", 0.0)[0], 0)
        self.assertEqual(report.loss_change({1: (2.0, 0, 0), 2: (1.0, 0, 0)}), -0.5)
        self.assertTrue(math.isnan(report.loss_change({1: (2.0, 0, 0)})))

    def test_cpu_minutes(self):
        # Every synthetic row took 1 s; the repeated row is not counted.
        cpu = self.res.cpu_minutes()
        self.assertAlmostEqual(cpu["encoder"], (self.res.rows - 20) / 60, places=9)
        self.assertAlmostEqual(cpu["tfidf-lr"], 20 / 60, places=9)

    def test_markdown(self):
        md = self.md("--curves", self.curves, "--plan", self.plan)
        self.assertIn("%d rows (1 repeated (task, fraction, seed, regime, rate) rows ignored, "
                      "the first kept; 1 of them differed)" % self.res.rows, md)
        self.assertIn("seeds: 1\u201310;", md)
        self.assertIn("Plan (%s): 4 sites, rates 0 to 0.3, mean 0.15: guided (and each planned "
                      "control) at p_max q has mean rate 0.5 q." % self.plan, md)
        self.assertIn("(computed from these rows by select_rates.py; ties: the smaller rate)", md)
        self.assertIn("| 0.1 | 0.1 | 0 | 0.1 | 0.2 | 10 |", md)
        self.assertIn("| 0.02 | 0.05 | 0 | 0.05 | 0.2 | 10 |", md)
        # The per-fraction table: score, F1, val, losses, best step / steps.
        half = hand_half([0.70 + x for x in NOISE], T975_DF9)
        self.assertIn("| none | 0 | 0 | 0.7000 \u00b1 %.4f (n=10) | 0.6000 \u00b1 %.4f (n=10) | "
                      "0.6000 | 0.55 | 0.2 | 191 / 300 |" % (half, half), md)
        self.assertIn("| guided@p_gd = 0 (none) | 0 | 0 | 0.7000 \u00b1 ", md)
        self.assertIn("| guided@p_gd+ = 0.2 | 0.2 | 0.1 | 0.7200 \u00b1 %.4f (n=10) |" % half, md)
        self.assertIn("| matched 0.2 | 0.2 | 0.1 | 0.7000 \u00b1 ", md)
        self.assertIn("| tfidf-lr | 0 | \u2013 | 0.6000 \u00b1 %.4f (n=10) | 0.5000 \u00b1 %.4f "
                      "(n=10) | 0.5500 | \u2013 | \u2013 | \u2013 |" % (half, half), md)
        self.assertNotIn("standard@p_std+", md.split("### Paired")[0].split("fraction 0.1 (")[1])
        # Paired differences, per fraction and over all.
        self.assertIn("| standard@p_std \u2212 none | does tuned standard dropout help | "
                      "**+0.0100 \u00b1 %.4f (n=10)** | **+0.0300 \u00b1 0.0000 (n=10)** | "
                      "**+0.0200 \u00b1 %.4f (n=10)** |" % (PAIR_HALF, PAIR_HALF / 2), md)
        self.assertIn("| guided@p_gd \u2212 none | does tuned guided dropout help | 0 (one cell) "
                      "| 0 (one cell) | 0 (one cell) |", md)
        self.assertIn("| guided \u2212 kind (same rate) | where: the Fisher order within a kind "
                      "of site | **+0.0600 \u00b1 0.0000 (n=10)** | \u2013 | \u2013 |", md)
        self.assertIn("### Paired differences in test macro-F1", md)
        # Convergence.
        self.assertIn("| none | 0 | 2/10, \u221233.3 % (3) | 0/10 |", md)
        self.assertIn("| standard | 0.1 | 0/10, +0.0 % (3) | 0/10 |", md)
        # The bar: standard@p_std - tfidf-lr and - scratch at 0.1 and 0.02.
        self.assertIn("| supersense | 0.02 | **+0.1300 \u00b1 0.0000 (n=10)** | **+0.2300 \u00b1 "
                      "0.0000 (n=10)** | yes |", md)
        self.assertIn("Cleared in 2 of 2 cells.", md)
        # Deterministic: a second run writes the same bytes.
        self.assertEqual(self.md("--curves", self.curves, "--plan", self.plan), md)

    def test_selection_given_and_flagged(self):
        sel = os.path.join(self.dir, "given.tsv")
        with open(sel, "w") as f:
            f.write("task\tfraction\tp_std\tp_gd\tp_std_plus\tp_gd_plus\tn_seeds\n"
                    "supersense\t0.1\t0.2\t0.3\t0.2\t0.3\t3\n")
        settings = os.path.join(self.dir, "settings.txt")
        with open(settings, "w") as f:
            f.write("lr 3e-4\npool mean\n\npair_pool pair\n")
        md = self.md("--selection", sel, "--selection", settings)
        self.assertIn("Chosen on the validation split (%s): lr 3e-4, pool mean, pair_pool pair."
                      % settings, md)
        self.assertIn("| 0.1 | 0.2 | 0.3 | 0.2 | 0.3 | 3 |", md)
        self.assertIn("would choose otherwise: at 0.1, 10 seeds: p_std 0.1, p_gd 0, p_std_plus "
                      "0.1, p_gd_plus 0.2.", md)
        # Where the file has no line, the rows' own choice stands.
        self.assertIn("| 0.02 | 0.05 | 0 | 0.05 | 0.2 | 10 |", md)
        self.assertIn("| standard@p_std = 0.2 | 0.2 | 0.2 | 0.6500 \u00b1 ", md)
        with open(settings, "a") as f:
            f.write("p\n")
        status, err = run_main(report, self.paths + ["--out", os.path.join(self.dir, "x.md"),
                                                     "--selection", settings])
        self.assertEqual(status, 1)
        self.assertIn("settings.txt:5: expected", err)

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
        names = [n + e for n in ("accuracy", "rates", "curves", "sites") for e in (".svg", ".png")]
        for run in range(2):
            out = os.path.join(self.dir, "md%d" % run, "results.md")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            figs = os.path.join(self.dir, "md%d" % run, "figs")
            status, err = run_main(report, self.paths + [
                "--out", out, "--figures", figs, "--sites", sites, "--curves", self.curves])
            self.assertEqual(status, 0, err)
            with open(out) as f:
                md = f.read()
            for n in ("accuracy", "rates", "curves", "sites"):
                self.assertIn("(figs/%s.svg)" % n, md)
            # Without --plan, the site table's p column is the plan.
            self.assertIn("Plan (%s): 7 sites, rates 0 to 0.06, mean 0.02571: guided (and each "
                          "planned control) at p_max q has mean rate 0.4286 q." % sites, md)
            blob = []
            for name in names:
                with open(os.path.join(figs, name), "rb") as f:
                    blob.append(f.read())
            blobs.append(blob)
        for name, a, b in zip(names, *blobs):
            self.assertGreater(len(a), 1000, name)
            self.assertEqual(a, b, name)

    def test_bad_input_is_named(self):
        bad = os.path.join(self.dir, "bad.tsv")
        for text, want in ((HEADER + "supersense\t1\t1\tstandard\n", "bad.tsv:2: expected 19"),
                           ("task\tfraction\tseed\tregime\tn_train\n", "bad.tsv:1: not a results "
                            "TSV of this format"),
                           (HEADER + row(0.1, 1, "none", 0, 0.5, 0.5).replace("\tacc\t", "\tf\t"),
                            "bad.tsv:2: metric 'f'")):
            with open(bad, "w") as f:
                f.write(text)
            status, err = run_main(report, [bad, "--out", os.path.join(self.dir, "x.md")])
            self.assertEqual(status, 1)
            self.assertIn(want, err)
            self.assertEqual(run_main(select_rates, [bad, "--out", bad + ".sel"])[0], 1)
        with self.assertRaises(FormatError):
            read_curves(bad)  # a results file is not a curve file
        self.assertEqual(run_main(select_rates, [os.path.join(self.dir, "none.tsv"), "--out",
                                                 bad])[0], 1)

    def test_outputs_whole_or_untouched(self):
        # The report, the headline and the selection are written whole or
        # not at all (_common.write_text): a full disk (here a file-size
        # limit, SIGXFSZ ignored) or a FIFO at the path exits 1 naming it,
        # and leaves the previous file (they were written in place before,
        # a full disk ending in a traceback and a cut file).
        prev = "the previous page\n" * 8
        out, sel = os.path.join(self.dir, "keep.md"), os.path.join(self.dir, "keep.sel")
        for path in (out, sel):
            with open(path, "w") as f:
                f.write(prev)
        old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            resource.setrlimit(resource.RLIMIT_FSIZE, (100, old_limit[1]))
            report_status, report_err = run_main(report, self.paths + ["--out", out])
            sel_status, sel_err = run_main(select_rates, self.paths + ["--out", sel])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
            signal.signal(signal.SIGXFSZ, old_handler)
        self.assertEqual((report_status, sel_status), (1, 1))
        self.assertIn("keep.md: cannot write: File too large (the previous file", report_err)
        self.assertIn("keep.sel: cannot write: File too large", sel_err)
        for path in (out, sel):
            with open(path) as f:
                self.assertEqual(f.read(), prev)
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".tmp-")], [])
        fifo = os.path.join(self.dir, "fifo.md")
        os.mkfifo(fifo)
        status, err = run_main(report, self.paths + ["--out", fifo, "--headline", fifo])
        self.assertEqual(status, 1)
        self.assertIn("fifo.md: not a regular file", err)


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
            self.assertEqual((r["regime"], r["rate"], r["rate_s"], r["steps"], r["budget"],
                              r["best_step"], r["metric"], r["config"]),
                             ("tfidf-lr", 0.0, "0", 0, 0, 0, "acc", "tfidf"))
            self.assertIn(r["lr"], baseline_tfidf.C_GRID)  # the chosen C
            # The training log-loss of a model that fits its rows: above 0,
            # below the uniform guess's log(classes).
            self.assertEqual(r["train_loss"], r["best_train_loss"])
            self.assertGreater(r["train_loss"], 0.0)
            self.assertLess(r["train_loss"], math.log(2 if r["task"] == "toypair" else 3), r)
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
        va, _, ta, _, _, feats, _ = baseline_tfidf.run_one(train, val, test, idx, classes)
        self.assertEqual(feats, "pair")
        self.assertGreaterEqual(min(va, ta), 0.95)
        _, _, ta, _, _, feats, _ = baseline_tfidf.run_one(train, val, test, idx, classes,
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

    def baseline_err(self, argv):
        """(status, stderr) of a baseline run."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = run_baseline(argv)
        return status, err.getvalue()

    def assert_whole_rows(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.endswith(b"\n"), data[-80:])
        for line in data.decode().splitlines():
            self.assertEqual(len(line.split("\t")), 19, line)

    def test_torn_row_is_cut(self):
        # A crash mid-row left a fragment: the next run cuts it, names it and
        # reruns that cell (it used to fail on the fragment until cut by hand).
        out = os.path.join(self.dir, "t.tsv")
        self.assertEqual(run_baseline([self.export, "--out", out, "--seeds", "1"]), 0)
        with open(out, "a") as f:
            f.write("toy\t0.5\t2\ttfidf-lr\t0\t10")
        status, err = self.baseline_err([self.export, "--out", out])
        self.assertEqual(status, 0, err)
        self.assertRegex(err, r"t\.tsv:6: cutting a torn last line")
        self.assert_whole_rows(out)
        self.assertEqual(len(read_results(out)), 8)

    def test_full_disk_leaves_whole_rows(self):
        # A file-size limit (SIGXFSZ ignored: the write fails with EFBIG, as
        # ENOSPC on a full disk) a row and a half past the first seed's rows.
        out = os.path.join(self.dir, "f.tsv")
        self.assertEqual(run_baseline([self.export, "--out", out, "--seeds", "1"]), 0)
        size = os.path.getsize(out)
        row = size // 5  # the header and 4 rows
        old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + row + row // 2, old_limit[1]))
            status, err = self.baseline_err([self.export, "--out", out])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
            signal.signal(signal.SIGXFSZ, old_handler)
        self.assertEqual(status, 1)
        self.assertRegex(err, r"f\.tsv: append failed: File too large \(the file is back at its "
                              r"previous length\)")
        self.assert_whole_rows(out)
        self.assertEqual(len(read_results(out)), 5)
        self.assertEqual(run_baseline([self.export, "--out", out]), 0)
        self.assertEqual(len(read_results(out)), 8)

    def test_second_writer_is_refused(self):
        out = os.path.join(self.dir, "w.tsv")
        with open(out, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            status, err = self.baseline_err([self.export, "--out", out])
        self.assertEqual(status, 1)
        self.assertIn("w.tsv: another process is writing it", err)
        self.assertEqual(os.path.getsize(out), 0)

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
