#!/usr/bin/python3
"""Markdown (and figures) from the encoder experiment's results TSVs.

    report.py RESULTS.tsv [more.tsv ...] --out results.md
              [--curves curves.tsv ...] [--selection selection.tsv]
              [--plan guided.plan] [--sites fisher-sites.tsv]
              [--figures DIR] [--link-base DIR] [--headline FILE]

Reads every row of the given files (the C driver's shards and the TF-IDF
baseline's rows alike; a (task, fraction, seed, regime, rate) seen twice
keeps its first row, and a second reading is reported) and writes, per task:

  * the rates chosen on validation per fraction (select_rates.py: p_std and
    p_gd with 0 among the candidates, p_std+ and p_gd+ the best nonzero
    ones), from --selection or, without it, computed from the rows the same
    way (a --selection that the rows no longer give is flagged);
  * the rate sweep: every (regime, rate) cell's mean validation and test
    score, with its mean dropout rate;
  * per fraction, one line per arm (ARMS: a regime at its chosen rate):
    test score as mean +- the 95 % Student-t half-width over seeds (n
    seeds), test macro-F1 on a multi-class task, mean validation score,
    mean training loss at the last evaluation and at the best one, mean
    best step / steps run;
  * paired differences (PAIRS) per fraction and over all fractions (each
    seed's mean difference over the fractions, for the seeds with every
    fraction in both arms), 95 % t intervals over the seeds both arms have
    (arms at one seed share the subset, head, order and dropout streams);
  * the bar: at BAR_FRACTION and below, standard@p_std against both
    baselines (TF-IDF and the encoder from scratch);
  * convergence: per regime and fraction, how many runs had their best
    step in the last 10 % of the steps run, and the mean relative change of
    the training loss over the last quarter of the evaluations (--curves).

The mean dropout rate of a row: p for standard, gaussian and scratch; for
guided and the planned controls (matched, reversed, permuted, kind: the same
rates rearranged) p_max times the plan's mean rate over its maximum, the plan
read from --plan (or the p column of --sites); 0 for none.

With --figures DIR (SVG and PNG, no timestamps): accuracy (test score
against the fraction per arm), rates (test score against the mean dropout
rate: standard at every p, guided at every p_max, matched and the controls,
none at 0; per task and fraction; the chosen rates ringed), curves (with
--curves: validation score and training loss against the step for none,
standard@p_std+ and guided@p_gd+ at each task's smallest and largest
fraction, the first three seeds) and, with --sites, sites (Fisher score and
plan rate per site).  Missing cells show as an en dash.  The output has no
timestamps, so reruns on the same inputs are identical.
"""
import argparse
import math
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (FormatError, cell_key, open_text, read_curves, read_results, require,  # noqa
                     write_text)
import select_rates  # noqa: E402

require("numpy", "scipy")
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

DASH = "\u2013"
MINUS = "\u2212"
PM = "\u00b1"
# Display order; unknown tasks and regimes follow, sorted.
TASK_ORDER = ("supersense", "hypernymy")
REGIME_ORDER = ("none", "standard", "gaussian", "gaussian-paper", "guided", "matched",
                "reversed", "permuted", "kind", "scratch", "tfidf-lr")
PLANNED = ("guided", "matched", "reversed", "permuted", "kind")
UNIFORM = ("standard", "gaussian", "gaussian-paper", "scratch")  # rate = p at every site
# An arm: a regime at a rate chosen per (task, fraction): the selection's
# entry, or None for a regime without a rate.  Phase B's regimes fall back
# to their only rate in the rows when the selection's is not there.
ARMS = {
    "none": ("none", None),
    "standard@p_std": ("standard", "p_std"),
    "guided@p_gd": ("guided", "p_gd"),
    "standard@p_std+": ("standard", "p_std_plus"),
    "guided@p_gd+": ("guided", "p_gd_plus"),
    "gaussian": ("gaussian", "p_std_plus"),
    "gaussian-paper": ("gaussian-paper", "p_std_plus"),
    "matched": ("matched", "p_gd_plus"),
    "reversed": ("reversed", "p_gd_plus"),
    "permuted": ("permuted", "p_gd_plus"),
    "kind": ("kind", "p_gd_plus"),
    "scratch": ("scratch", "p_std_plus"),
    "tfidf-lr": ("tfidf-lr", None),
}
# The arms of the per-fraction tables, in order (a "+" arm only where the
# tuned rate is 0, and gaussian-paper only where it has rows).
MAIN_ARMS = ("none", "standard@p_std", "guided@p_gd", "standard@p_std+", "guided@p_gd+",
             "gaussian", "gaussian-paper", "matched", "reversed", "permuted", "kind", "scratch",
             "tfidf-lr")
# An arm "regime@same" in a pair is the regime at the other arm's rate (the
# controls are run at p_gd+, gaussian at p_std+: then these are guided@p_gd+
# and standard@p_std+, and they stay like for like where a cell fell back to
# another rate).
SAME = "@same"
# (a, b, why): the difference a - b.
PAIRS = (
    ("guided@p_gd", "standard@p_std", "both tuned on validation"),
    ("guided@same", "matched", "where: the plan vs its mean rate everywhere"),
    ("guided@same", "reversed", "where: the plan vs the plan reversed"),
    ("guided@same", "permuted", "where: the plan vs its rates permuted at random"),
    ("guided@same", "kind", "where: the Fisher order within a kind of site"),
    ("gaussian", "standard@same", "Gaussian vs Bernoulli at one rate"),
    ("standard@p_std", "none", "does tuned standard dropout help"),
    ("guided@p_gd", "none", "does tuned guided dropout help"),
    ("standard@p_std", "scratch", "what pretraining buys"),
    ("standard@p_std", "tfidf-lr", "pretrained encoder vs bag of words"),
)
# Macro-F1 gets its own tables where accuracy can hide a class (8 supersense
# classes); on the balanced binary task it follows accuracy.
BINARY_TASKS = ("hypernymy",)
# The bar a pretrained encoder must clear for its dropout comparison to mean
# something: ahead of both baselines at this fraction and below.
BAR_FRACTION = 0.1
BAR_ARM = "standard@p_std"
BASELINES = ("tfidf-lr", "scratch")
SITE_KINDS = ("attention.self", "attention.output", "output")
# Convergence: a best step after LATE of the steps run counts as late; the
# loss change is over the last QUARTER of a run's evaluations.
LATE = 0.9
QUARTER = 4
# The learning-curve figure: these arms, this many seeds.
CURVE_ARMS = ("none", "standard@p_std+", "guided@p_gd+")
CURVE_SEEDS = 3


def ordered(names, order):
    return [n for n in order if n in names] + sorted(set(names) - set(order))


def fmt_frac(f):
    return "%g" % f


def fmt_rate(p):
    return DASH if p is None or math.isnan(p) else "%g" % p


def seed_ranges(seeds):
    """1,2,3,5 -> '1-3, 5' (with en dashes): short but exact."""
    out, seeds = [], sorted(seeds)
    i = 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        out.append(str(seeds[i]) if i == j else "%d%s%d" % (seeds[i], DASH, seeds[j]))
        i = j + 1
    return ", ".join(out)


# ---- statistics ------------------------------------------------------------

def t_interval(values):
    """(mean, 95 % t half-width, n); the half-width is nan below two values
    and the mean is nan for none."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, 1
    half = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean()), float(half), n


def mean(values):
    return float(np.mean(values)) if len(values) else math.nan


def loss_change(curve):
    """The relative change of the training loss over the last quarter of a
    run's evaluations ({step: (train_loss, val, lr)}): with m evaluations
    and k = max(1, m // QUARTER), (L[m-1] - L[m-1-k]) / L[m-1-k]; nan
    with fewer than two evaluations or a zero loss to divide by."""
    losses = [curve[s][0] for s in sorted(curve)]
    m = len(losses)
    if m < 2:
        return math.nan
    k = max(1, m // QUARTER)
    before = losses[m - 1 - k]
    return (losses[-1] - before) / before if before else math.nan


def late_best(row):
    """Whether the run's best step lies in the last (1 - LATE) of its steps."""
    return row["best_step"] > LATE * row["steps"]


class Results:
    """Rows indexed as cells[task][fraction][(regime, rate)][seed] = row,
    with the learning curves, the plan's mean/max rate ratio and the rates
    chosen on validation per (task, fraction)."""

    def __init__(self, paths, curve_paths=(), selection_paths=(), plan_ratio=math.nan):
        self.sources = []    # (path, rows read)
        self.rows = 0        # distinct rows kept
        self.duplicates = 0
        self.conflicts = []  # keys seen twice with different test metrics
        self.configs = {}    # config digest: rows
        self.cells = {}
        self.kept = []
        seen = {}
        for path in paths:
            if not os.path.isfile(path):
                raise FormatError("%s: no such file" % path)
            rows = read_results(path)
            self.sources.append((path, len(rows)))
            for r in rows:
                k = cell_key(r)
                if k in seen:
                    self.duplicates += 1
                    if (seen[k]["test_acc"], seen[k]["test_f1"]) != (r["test_acc"], r["test_f1"]):
                        self.conflicts.append(k)
                    continue
                seen[k] = r
                self.kept.append(r)
                self.rows += 1
                self.configs[r["config"]] = self.configs.get(r["config"], 0) + 1
                (self.cells.setdefault(r["task"], {}).setdefault(r["fraction"], {})
                 .setdefault((r["regime"], r["rate"]), {})[r["seed"]]) = r
        self.curves, self.curve_sources = {}, []
        for path in curve_paths:
            if not os.path.isfile(path):
                raise FormatError("%s: no such file" % path)
            n = len(self.curves)
            read_curves(path, self.curves)
            self.curve_sources.append((path, len(self.curves) - n))
        self.plan_ratio = plan_ratio
        self.computed = {(c.task, c.fraction): c for c in select_rates.select(self.kept)}
        self.given = {}
        for path in selection_paths:
            self.given.update(select_rates.read_selection(path))
        self.sel = {k: c.rates for k, c in self.computed.items()}
        self.sel.update(self.given)

    # -- the grid

    def tasks(self):
        return ordered(self.cells, TASK_ORDER)

    def fractions(self, task=None):
        tasks = [task] if task else self.cells
        return sorted({f for t in tasks for f in self.cells[t]}, reverse=True)

    def regimes(self, task=None):
        tasks = [task] if task else self.cells
        return ordered({g for t in tasks for f in self.cells[t].values() for g, _ in f},
                       REGIME_ORDER)

    def cells_of(self, task):
        """Every (regime, rate) of a task, in display order."""
        cs = {c for f in self.cells[task].values() for c in f}
        return sorted(cs, key=lambda c: (self.regime_rank(c[0]), c[1]))

    def regime_rank(self, g):
        order = ordered(self.regimes(), REGIME_ORDER)
        return order.index(g) if g in order else len(order)

    def seeds(self):
        return sorted({s for t in self.cells.values() for f in t.values()
                       for g in f.values() for s in g})

    def runs(self, task, fraction, regime, rate):
        """{seed: row} of one cell (empty when missing)."""
        return self.cells.get(task, {}).get(fraction, {}).get((regime, rate), {})

    def rates(self, task, fraction, regime):
        return sorted(r for g, r in self.cells.get(task, {}).get(fraction, {}) if g == regime)

    def metric_label(self, task):
        """What val_acc and test_acc hold for the task's rows."""
        ms = {r["metric"] for f in self.cells[task].values() for c in f.values()
              for r in c.values()}
        return MINUS + "MSE" if "neg_mse" in ms else "accuracy"

    def n_train(self, task, fraction):
        ns = sorted({r["n_train"] for c in self.cells[task][fraction].values()
                     for r in c.values()})
        return ns

    # -- arms at their chosen rates

    def chosen(self, task, fraction, key):
        return self.sel.get((task, fraction), {}).get(key, math.nan)

    def resolve(self, task, fraction, arm):
        """(regime, rate) of an arm at (task, fraction), or None.  A tuned
        rate of 0 is the `none` cell; a regime of phase B whose selected
        rate has no rows takes its only rate, if it has one."""
        regime, key = ARMS[arm]
        if key is None:
            rates = self.rates(task, fraction, regime)
            return (regime, rates[0] if len(rates) == 1 else 0.0)
        p = self.chosen(task, fraction, key)
        if regime in ("standard", "guided") and p == 0:
            return ("none", 0.0)
        rates = self.rates(task, fraction, regime)
        if p in rates or (regime in ("standard", "guided") and not math.isnan(p)):
            return (regime, p)
        return (regime, rates[0]) if len(rates) == 1 else None

    def arm_runs(self, task, fraction, arm):
        c = self.resolve(task, fraction, arm)
        return self.runs(task, fraction, *c) if c else {}

    def mean_rate(self, regime, rate):
        if regime == "none":
            return 0.0
        if regime in PLANNED:
            return rate * self.plan_ratio
        if regime in UNIFORM:
            return rate
        return math.nan

    def cell(self, task, fraction, arm, metric):
        runs = self.arm_runs(task, fraction, arm)
        return t_interval([runs[s][metric] for s in sorted(runs)])

    def resolve_pair(self, task, fraction, a, b):
        """The cells ((regime, rate) or None) of the arms a and b, either of
        them possibly "regime@same" (see SAME)."""
        ca = None if a.endswith(SAME) else self.resolve(task, fraction, a)
        cb = None if b.endswith(SAME) else self.resolve(task, fraction, b)
        if a.endswith(SAME) and cb:
            ca = (a[:-len(SAME)], cb[1])
        if b.endswith(SAME) and ca:
            cb = (b[:-len(SAME)], ca[1])
        return ca, cb

    def pair_runs(self, task, fraction, a, b):
        ca, cb = self.resolve_pair(task, fraction, a, b)
        return (self.runs(task, fraction, *ca) if ca else {},
                self.runs(task, fraction, *cb) if cb else {})

    def paired(self, task, fraction, a, b, metric):
        """(mean, half-width, n) of a - b over the seeds both arms have."""
        ra, rb = self.pair_runs(task, fraction, a, b)
        common = sorted(set(ra) & set(rb))
        return t_interval([ra[s][metric] - rb[s][metric] for s in common])

    def paired_all(self, task, a, b, metric):
        """(mean, half-width, n) over seeds of each seed's mean a - b over
        all the task's fractions; seeds missing a fraction in either arm are
        left out."""
        per_seed = []
        fracs = self.fractions(task)
        arms = [self.pair_runs(task, f, a, b) for f in fracs]
        for s in self.seeds():
            if all(s in ra and s in rb for ra, rb in arms):
                per_seed.append(mean([ra[s][metric] - rb[s][metric] for ra, rb in arms]))
        return t_interval(per_seed)

    def convergence(self, task, fraction, regime, rate):
        """(runs, runs with a late best step, mean loss change over the runs
        with curves, how many had curves) of a cell."""
        runs = self.runs(task, fraction, regime, rate)
        rows = [runs[s] for s in sorted(runs) if runs[s]["steps"] > 0]
        changes = [loss_change(self.curves[cell_key(r)]) for r in rows
                   if cell_key(r) in self.curves]
        changes = [c for c in changes if not math.isnan(c)]
        return len(rows), sum(map(late_best, rows)), mean(changes), len(changes)

    def cpu_minutes(self):
        """{kind: summed run seconds / 60}: the C driver's runs and the
        baseline's, over the rows kept."""
        out = {}
        for r in self.kept:
            kind = "tfidf-lr" if r["regime"] == "tfidf-lr" else "encoder"
            out[kind] = out.get(kind, 0.0) + r["seconds"]
        return {k: v / 60 for k, v in out.items()}


# ---- markdown --------------------------------------------------------------

def fmt_num(v, fmt="%.4f", signed=False):
    if v is None or math.isnan(v):
        return DASH
    return ((("%+" + fmt[1:]) if signed else fmt) % v).replace("-", MINUS)


def fmt_cell(mean_, half, n, signed=False):
    if n == 0:
        return DASH
    num = fmt_num(mean_, signed=signed)
    if math.isnan(half):
        return "%s (n=%d)" % (num, n)
    text = "%s %s %.4f (n=%d)" % (num, PM, half, n)
    # Bold: the 95 % interval excludes 0 (only meaningful for differences).
    if signed and abs(mean_) > half:
        text = "**%s**" % text
    return text


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def arm_label(res, task, fraction, arm):
    """The arm with the rate it resolved to: 'guided@p_gd = 0.2'."""
    c = res.resolve(task, fraction, arm)
    if ARMS[arm][1] is None or c is None:
        return arm
    if c[0] != ARMS[arm][0]:
        return "%s = 0 (none)" % arm
    return "%s = %g" % (arm, c[1]) if "@" in arm else "%s %g" % (arm, c[1])


def shown_arms(res, task, fraction):
    """MAIN_ARMS as the per-fraction table shows them (see MAIN_ARMS)."""
    out = []
    for arm in MAIN_ARMS:
        if arm.endswith("+"):
            tuned = arm[:-1]
            if res.resolve(task, fraction, tuned) == res.resolve(task, fraction, arm) or \
                    not res.arm_runs(task, fraction, arm):
                continue
        if arm == "gaussian-paper" and not res.arm_runs(task, fraction, arm):
            continue
        out.append(arm)
    return out


def fraction_table(res, task, fraction):
    metric = res.metric_label(task)
    f1 = task not in BINARY_TASKS and metric == "accuracy"
    header = ["arm", "rate", "mean rate", "test " + metric] + (["test macro-F1"] if f1 else [])
    header += ["val " + metric, "train loss", "best-state train loss", "best step / steps"]
    rows = []
    for arm in shown_arms(res, task, fraction):
        c = res.resolve(task, fraction, arm)
        runs = res.arm_runs(task, fraction, arm)
        rs = [runs[s] for s in sorted(runs)]
        line = [arm_label(res, task, fraction, arm),
                fmt_rate(c[1]) if c else DASH,
                fmt_num(res.mean_rate(*c), "%.4g") if c else DASH,
                fmt_cell(*res.cell(task, fraction, arm, "test_acc"))]
        if f1:
            line.append(fmt_cell(*res.cell(task, fraction, arm, "test_f1")))
        encoder = [r for r in rs if r["steps"] > 0]
        line += [fmt_num(mean([r["val_acc"] for r in rs])),
                 fmt_num(mean([r["train_loss"] for r in encoder]), "%.4g"),
                 fmt_num(mean([r["best_train_loss"] for r in encoder]), "%.4g"),
                 ("%.0f / %.0f" % (mean([r["best_step"] for r in encoder]),
                                   mean([r["steps"] for r in encoder]))) if encoder else DASH]
        rows.append(line)
    ns = res.n_train(task, fraction)
    n_text = str(ns[0]) if len(ns) == 1 else "%d%s%d" % (ns[0], DASH, ns[-1])
    return ["### %s, fraction %s (%s training examples)" % (task, fmt_frac(fraction), n_text),
            ""] + table(header, rows) + [""]


def selection_section(res, task):
    fracs = res.fractions(task)
    lines = ["### Rates chosen on validation", ""]
    rows, flagged = [], []
    for f in fracs:
        got = res.sel.get((task, f))
        comp = res.computed.get((task, f))
        if got is None:
            rows.append([fmt_frac(f)] + [DASH] * 5)
            continue
        cells = [fmt_rate(got[k]) for k in select_rates.CHOICES]
        if (task, f) in res.given and comp is not None and any(
                not (got[k] == comp.rates[k] or math.isnan(got[k]) and math.isnan(comp.rates[k]))
                for k in select_rates.CHOICES):
            flagged.append("%s, %d seeds: %s" % (fmt_frac(f), len(comp.seeds), ", ".join(
                "%s %s" % (k, fmt_rate(comp.rates[k])) for k in select_rates.CHOICES)))
        n = got.get("n_seeds") if (task, f) in res.given else len(comp.seeds)
        rows.append([fmt_frac(f)] + cells + [DASH if n is None else str(n)])
    src = "the selection file" if any((task, f) in res.given for f in fracs) else \
        "computed from these rows by select_rates.py"
    lines += ["From the mean validation %s of phase A over the seeds every candidate has "
              "(%s; ties: the smaller rate)." % (res.metric_label(task), src), ""]
    lines += table(["fraction", "p_std", "p_gd", "p_std+", "p_gd+", "seeds"], rows) + [""]
    if flagged:
        lines += ["The same procedure on the rows read here (all their seeds, and the rates "
                  "beyond the sweep's edge where they ran) would choose otherwise: at "
                  + "; ".join(flagged) + ".", ""]
    return lines


def sweep_section(res, task):
    """Every (regime, rate) cell: mean validation / test score (n seeds)."""
    fracs = res.fractions(task)
    metric = res.metric_label(task)
    rows = []
    for g, p in res.cells_of(task):
        if g == "tfidf-lr":
            continue
        line = [g, fmt_rate(p), fmt_num(res.mean_rate(g, p), "%.4g")]
        for f in fracs:
            runs = res.runs(task, f, g, p)
            if not runs:
                line.append(DASH)
                continue
            rs = [runs[s] for s in sorted(runs)]
            line.append("%s / %s (%d)" % (fmt_num(mean([r["val_acc"] for r in rs])),
                                          fmt_num(mean([r["test_acc"] for r in rs])), len(rs)))
        rows.append(line)
    return (["### Every cell: mean validation / test %s (seeds)" % metric, ""]
            + table(["regime", "rate", "mean rate"] + [fmt_frac(f) for f in fracs], rows)
            + [""])


SAME_CELL = "0 (one cell)"


def pair_label(a, b):
    if a.endswith(SAME):
        return "%s %s %s (same rate)" % (a[:-len(SAME)], MINUS, b)
    if b.endswith(SAME):
        return "%s %s %s (same rate)" % (a, MINUS, b[:-len(SAME)])
    return "%s %s %s" % (a, MINUS, b)


def pairs_section(res, task):
    fracs = res.fractions(task)
    metric = res.metric_label(task)
    metrics = [("test_acc", "test " + metric)]
    if task not in BINARY_TASKS and metric == "accuracy":
        metrics.append(("test_f1", "test macro-F1"))
    lines = []
    for m, title in metrics:
        lines += ["### Paired differences in %s" % title, "",
                  "a %s b over the seeds both arms have (n), each arm at its rate for the "
                  "fraction (above; \"same rate\": at the other arm's); **bold**: the 95 %% t "
                  "interval excludes 0; \"%s\": both arms are the same rows (a tuned rate of "
                  "0 is none)." % (MINUS, SAME_CELL), ""]
        rows = []
        for a, b, why in PAIRS:
            cells = []
            for f in fracs:
                ca, cb = res.resolve_pair(task, f, a, b)
                # One cell on both sides (a tuned rate of 0 against none):
                # the difference is 0 by construction, not a measurement.
                cells.append(SAME_CELL if ca and ca == cb else
                             fmt_cell(*res.paired(task, f, a, b, m), signed=True))
            cells.append(SAME_CELL if cells.count(SAME_CELL) == len(fracs) else
                         fmt_cell(*res.paired_all(task, a, b, m), signed=True))
            rows.append([pair_label(a, b), why] + cells)
        lines += table(["difference", "why"] + [fmt_frac(f) for f in fracs] + ["all fractions"],
                       rows) + [""]
    return lines


def convergence_section(res, task):
    fracs = res.fractions(task)
    rows = []
    for g, p in res.cells_of(task):
        cells = []
        for f in fracs:
            n, late, change, nc = res.convergence(task, f, g, p)
            if n == 0:
                cells.append(DASH)
                continue
            text = "%d/%d" % (late, n)
            if nc:
                text += ", %s %%" % fmt_num(100 * change, "%.1f", signed=True)
                if nc != n:
                    text += " (%d)" % nc
            cells.append(text)
        if any(c != DASH for c in cells):
            rows.append([g, fmt_rate(p)] + cells)
    if not rows:
        return []
    return (["### Convergence", "",
             "Per cell: runs whose best validation step lies "
             "in the last %d %% of the steps run / runs; and the mean relative change of the "
             "training loss over the last quarter of each run's evaluations (from the curves; "
             "in brackets the runs that had curves, where fewer).  Near 0: the loss had "
             "levelled off." % round(100 * (1 - LATE)), ""]
            + table(["regime", "rate"] + [fmt_frac(f) for f in fracs], rows) + [""])


def task_section(res, task):
    lines = ["## %s" % task, ""]
    lines += selection_section(res, task)
    for f in res.fractions(task):
        lines += fraction_table(res, task, f)
    lines += pairs_section(res, task)
    lines += convergence_section(res, task)
    lines += sweep_section(res, task)
    return lines


def cleared(mean_, half, n):
    """'yes' when the 95 % interval lies above 0, 'no' when it does not,
    a dash without two seeds."""
    if n < 2 or math.isnan(half):
        return DASH
    return "yes" if mean_ - half > 0 else "no"


def bar_section(res):
    """Per task and fraction at BAR_FRACTION and below: BAR_ARM minus each
    baseline, paired by seed, and whether both intervals lie above 0."""
    lines = ["## The bar: the pretrained encoder against both baselines", "",
             "At %g %% of the training pool and below, %s %s each baseline, test score "
             "paired by seed; cleared when both 95 %% intervals lie above 0."
             % (100 * BAR_FRACTION, BAR_ARM, MINUS), ""]
    rows, n_cells, n_yes = [], 0, 0
    for task in res.tasks():
        for f in res.fractions(task):
            if f > BAR_FRACTION:
                continue
            diffs = [res.paired(task, f, BAR_ARM, b, "test_acc") for b in BASELINES]
            verdicts = [cleared(*d) for d in diffs]
            ok = DASH if DASH in verdicts else ("yes" if verdicts == ["yes"] * len(diffs)
                                               else "no")
            n_cells += ok != DASH
            n_yes += ok == "yes"
            rows.append([task, fmt_frac(f)] + [fmt_cell(*d, signed=True) for d in diffs] + [ok])
    if not rows:
        return []
    lines += table(["task", "fraction"] + ["%s %s %s" % (BAR_ARM, MINUS, b)
                                           for b in BASELINES] + ["cleared"], rows)
    lines += ["", "Cleared in %d of %d cells." % (n_yes, n_cells), ""]
    return lines


# The README's summary (--headline): (a, b, label) per row, in points.
HEADLINE = (
    ("standard@p_std", "scratch", "pretrained encoder \u2212 the same from scratch"),
    ("standard@p_std", "tfidf-lr", "pretrained encoder \u2212 TF-IDF + logistic regression"),
    ("guided@p_gd", "standard@p_std", "guided \u2212 standard, each rate chosen on validation"),
    ("guided@p_gd", "none", "guided \u2212 no dropout"),
    ("guided@same", "matched", "guided \u2212 its mean rate at every site"),
    ("guided@same", "permuted", "guided \u2212 its rates at random sites"),
    ("guided@same", "reversed", "guided \u2212 its rates reversed"),
)
# Rows of HEADLINE from this one on compare guided with other dropout.
HEADLINE_DROPOUT = 2


def points(mean_, half, n):
    """A paired difference in points: '+0.3 ± 0.6 (8)', bold when the 95 %
    interval excludes 0."""
    if n == 0:
        return DASH
    text = fmt_num(100 * mean_, "%.1f", signed=True)
    if math.isnan(half):
        return "%s (%d)" % (text, n)
    text = "%s %s %.1f (%d)" % (text, PM, 100 * half, n)
    return "**%s**" % text if abs(mean_) > half else text


def headline_lines(res):
    """The README's table: HEADLINE's differences in test score, in points,
    per task and fraction, and a count of the dropout comparisons whose
    interval excludes 0."""
    cols = [(t, f) for t in res.tasks() for f in res.fractions(t)]
    rows, n_cmp, hits = [], 0, []
    for i, (a, b, label) in enumerate(HEADLINE):
        cells = []
        for t, f in cols:
            ca, cb = res.resolve_pair(t, f, a, b)
            if ca and ca == cb:
                cells.append("0 (both none)")
                continue
            d = res.paired(t, f, a, b, "test_acc")
            cells.append(points(*d))
            if i >= HEADLINE_DROPOUT and d[2] >= 2:
                n_cmp += 1
                if abs(d[0]) > d[1]:
                    hits.append("%s at %s %%: %s" % (t, fmt_num(100 * f, "%g"), label))
        rows.append([label] + cells)
    header = ["test score, points (seeds)"] + ["%s %s %%" % (t, fmt_num(100 * f, "%g"))
                                               for t, f in cols]
    lines = table(header, rows) + [""]
    lines.append("Differences paired by seed, mean %s 95 %% t half-width; **bold**: the "
                 "interval excludes 0.  Of the %d intervals comparing guided with other "
                 "dropout, %d exclude%s 0%s." % (PM, n_cmp, len(hits),
                                                 "s" if len(hits) == 1 else "",
                                                 (": " + "; ".join(hits)) if hits else ""))
    return lines


def read_settings(path):
    """Other choices made on validation (run-experiment.sh's selection.txt):
    lines "name value", as [(name, value)] in file order."""
    out = []
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise FormatError("%s:%d: expected \"name value\", got %r"
                                  % (path, lineno, line.rstrip("\n")))
            out.append((fields[0], fields[1]))
    return out


def header_lines(res, figure_note, settings=(), plan_text=None):
    lines = ["# Encoder experiment results", ""]
    lines.append("Sources: " + ", ".join("%s (%d rows)" % s for s in res.sources) + ".")
    if res.curve_sources:
        lines += ["", "Learning curves: " + ", ".join("%s (%d runs)" % s
                                                      for s in res.curve_sources) + "."]
    for path, kv in settings:
        lines += ["", "Chosen on the validation split (%s): %s." % (
            path, ", ".join("%s %s" % p for p in kv))]
    dup = ""
    if res.duplicates:
        dup = " (%d repeated (task, fraction, seed, regime, rate) rows ignored, the first " \
              "kept%s)" % (res.duplicates, "; %d of them differed" % len(res.conflicts)
                           if res.conflicts else "")
    lines += ["", "%d rows%s; tasks: %s; seeds: %s; regimes: %s; fractions: %s." % (
        res.rows, dup, ", ".join(res.tasks()) or DASH, seed_ranges(res.seeds()) or DASH,
        ", ".join(res.regimes()) or DASH, ", ".join(fmt_frac(f) for f in res.fractions()) or DASH)]
    lines += ["", "Settings digests (config): " + ", ".join(
        "%s (%d rows)" % (c, res.configs[c]) for c in sorted(res.configs)) + "."]
    if plan_text:
        lines += ["", plan_text]
    lines += ["", "Cells: mean %s 95 %% Student-t half-width over seeds (n seeds); %s: no rows; "
              "no %s: one seed.  An arm is a regime at the rate chosen on validation for its "
              "task and fraction: standard@p_std and guided@p_gd with 0 (= none) among the "
              "candidates, standard@p_std+ and guided@p_gd+ the best nonzero ones; gaussian "
              "and scratch run at p_std+, matched, reversed, permuted and kind at p_gd+.  "
              "rate: p, or p_max for guided and the planned controls; mean rate: the mean "
              "over the sites.  Paired differences use only the seeds present in both arms "
              "(arms at one seed share the subset, head initialisation, example order and "
              "dropout streams); \"all fractions\" is each seed's mean difference over the "
              "fractions (seeds with every fraction).  Losses are the training loss (with "
              "dropout) averaged over the steps before the last evaluation and before the "
              "best one." % (PM, DASH, PM)]
    cpu = res.cpu_minutes()
    if cpu:
        lines += ["", "Compute: %s (the sum of the rows' `seconds`, one core each)." % ", ".join(
            "%s runs %.0f CPU-minutes" % (k, cpu[k]) for k in sorted(cpu))]
    lines += [""] + figure_note
    return lines


# ---- the plan and the site table --------------------------------------------

def read_plan(path):
    """The rates of a plan file (`# comment` lines, then "index name score
    p" a site)."""
    rates = []
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 4:
                    raise ValueError("expected \"index name score p\"")
                rates.append(float(fields[3]))
            except ValueError as e:
                raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
    if not rates or max(rates) <= 0:
        raise FormatError("%s: no site with a positive rate" % path)
    return rates


def read_sites(path):
    """Rows of `encoder fisher`'s site table as dicts."""
    need = ("site", "name", "layer", "kind", "score", "score_wo_ln", "p")
    sites = []
    with open_text(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        if tuple(head) != need:
            raise FormatError("%s:1: expected the header %s" % (path, " ".join(need)))
        for lineno, line in enumerate(f, 2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(need):
                raise FormatError("%s:%d: expected %d fields" % (path, lineno, len(need)))
            s = dict(zip(need, fields))
            try:
                s["layer"] = int(s["layer"])
                for k in ("score", "score_wo_ln", "p"):
                    s[k] = float(s[k])
            except ValueError as e:
                raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
            sites.append(s)
    if not sites:
        raise FormatError("%s: no sites" % path)
    return sites


def plan_ratio(rates):
    """What turns a p_max into a mean rate: the plan's mean rate over its
    maximum (the plan is linear in p_max, p_min 0)."""
    return float(np.mean(rates)) / max(rates)


def plan_note(rates, path):
    """The ratio and a sentence on the plan's rates."""
    ratio = plan_ratio(rates)
    return ratio, ("Plan (%s): %d sites, rates %.4g to %.4g, mean %.4g: guided (and each "
                   "planned control) at p_max q has mean rate %.4g q." % (
                       path, len(rates), min(rates), max(rates), float(np.mean(rates)), ratio))


def sites_section(sites, path, figure):
    lines = ["## Dropout sites", "", "Site table: %s (%d sites)." % (path, len(sites)), ""]
    if figure:
        lines += ["![Fisher score by layer and kind, and the plan's rate per site](%s)"
                  % figure, ""]
    return lines


# ---- figures ---------------------------------------------------------------

def setup_matplotlib():
    require("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # Fixed fonts and sizes, and a fixed SVG id salt, so reruns are
    # byte-identical as far as matplotlib allows.
    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
        "legend.fontsize": 8, "figure.dpi": 100, "savefig.dpi": 100,
        "svg.hashsalt": "gdropout-encoder-report", "svg.fonttype": "path",
        "path.simplify": False,
    })
    return plt


def save(plt, fig, stem):
    fig.savefig(stem + ".svg", metadata={"Date": None})
    fig.savefig(stem + ".png", metadata={"Software": None})
    plt.close(fig)


def panel_grid(plt, nrows, ncols, w, h):
    return plt.subplots(max(nrows, 1), max(ncols, 1), figsize=(w * max(ncols, 1),
                                                               h * max(nrows, 1)), squeeze=False)


FIGURE_ARMS = ("none", "standard@p_std", "guided@p_gd", "gaussian", "matched", "reversed",
               "permuted", "kind", "scratch", "tfidf-lr")


def accuracy_figure(plt, res, stem):
    tasks = res.tasks()
    fig, axes = panel_grid(plt, 1, len(tasks), 5.2, 4.0)
    arms = [a for a in FIGURE_ARMS if any(res.arm_runs(t, f, a) for t in tasks
                                          for f in res.fractions(t))]
    for ax, task in zip(axes[0], tasks):
        fracs = res.fractions(task)
        for i, arm in enumerate(arms):
            # Arms side by side around each fraction so bars do not overlap.
            shift = 1.0 + 0.015 * (i - (len(arms) - 1) / 2)
            pts = [(f * shift,) + res.cell(task, f, arm, "test_acc")[:2] for f in fracs
                   if res.arm_runs(task, f, arm)]
            if not pts:
                continue
            x, m, h = (np.array(v) for v in zip(*pts))
            ax.errorbar(x, m, yerr=np.nan_to_num(h), marker="o", markersize=3.5, capsize=2.5,
                        linewidth=1.0, label=arm, color="C%d" % (i % 10))
        ax.set_xscale("log")
        ax.set_xticks(fracs)
        ax.set_xticklabels([fmt_frac(f) for f in fracs])
        ax.minorticks_off()
        ax.set_xlabel("training fraction (of the pool)")
        ax.set_ylabel("test %s (mean, 95 %% t CI over seeds)" % res.metric_label(task))
        ax.set_title("%s: each arm at its chosen rate" % task)
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="best", framealpha=0.8)
    fig.tight_layout()
    save(plt, fig, stem)


def rate_points(res, task, f, regime):
    """[(mean rate, mean, half)] of every rate of a regime, with `none` at
    0 for standard and guided."""
    cells = [(regime, p) for p in res.rates(task, f, regime)]
    if regime in ("standard", "guided"):
        cells = [("none", 0.0)] + cells
    pts = []
    for g, p in cells:
        runs = res.runs(task, f, g, p)
        x = res.mean_rate(g, p)
        if runs and not math.isnan(x):
            m, h, _ = t_interval([runs[s]["test_acc"] for s in sorted(runs)])
            pts.append((x, m, 0.0 if math.isnan(h) else h))
    return pts


def rates_figure(plt, res, stem):
    """Test score against the mean dropout rate, a panel per task and
    fraction."""
    tasks = res.tasks()
    ncol = max(len(res.fractions(t)) for t in tasks) if tasks else 1
    fig, axes = panel_grid(plt, len(tasks), ncol, 4.0, 3.3)
    style = {"standard": ("C0", "o", "-"), "guided": ("C3", "s", "-"),
             "matched": ("C2", "D", ""), "reversed": ("C4", "v", ""),
             "permuted": ("C5", "^", ""), "kind": ("C7", "P", "")}
    dx = {"standard": 0.0, "guided": 0.0, "matched": 0.002, "reversed": 0.004,
          "permuted": 0.006, "kind": 0.008}
    for row, task in enumerate(tasks):
        for col, f in enumerate(sorted(res.fractions(task))):
            ax = axes[row][col]
            for g, (c, mk, ls) in style.items():
                pts = rate_points(res, task, f, g)
                if not pts:
                    continue
                x, m, h = (np.array(v) for v in zip(*pts))
                ax.errorbar(x + dx[g], m, yerr=h, color=c, marker=mk, markersize=4,
                            linestyle=ls or "none", linewidth=1.0, capsize=2.5, label=g)
            # The chosen rates, ringed.
            for arm, c in (("standard@p_std", "C0"), ("guided@p_gd", "C3")):
                rc = res.resolve(task, f, arm)
                runs = res.runs(task, f, *rc) if rc else {}
                if runs:
                    ax.plot([res.mean_rate(*rc)], [mean([r["test_acc"] for r in runs.values()])],
                            marker="o", markersize=11, markerfacecolor="none", color=c,
                            linestyle="none")
            ax.set_title("%s, fraction %s" % (task, fmt_frac(f)))
            ax.set_xlabel("mean dropout rate over the sites")
            ax.set_ylabel("test %s" % res.metric_label(task))
            ax.grid(True, linewidth=0.3)
            ax.legend(loc="best", framealpha=0.8, fontsize=7)
        for col in range(len(res.fractions(task)), ncol):
            axes[row][col].set_visible(False)
    fig.tight_layout()
    save(plt, fig, stem)


def curve_cells(res, task, f):
    """[(arm label, regime, rate)] of CURVE_ARMS at (task, f) that have
    curves, and the first CURVE_SEEDS seeds with a curve in each of them."""
    arms = []
    have = {(g, p) for (t, fr, _, g, p) in res.curves if (t, fr) == (task, f)}
    for arm in CURVE_ARMS:
        c = res.resolve(task, f, arm)
        if c and (arm == "none" or c[0] != "none") and c in have:
            what = "p_max" if c[0] in PLANNED else "p"
            arms.append(("%s %s %g" % (c[0], what, c[1]) if c[0] != "none" else "none",) + c)
    seeds = [s for s in res.seeds()
             if arms and all((task, f, s, g, p) in res.curves for _, g, p in arms)]
    return arms, seeds[:CURVE_SEEDS]


def curves_figure(plt, res, stem):
    """Validation score and training loss against the step: none,
    standard@p_std+ and guided@p_gd+ at each task's smallest and largest
    fraction, a line per seed."""
    panels = []
    for task in res.tasks():
        fr = res.fractions(task)
        for f in sorted({min(fr), max(fr)}):
            arms, seeds = curve_cells(res, task, f)
            if seeds:
                panels.append((task, f, arms, seeds))
    if not panels:
        return False
    fig, axes = panel_grid(plt, len(panels), 2, 5.0, 3.0)
    dashes = ("-", "--", ":")
    dash_names = ("solid", "dashed", "dotted")
    for (task, f, arms, seeds), (ax1, ax2) in zip(panels, axes):
        for i, (label, g, p) in enumerate(arms):
            for j, s in enumerate(seeds):
                curve = res.curves[(task, f, s, g, p)]
                steps = sorted(curve)
                kw = dict(color="C%d" % i, linestyle=dashes[j % 3], linewidth=1.0,
                          label=label if j == 0 else None)
                ax1.plot(steps, [curve[k][1] for k in steps], **kw)
                ax2.plot(steps, [curve[k][0] for k in steps], **kw)
        title = "%s, fraction %s (seed %s)" % (task, fmt_frac(f), ", ".join(
            "%d %s" % (s, d) for s, d in zip(seeds, dash_names)))
        ax1.set_title(title, fontsize=8)
        ax2.set_title(title, fontsize=8)
        ax1.set_ylabel("validation %s" % res.metric_label(task))
        ax2.set_ylabel("training loss (with dropout)")
        if all(v[0] > 0 for g in arms for s in seeds
               for v in res.curves[(task, f, s, g[1], g[2])].values()):
            ax2.set_yscale("log")
        for ax in (ax1, ax2):
            ax.set_xlabel("step")
            ax.grid(True, linewidth=0.3)
            ax.legend(loc="best", framealpha=0.8, fontsize=7)
    fig.tight_layout()
    save(plt, fig, stem)
    return True


def sites_figure(plt, sites, stem):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.4, 4.0))
    emb = [s for s in sites if s["kind"] == "embeddings"]
    kinds = [k for k in SITE_KINDS if any(s["kind"] == k for s in sites)]
    kinds += sorted({s["kind"] for s in sites} - set(SITE_KINDS) - {"embeddings"})
    for i, k in enumerate(kinds):
        ks = sorted((s for s in sites if s["kind"] == k), key=lambda s: s["layer"])
        x = [s["layer"] for s in ks]
        c = "C%d" % i
        # Non-positive scores have no place on a log axis: left out.
        pos = [(s["layer"], s["score"]) for s in ks if s["score"] > 0]
        wo = [(s["layer"], s["score_wo_ln"]) for s in ks if s["score_wo_ln"] > 0]
        if pos:
            ax1.plot(*zip(*pos), marker="o", markersize=3.5, color=c, label=k)
        if wo:
            ax1.plot(*zip(*wo), marker="x", markersize=4, linestyle="--", color=c,
                     label=k + " (without LayerNorm)")
        ax2.plot(x, [s["p"] for s in ks], marker="o", markersize=3.5, color=c, label=k)
    for s in emb:
        if s["score"] > 0:
            ax1.plot([-1], [s["score"]], marker="s", color="k", linestyle="", label="embeddings")
        if s["score_wo_ln"] > 0:
            ax1.plot([-1], [s["score_wo_ln"]], marker="x", color="k", linestyle="",
                     label="embeddings (without LayerNorm)")
        ax2.plot([-1], [s["p"]], marker="s", color="k", linestyle="", label="embeddings")
    layers = sorted({s["layer"] for s in sites})
    for ax in (ax1, ax2):
        ax.set_xticks(layers)
        ax.set_xticklabels(["emb" if lay < 0 else str(lay) for lay in layers])
        ax.set_xlabel("layer")
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="best", fontsize=7, framealpha=0.8)
    ax1.set_yscale("log")
    ax1.set_ylabel("Fisher score per site")
    ax1.set_title("site score (solid) and without LayerNorm (dashed)")
    ax2.set_ylabel("dropout rate p")
    ax2.set_title("the plan's rate per site")
    fig.tight_layout()
    save(plt, fig, stem)


def figures(res, a, sites, base):
    """Draws the figures into a.figures; (markdown lines, sites link)."""
    plt = setup_matplotlib()
    os.makedirs(a.figures, exist_ok=True)

    def link(name):
        return os.path.relpath(os.path.join(a.figures, name), base) + ".svg"
    note = []  # (alt text, link)
    accuracy_figure(plt, res, os.path.join(a.figures, "accuracy"))
    note.append(("Test score against the training fraction, each arm at its chosen rate, "
                 "95 % t intervals over seeds", link("accuracy")))
    rates_figure(plt, res, os.path.join(a.figures, "rates"))
    note.append(("Test score against the mean dropout rate: standard at each p, guided at "
                 "each p_max, matched and the controls; none at 0; the chosen rates ringed; "
                 "95 % t intervals", link("rates")))
    if res.curves and curves_figure(plt, res, os.path.join(a.figures, "curves")):
        note.append(("Validation score and training loss against the step: none, "
                     "standard@p_std+, guided@p_gd+; smallest and largest fraction; a line "
                     "style per seed", link("curves")))
    sites_link = None
    if sites:
        sites_figure(plt, sites, os.path.join(a.figures, "sites"))
        sites_link = link("sites")
    lines = []
    for alt, svg in note:
        lines += ["![%s](%s) (also [PNG](%s))" % (alt, svg, svg[:-4] + ".png"), ""]
    return lines, sites_link


# ---- main ------------------------------------------------------------------

# The demo's pairs: (a, b, why), cells as (regime, rate) found in the rows.
DEMO_PAIRS = (
    ("guided", "standard", "guided vs standard at one p_max = p (the paper's comparison)"),
    ("guided", "matched", "where: the plan vs its mean rate everywhere"),
    ("guided", "none", "guided dropout vs none"),
    ("standard", "none", "standard dropout vs none"),
)


def demo_lines(res):
    """The quick start's page: every (regime, rate) cell of the rows with its
    test score, training loss and best step, and the paired differences of
    DEMO_PAIRS, per task and fraction.  No rate is chosen: the demo runs
    fixed rates (the full experiment chooses them on validation)."""
    out = ["# Guided dropout on the pretrained encoder: the quick start", "",
           "Mean ± 95 % Student-t half-width over seeds (n); paired differences "
           "use the seeds both cells have (they share the subset, head, example "
           "order and dropout streams); **bold**: the interval excludes 0.  "
           "Rates are fixed, not tuned: for the full procedure (rates chosen on "
           "validation, controls, baselines) see "
           "`examples/encoder/run-experiment.sh`.", ""]
    for task in res.tasks():
        label = res.metric_label(task)
        for f in res.fractions(task):
            cells = sorted(res.cells[task][f], key=lambda c: (res.regime_rank(c[0]), c[1]))
            out += ["## %s, fraction %s (%s training examples)" % (
                task, fmt_frac(f), ", ".join(map(str, res.n_train(task, f)))), ""]
            rows = []
            for g, r in cells:
                runs = res.runs(task, f, g, r)
                seeds = sorted(runs)
                m, h, n = t_interval([runs[k]["test_acc"] for k in seeds])
                rows.append(["%s" % g, fmt_rate(r), fmt_num(res.mean_rate(g, r), "%.3g"),
                             fmt_cell(m, h, n),
                             fmt_num(mean([runs[k]["train_loss"] for k in seeds]), "%.3f"),
                             "%.0f / %.0f" % (mean([runs[k]["best_step"] for k in seeds]),
                                              mean([runs[k]["steps"] for k in seeds]))])
            out += table(["regime", "rate", "mean rate", "test " + label, "train loss",
                          "best step / steps"], rows) + [""]
            by_regime = {}
            for g, r in cells:
                by_regime.setdefault(g, (g, r))
            rows = []
            for a, b, why in DEMO_PAIRS:
                if a not in by_regime or b not in by_regime:
                    continue
                ra, rb = res.runs(task, f, *by_regime[a]), res.runs(task, f, *by_regime[b])
                common = sorted(set(ra) & set(rb))
                m, h, n = t_interval([ra[k]["test_acc"] - rb[k]["test_acc"] for k in common])
                rows.append(["%s %s %s" % (a, MINUS, b), why, fmt_cell(m, h, n, signed=True)])
            out += table(["difference", "why", "test " + label], rows) + [""]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results TSVs (shards, baseline)")
    ap.add_argument("--out", required=True, help="markdown to write")
    ap.add_argument("--curves", nargs="+", action="extend", default=[],
                    help="learning-curve TSVs (encoder experiment --curves)")
    ap.add_argument("--selection", action="append", default=[],
                    help="select_rates.py's selection TSV; or a file of other choices made on "
                    "validation, lines \"name value\" (printed as given); repeatable")
    ap.add_argument("--plan", help="the guided plan (its mean/max rate gives the mean rate of "
                    "the planned regimes) [the p column of --sites]")
    ap.add_argument("--figures", help="folder for the SVG and PNG figures")
    ap.add_argument("--sites", help="site table of `encoder fisher` (fisher-sites.tsv)")
    ap.add_argument("--demo", action="store_true",
                    help="the quick start's short page: every cell at its fixed rate, and "
                    "guided against standard, matched and none")
    ap.add_argument("--headline", help="also write the README's summary table here")
    ap.add_argument("--link-base", help="write figure links relative to this folder instead of "
                    "the output's (for a copy pasted into a document elsewhere)")
    a = ap.parse_args(argv)
    try:
        sites = read_sites(a.sites) if a.sites else None
        ratio, pnote = math.nan, None
        if a.plan:
            ratio, pnote = plan_note(read_plan(a.plan), a.plan)
        elif sites:
            ratio, pnote = plan_note([s["p"] for s in sites], a.sites)
        rate_files, settings = [], []
        for path in a.selection:
            if select_rates.is_selection(path):
                rate_files.append(path)
            else:
                settings.append((path, read_settings(path)))
        res = Results(a.results, a.curves, rate_files, ratio)
    except FormatError as e:
        sys.stderr.write("report: %s\n" % e)
        return 1
    if pnote is None:
        pnote = ("No plan given (--plan or --sites): the mean rate of guided and the planned "
                 "controls is unknown.")
    for k in res.conflicts:
        sys.stderr.write("report: warning: %s fraction %g seed %d %s rate %g appears twice "
                         "with different results; the first is kept\n" % k)
    if a.demo:
        return write_or_fail(a.out, "\n".join(demo_lines(res)).rstrip("\n") + "\n")
    select_rates.warn_uneven(res.computed.values(), "report")
    base = os.path.abspath(a.link_base) if a.link_base else os.path.dirname(os.path.abspath(a.out))
    note, sites_link = [], None
    if a.figures:
        note, sites_link = figures(res, a, sites, base)
    lines = header_lines(res, note, settings, pnote) + bar_section(res)
    for task in res.tasks():
        lines += task_section(res, task)
    if sites:
        lines += sites_section(sites, a.sites, sites_link)
    if write_or_fail(a.out, "\n".join(lines).rstrip("\n") + "\n"):
        return 1
    if a.headline:
        return write_or_fail(a.headline, "\n".join(headline_lines(res)) + "\n")
    return 0


def write_or_fail(path, text):
    """0 when text went to path whole (write_text), else 1 with the message."""
    try:
        write_text(path, text)
    except FormatError as e:
        sys.stderr.write("report: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
