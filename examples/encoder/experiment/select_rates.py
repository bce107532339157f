#!/usr/bin/python3
"""The dropout rates chosen on VALIDATION from the rate sweep (phase A).

    select_rates.py RESULTS.tsv [more.tsv ...] --out selection.tsv

Per (task, fraction), from the mean validation score over seeds of the
phase A rows (regimes none, standard and guided at every rate present):
  p_std       the argmax over {0 (the `none` rows)} + standard's p's;
  p_gd        the argmax over {0 (the `none` rows)} + guided's p_max's;
  p_std_plus  the best nonzero standard p, p_gd_plus the best nonzero
              guided p_max (the rates phase B runs gaussian and the
              planned controls at); nan when there is none.
Only the val_acc column is read (-MSE for a regression task): the test
columns never enter the choice.  Ties go to the smaller rate: scores are
compared exactly, as sums of the written 6-decimal values in integer
millionths, so a tie is a tie and not a rounding accident.  Each candidate's
mean is over the seeds EVERY candidate of the (task, fraction) has (paired,
as in the report); a candidate with seeds the others lack is named on
stderr.  Rows of other regimes are ignored; a (task, fraction, seed, regime,
rate) seen twice keeps its first row, as the report does.

The output is one header line and one tab-separated line per (task,
fraction), sorted by task then fraction, whose first six fields are task,
fraction (as written in the rows), p_std, p_gd, p_std_plus, p_gd_plus
(`%g`), followed by n_seeds and the validation mean of every candidate
(columns val:none, val:standard:P, val:guided:P; nan where a (task,
fraction) lacks it): awk -F'\\t' 'NR > 1 { print $1, $2, $3, $4, $5, $6 }'.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import FormatError, cell_key, number, open_text, read_results, write_text  # noqa: E402

# The candidates: (regime, what its rate column means).
STANDARD, GUIDED, NONE = "standard", "guided", "none"
CHOICES = ("p_std", "p_gd", "p_std_plus", "p_gd_plus")
FIRST = ("task", "fraction") + CHOICES


def micro(v):
    """A written 6-decimal score as an integer number of millionths."""
    return int(round(v * 1e6))


def fmt_rate(p):
    return "%g" % p


class Choice:
    """The selection of one (task, fraction): the chosen rates (floats; nan
    for none), the candidates' validation means over the common seeds
    ({(regime, rate): mean}), those seeds, and the candidates whose seeds
    lack some of the others' ({(regime, rate): the seeds it lacks})."""

    def __init__(self, task, fraction, fraction_s, runs):
        self.task, self.fraction, self.fraction_s = task, fraction, fraction_s
        seeds = [set(r) for r in runs.values()]
        self.seeds = sorted(set.intersection(*seeds)) if seeds else []
        union = set.union(*seeds) if seeds else set()
        self.uneven = {c: sorted(union - set(r)) for c, r in runs.items() if set(r) != union}
        n = len(self.seeds)
        total = {c: sum(micro(runs[c][s]) for s in self.seeds) for c in runs}
        self.val = {c: (t / 1e6 / n if n else float("nan")) for c, t in total.items()}

        def argmax(cands):
            """The candidate rate with the largest total (exact integers);
            ties: the smaller rate; nan for no candidate or no seed."""
            best = None
            for rate, c in sorted(cands):
                if n and (best is None or total[c] > best[0]):
                    best = (total[c], rate)
            return best[1] if best else float("nan")
        std = [(c[1], c) for c in runs if c[0] == STANDARD and c[1] > 0]
        gd = [(c[1], c) for c in runs if c[0] == GUIDED and c[1] > 0]
        zero = [(0.0, c) for c in runs if c[0] == NONE]
        self.rates = {"p_std": argmax(std + zero), "p_gd": argmax(gd + zero),
                      "p_std_plus": argmax(std), "p_gd_plus": argmax(gd)}


def candidate(row):
    """(regime, rate) of a phase A row, or None."""
    if row["regime"] == NONE:
        return (NONE, 0.0)
    if row["regime"] in (STANDARD, GUIDED) and row["rate"] > 0:
        return (row["regime"], row["rate"])
    return None


def first_rows(rows):
    """rows without the repeats of a (task, fraction, seed, regime, rate):
    the first is kept."""
    out, seen = [], set()
    for r in rows:
        k = cell_key(r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def select(rows):
    """[Choice] per (task, fraction) with phase A rows, sorted by task then
    fraction; rows as read_results() gives them (first of a key kept)."""
    runs, frac_s = {}, {}
    for r in first_rows(rows):
        c = candidate(r)
        if c is None:
            continue
        tf = (r["task"], r["fraction"])
        frac_s.setdefault(tf, r["fraction_s"])
        runs.setdefault(tf, {}).setdefault(c, {})[r["seed"]] = r["val_acc"]
    return [Choice(t, f, frac_s[(t, f)], runs[(t, f)]) for t, f in sorted(runs)]


def candidate_columns(choices):
    """The candidates of every choice, in a fixed order: none, standard by
    rate, guided by rate."""
    cands = {c for ch in choices for c in ch.val}
    order = {NONE: 0, STANDARD: 1, GUIDED: 2}
    return sorted(cands, key=lambda c: (order[c[0]], c[1]))


def column_name(c):
    return "val:" + (c[0] if c[0] == NONE else "%s:%s" % (c[0], fmt_rate(c[1])))


def write_selection(choices, path):
    cols = candidate_columns(choices)
    lines = ["\t".join(FIRST + ("n_seeds",) + tuple(column_name(c) for c in cols))]
    for ch in choices:
        fields = [ch.task, ch.fraction_s] + [fmt_rate(ch.rates[k]) for k in CHOICES]
        fields.append(str(len(ch.seeds)))
        fields += ["%.6f" % ch.val[c] if c in ch.val else "nan" for c in cols]
        lines.append("\t".join(fields))
    write_text(path, "\n".join(lines) + "\n")


def is_selection(path):
    """Whether path starts like a file write_selection() wrote."""
    with open_text(path) as f:
        return f.readline().rstrip("\n").split("\t")[:len(FIRST)] == list(FIRST)


def read_selection(path):
    """{(task, fraction by number()): {p_std: .., p_gd: .., p_std_plus: ..,
    p_gd_plus: .., n_seeds: int or None}} of a file write_selection()
    wrote (n_seeds None where the file has no such column)."""
    out = {}
    with open_text(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        if head[:len(FIRST)] != list(FIRST):
            raise FormatError("%s:1: expected a header starting %s" % (path, " ".join(FIRST)))
        for lineno, line in enumerate(f, 2):
            fields = line.rstrip("\n").split("\t")
            if fields == [""]:
                continue
            if len(fields) != len(head):
                raise FormatError("%s:%d: expected %d tab-separated fields, got %d"
                                  % (path, lineno, len(head), len(fields)))
            try:
                sel = {k: number(v) for k, v in zip(CHOICES, fields[2:len(FIRST)])}
                sel["n_seeds"] = int(fields[len(FIRST)]) if len(head) > len(FIRST) and \
                    head[len(FIRST)] == "n_seeds" else None
                out[(fields[0], number(fields[1]))] = sel
            except ValueError as e:
                raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
    return out


def warn_uneven(choices, prog):
    for ch in choices:
        for (g, rate), seeds in sorted(ch.uneven.items()):
            sys.stderr.write("%s: warning: %s %s: %s%s lacks seed(s) %s; the means use the %d "
                             "seeds every candidate has\n"
                             % (prog, ch.task, ch.fraction_s, g,
                                "" if g == NONE else ":" + fmt_rate(rate),
                                ",".join(map(str, seeds)), len(ch.seeds)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results TSVs holding the phase A rows")
    ap.add_argument("--out", required=True, help="selection TSV to write")
    a = ap.parse_args(argv)
    try:
        rows = []
        for path in a.results:
            if not os.path.isfile(path):
                raise FormatError("%s: no such file" % path)
            rows += read_results(path)
    except FormatError as e:
        sys.stderr.write("select_rates: %s\n" % e)
        return 1
    choices = select(rows)
    if not choices:
        sys.stderr.write("select_rates: no none, standard or guided rows in %s\n"
                         % ", ".join(a.results))
        return 1
    configs = sorted({r["config"] for r in first_rows(rows) if candidate(r)})
    if len(configs) > 1:
        sys.stderr.write("select_rates: warning: the candidates' rows come from %d settings "
                         "(config %s)\n" % (len(configs), ", ".join(configs)))
    warn_uneven(choices, "select_rates")
    try:
        write_selection(choices, a.out)
    except FormatError as e:
        sys.stderr.write("select_rates: %s\n" % e)
        return 1
    for ch in choices:
        print("%s %s: %s (%d seeds)" % (ch.task, ch.fraction_s, ", ".join(
            "%s %s" % (k, fmt_rate(ch.rates[k])) for k in CHOICES), len(ch.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
