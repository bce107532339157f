#!/usr/bin/python3
"""Markdown (and figures) from the encoder experiment's results TSVs.

    report.py RESULTS.tsv [more.tsv ...] --out results.md [--figures DIR]
              [--sites fisher-sites.tsv]

Reads every row of the given files (the C driver's shards and the TF-IDF
baseline's rows alike; a (task, fraction, seed, regime) seen twice keeps its
first row) and writes, per task:
  * mean test accuracy (and, for multi-class tasks, macro-F1) +- the 95 %
    Student-t half-width over seeds, fractions x regimes, with the number
    of seeds;
  * paired differences per fraction (PAIRS below) with 95 % t intervals:
    only seeds present in both regimes are paired, because regimes at one
    seed share the subset, head, order and dropout streams; and over all
    fractions at once (each seed's mean difference over the fractions, for
    the seeds that have every fraction), the most power the grid offers;
  * the bar: at BAR_FRACTION and below, is the pretrained encoder (standard
    dropout, the regime its hyperparameters were chosen for) ahead of both
    baselines, TF-IDF and the same encoder from scratch, with intervals?
"best pretrained" is, at each fraction, the pretrained regime with the
highest mean VALIDATION accuracy (chosen on val so the test comparison is
not biased by the choice).  Missing cells show as an en dash.
The output has no timestamps, so reruns on the same inputs are identical.
With --figures DIR: accuracy vs fraction (DIR/accuracy.{svg,png}) and, with
--sites, the site scores and plan rates (DIR/sites.{svg,png}).
"""
import argparse
import math
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import FormatError, open_text, read_results, require, row_key  # noqa: E402

require("numpy", "scipy")
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

DASH = "\u2013"
MINUS = "\u2212"
# Display order; unknown tasks and regimes follow, sorted.
TASK_ORDER = ("supersense", "hypernymy")
REGIME_ORDER = ("none", "standard", "gaussian", "gaussian-paper", "guided", "matched",
                "scratch", "tfidf-lr")
PRETRAINED = ("none", "standard", "gaussian", "gaussian-paper", "guided", "matched")
BEST = "best pretrained"
ALL = "all fractions"
# (a, b, why): the difference a - b.
PAIRS = (
    ("guided", "standard", "guided vs the uniform rate"),
    ("guided", "matched", "where vs how much: the same mean rate, placed by the plan"),
    ("matched", "standard", "how much: the plan's mean rate vs p"),
    ("gaussian", "standard", "multiplicative Gaussian vs Bernoulli"),
    ("standard", "none", "does dropout help at all"),
    ("guided", "none", "guided dropout vs none at all"),
    ("standard", "scratch", "what pretraining buys"),
    ("standard", "tfidf-lr", "pretrained encoder vs bag of words"),
    (BEST, "tfidf-lr", "the best pretrained regime (chosen on val) vs bag of words"),
)
# Macro-F1 gets its own tables where accuracy can hide a class (8 supersense
# classes); on the balanced binary task it follows accuracy.
BINARY_TASKS = ("hypernymy",)
# The bar a pretrained encoder must clear for its dropout comparison to mean
# something: ahead of both baselines at this fraction and below.
BAR_FRACTION = 0.1
BAR_REGIME = "standard"
BASELINES = ("tfidf-lr", "scratch")
SITE_KINDS = ("attention.self", "attention.output", "output")


def ordered(names, order):
    return [n for n in order if n in names] + sorted(set(names) - set(order))


def fmt_frac(f):
    return "%g" % f


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


class Results:
    """Rows indexed as cells[task][fraction][regime][seed] = row."""

    def __init__(self, paths):
        self.sources = []   # (path, rows read)
        self.rows = 0       # distinct rows kept
        self.duplicates = 0
        self.conflicts = []  # keys seen twice with different test metrics
        self.cells = {}
        seen = {}
        for path in paths:
            if not os.path.isfile(path):
                raise FormatError("%s: no such file" % path)
            rows = read_results(path)
            self.sources.append((path, len(rows)))
            for r in rows:
                k = row_key(r)
                if k in seen:
                    self.duplicates += 1
                    if (seen[k]["test_acc"], seen[k]["test_f1"]) != (r["test_acc"], r["test_f1"]):
                        self.conflicts.append(k)
                    continue
                seen[k] = r
                self.rows += 1
                (self.cells.setdefault(r["task"], {}).setdefault(r["fraction"], {})
                 .setdefault(r["regime"], {})[r["seed"]]) = r

    def tasks(self):
        return ordered(self.cells, TASK_ORDER)

    def fractions(self, task=None):
        tasks = [task] if task else self.cells
        return sorted({f for t in tasks for f in self.cells[t]}, reverse=True)

    def regimes(self, task=None):
        tasks = [task] if task else self.cells
        return ordered({g for t in tasks for f in self.cells[t].values() for g in f},
                       REGIME_ORDER)

    def seeds(self):
        return sorted({s for t in self.cells.values() for f in t.values()
                       for g in f.values() for s in g})

    def runs(self, task, fraction, regime):
        """{seed: row} of one cell (empty when missing)."""
        return self.cells.get(task, {}).get(fraction, {}).get(regime, {})

    def cell(self, task, fraction, regime, metric):
        runs = self.runs(task, fraction, regime)
        return t_interval([runs[s][metric] for s in sorted(runs)])

    def best_pretrained(self, task, fraction):
        """The pretrained regime with the highest mean validation accuracy
        (ties: the earlier in PRETRAINED), or None."""
        best = None
        for g in PRETRAINED:
            m = self.cell(task, fraction, g, "val_acc")[0]
            if not math.isnan(m) and (best is None or m > best[0]):
                best = (m, g)
        return best[1] if best else None

    def paired(self, task, fraction, a, b, metric):
        """(mean, half-width, n) of a - b over the seeds both have."""
        ra, rb = self.runs(task, fraction, a), self.runs(task, fraction, b)
        common = sorted(set(ra) & set(rb))
        return t_interval([ra[s][metric] - rb[s][metric] for s in common])


    def paired_all(self, task, a, b, metric):
        """(mean, half-width, n) over seeds of each seed's mean a - b over
        all the task's fractions (a may be BEST, resolved per fraction);
        seeds missing a fraction in either regime are left out."""
        per_seed = []
        for s in self.seeds():
            d = []
            for f in self.fractions(task):
                ga = self.best_pretrained(task, f) if a == BEST else a
                ra, rb = self.runs(task, f, ga), self.runs(task, f, b)
                if s not in ra or s not in rb:
                    break
                d.append(ra[s][metric] - rb[s][metric])
            else:
                if d:
                    per_seed.append(sum(d) / len(d))
        return t_interval(per_seed)

    def cpu_minutes(self):
        """{regime kind: summed run seconds / 60}: the C driver's runs and
        the baseline's, over the rows kept."""
        out = {}
        for t in self.cells.values():
            for f in t.values():
                for g, runs in f.items():
                    kind = "tfidf-lr" if g == "tfidf-lr" else "encoder"
                    out[kind] = out.get(kind, 0.0) + sum(r["seconds"] for r in runs.values())
        return {k: v / 60 for k, v in out.items()}


# ---- markdown --------------------------------------------------------------

def fmt_cell(mean, half, n, signed=False):
    if n == 0:
        return DASH
    num = ("%+.4f" if signed else "%.4f") % mean
    num = num.replace("-", MINUS)
    if math.isnan(half):
        return "%s (n=%d)" % (num, n)
    text = "%s \u00b1 %.4f (n=%d)" % (num, half, n)
    # Bold: the 95 % interval excludes 0 (only meaningful for differences).
    if signed and abs(mean) > half:
        text = "**%s**" % text
    return text


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def task_section(res, task):
    fracs, regimes = res.fractions(task), res.regimes(task)
    lines = ["## %s" % task, ""]
    metrics = [("test_acc", "test accuracy")]
    if task not in BINARY_TASKS:
        metrics.append(("test_f1", "test macro-F1"))
    for metric, title in metrics:
        lines += ["### Mean %s" % title, ""]
        rows = [[fmt_frac(f)] + [fmt_cell(*res.cell(task, f, g, metric)) for g in regimes]
                for f in fracs]
        lines += table(["fraction"] + regimes, rows) + [""]
    for metric, title in metrics:
        lines += ["### Paired differences in %s" % title, "",
                  "a %s b over the seeds both regimes have (n); **bold**: the 95 %% t interval "
                  "excludes 0." % MINUS, ""]
        rows = []
        for a, b, why in PAIRS:
            cells = []
            for f in fracs:
                ga = res.best_pretrained(task, f) if a == BEST else a
                if ga is None:
                    cells.append(DASH)
                    continue
                c = fmt_cell(*res.paired(task, f, ga, b, metric), signed=True)
                cells.append(c if a != BEST or c == DASH else "%s: %s" % (ga, c))
            cells.append(fmt_cell(*res.paired_all(task, a, b, metric), signed=True))
            rows.append(["%s %s %s" % (a, MINUS, b), why] + cells)
        lines += table(["difference", "why"] + [fmt_frac(f) for f in fracs] + [ALL], rows)
        lines += [""]
    return lines


def cleared(mean, half, n):
    """'yes' when the 95 % interval lies above 0, 'no' when it does not,
    a dash without two seeds."""
    if n < 2 or math.isnan(half):
        return DASH
    return "yes" if mean - half > 0 else "no"


def bar_section(res):
    """Per task and fraction at BAR_FRACTION and below: BAR_REGIME minus
    each baseline, paired by seed, and whether both intervals lie above 0."""
    lines = ["## The bar: the pretrained encoder against both baselines", "",
             "At %g %% of the training pool and below, %s dropout (the regime whose "
             "hyperparameters were chosen on validation) %s each baseline, test accuracy "
             "paired by seed; cleared when both 95 %% intervals lie above 0."
             % (100 * BAR_FRACTION, BAR_REGIME, MINUS), ""]
    rows, n_cells, n_yes = [], 0, 0
    for task in res.tasks():
        for f in res.fractions(task):
            if f > BAR_FRACTION:
                continue
            diffs = [res.paired(task, f, BAR_REGIME, b, "test_acc") for b in BASELINES]
            verdicts = [cleared(*d) for d in diffs]
            ok = DASH if DASH in verdicts else ("yes" if verdicts == ["yes"] * len(diffs)
                                               else "no")
            n_cells += ok != DASH
            n_yes += ok == "yes"
            rows.append([task, fmt_frac(f)] + [fmt_cell(*d, signed=True) for d in diffs] + [ok])
    if not rows:
        return []
    lines += table(["task", "fraction"] + ["%s %s %s" % (BAR_REGIME, MINUS, b)
                                           for b in BASELINES] + ["cleared"], rows)
    lines += ["", "Cleared in %d of %d cells." % (n_yes, n_cells), ""]
    return lines


def read_selection(path):
    """The hyperparameters run-experiment.sh chose on validation: its
    selection.txt, lines "name value", as [(name, value)] in file order."""
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


def header_lines(res, figure_note, selection=None, selection_name=None):
    lines = ["# Encoder experiment results", ""]
    lines.append("Sources: " + ", ".join("%s (%d rows)" % s for s in res.sources) + ".")
    if selection:
        lines += ["", "Chosen on the validation split (%s): %s." % (
            selection_name, ", ".join("%s %s" % kv for kv in selection))]
    dup = ""
    if res.duplicates:
        dup = " (%d repeated (task, fraction, seed, regime) rows ignored, the first kept%s)" % (
            res.duplicates, "; %d of them differed" % len(res.conflicts) if res.conflicts else "")
    lines += ["", "%d rows%s; tasks: %s; seeds: %s; regimes: %s; fractions: %s." % (
        res.rows, dup, ", ".join(res.tasks()) or DASH, seed_ranges(res.seeds()) or DASH,
        ", ".join(res.regimes()) or DASH, ", ".join(fmt_frac(f) for f in res.fractions()) or DASH)]
    lines += ["", "Cells: mean \u00b1 95 %% Student-t half-width over seeds (n seeds); "
              "%s: no rows; no \u00b1: one seed.  Paired differences use only the seeds "
              "present for both regimes (regimes at one seed share the subset, head "
              "initialisation, example order and dropout streams).  \"%s\" is, per "
              "fraction, the pretrained regime with the highest mean validation accuracy; "
              "\"%s\" is each seed's mean difference over the fractions (seeds with every "
              "fraction)." % (DASH, BEST, ALL)]
    cpu = res.cpu_minutes()
    if cpu:
        lines += ["", "Compute: %s (the sum of the rows' `seconds`, one core each)." % ", ".join(
            "%s runs %.0f CPU-minutes" % (k, cpu[k]) for k in sorted(cpu))]
    lines += [""] + figure_note
    return lines


# ---- site table ------------------------------------------------------------

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


def sites_section(sites, path, figure):
    rates = [s["p"] for s in sites]
    lines = ["## Dropout sites", "",
             "Site table: %s (%d sites; plan rates %.4g to %.4g, mean %.4g: the rate "
             "`matched` uses everywhere)." % (path, len(sites), min(rates), max(rates),
                                              float(np.mean(rates))), ""]
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


def accuracy_figure(plt, res, stem):
    tasks = res.tasks()
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(5.2 * max(len(tasks), 1), 4.0),
                             squeeze=False)
    regimes = res.regimes()
    for ax, task in zip(axes[0], tasks):
        fracs = res.fractions(task)
        for i, g in enumerate(regimes):
            # Regimes side by side around each fraction so bars do not overlap.
            shift = 1.0 + 0.015 * (i - (len(regimes) - 1) / 2)
            pts = [(f * shift,) + res.cell(task, f, g, "test_acc")[:2] for f in fracs
                   if res.runs(task, f, g)]
            if not pts:
                continue
            x, m, h = (np.array(v) for v in zip(*pts))
            ax.errorbar(x, m, yerr=np.nan_to_num(h), marker="o", markersize=3.5, capsize=2.5,
                        linewidth=1.0, label=g, color="C%d" % (i % 10))
        ax.set_xscale("log")
        ax.set_xticks(fracs)
        ax.set_xticklabels([fmt_frac(f) for f in fracs])
        ax.minorticks_off()
        ax.set_xlabel("training fraction (of the 4000-example pool)")
        ax.set_ylabel("test accuracy (mean, 95 % t CI over seeds)")
        ax.set_title(task)
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="best", framealpha=0.8)
    fig.tight_layout()
    save(plt, fig, stem)


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
        ax.set_xticklabels(["emb" if l < 0 else str(l) for l in layers])
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


# ---- main ------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results TSVs (shards, baseline)")
    ap.add_argument("--out", required=True, help="markdown to write")
    ap.add_argument("--figures", help="folder for the SVG and PNG figures")
    ap.add_argument("--sites", help="site table of `encoder fisher` (fisher-sites.tsv)")
    ap.add_argument("--selection", help="the hyperparameters chosen on validation "
                    "(run-experiment.sh's selection.txt)")
    ap.add_argument("--link-base", help="write figure links relative to this folder instead of "
                    "the output's (for a copy pasted into a document elsewhere)")
    a = ap.parse_args(argv)
    try:
        res = Results(a.results)
        sites = read_sites(a.sites) if a.sites else None
        selection = read_selection(a.selection) if a.selection else None
    except FormatError as e:
        sys.stderr.write("report: %s\n" % e)
        return 1
    for k in res.conflicts:
        sys.stderr.write("report: warning: %s fraction %g seed %d %s appears twice with "
                         "different results; the first is kept\n" % k)
    base = os.path.abspath(a.link_base) if a.link_base else os.path.dirname(os.path.abspath(a.out))
    note, acc_link, sites_link = [], None, None
    if a.figures:
        plt = setup_matplotlib()
        os.makedirs(a.figures, exist_ok=True)
        stem = os.path.join(a.figures, "accuracy")
        accuracy_figure(plt, res, stem)
        acc_link = os.path.relpath(stem, base) + ".svg"
        note = ["![Test accuracy against the training fraction, per regime, 95 %% t "
                "intervals over seeds](%s) (also [PNG](%s))"
                % (acc_link, acc_link[:-4] + ".png"), ""]
        if sites:
            stem = os.path.join(a.figures, "sites")
            sites_figure(plt, sites, stem)
            sites_link = os.path.relpath(stem, base) + ".svg"
    lines = header_lines(res, note, selection, a.selection) + bar_section(res)
    for task in res.tasks():
        lines += task_section(res, task)
    if sites:
        lines += sites_section(sites, a.sites, sites_link)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
