#!/usr/bin/python3
"""Summarises the committed benchmark runs into the Speed table.

    bench/summarize.py            write bench/results/speed.md
    bench/summarize.py --check    fail, showing the diff, if it is stale

Reads every bench/results/runs/*.md (each a `bench/run.sh` output recorded by
scripts/record-result) and gives, for each row, the range of its ratios over
all runs: low-high.  One run's figure is the median of interleaved samples
on a shared machine, and what moves between runs is mostly the memory-bound
baselines, so a range from runs on several days says more than any one run;
the ranges widen as runs from other days are added.  scripts/paste-results
pastes the result into the README.
"""
import difflib
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "results", "runs")
OUT = os.path.join(HERE, "results", "speed.md")

# The rows shown, in order: (section, op as gd_bench prints it, label).
SECTION_ROWS = [
    ("Memory-bound", "generator: Philox words of n elements", "generator alone (Philox words)"),
    ("Memory-bound", "gd_dropout_fwd p=0.1 + mask", "`gd_dropout_fwd` p=0.1 + mask"),
    ("Memory-bound", "gd_dropout_bwd regenerated", "`gd_dropout_bwd`, mask regenerated"),
    ("Memory-bound", "gd_dropout_bwd stored mask", "`gd_dropout_bwd`, stored mask"),
    ("Memory-bound", "gd_dropout_add_fwd bias+residual+mask",
     "`gd_dropout_add_fwd` bias + residual + mask"),
    ("Memory-bound", "gd_gaussian_dropout_fwd", "`gd_gaussian_dropout_fwd`"),
    ("Memory-bound", "gd_dropout_fwd_cols 768 cols + mask", "`gd_dropout_fwd_cols`, 768 columns"),
    ("Memory-bound", "gd_dropout_fwd_cols 1024 cols + mask", "`gd_dropout_fwd_cols`, 1024 columns"),
    ("Memory-bound", "gd_dropout_fwd_cols 3072 cols + mask", "`gd_dropout_fwd_cols`, 3072 columns"),
    ("Memory-bound", "gd_dropout_fwd_cols 4096 cols + mask", "`gd_dropout_fwd_cols`, 4096 columns"),
    ("Memory-bound", "gd_dropout_fwd_cols 16384 cols + mask",
     "`gd_dropout_fwd_cols`, 16384 columns"),
    ("Memory-bound", "12 layers, guided p (0.1..0)", "12 layers at guided p (0.1 .. 0)"),
    ("In cache", "generator: Philox words of n elements", "generator alone (Philox words)"),
    ("In cache", "gd_dropout_fwd p=0.1 + mask", "`gd_dropout_fwd` p=0.1 + mask"),
    ("In cache", "gd_gaussian_dropout_fwd", "`gd_gaussian_dropout_fwd`"),
    ("by kernel family", "fwd + mask, avx2", "`gd_dropout_fwd` + mask, `avx2` family"),
    ("by kernel family", "fwd + mask, scalar", "`gd_dropout_fwd` + mask, `scalar` family"),
]

TORCH_ROWS = [
    ("dropout forward + mask", "dropout forward with its mask"),
    ("dropout backward, stored mask", "dropout backward, stored mask"),
    ("Gaussian dropout forward", "Gaussian dropout forward"),
]


def size(n):
    n = int(n)
    for unit, s in ((1 << 20, "M"), (1 << 10, "K")):
        if n % unit == 0:
            return "%d%s" % (n // unit, s)
    return str(n)


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_run(path):
    """One run: its header facts and {(section, op, n): {column: text}}."""
    run = {"path": os.path.relpath(path, os.path.dirname(HERE)), "rows": {}, "fisher": [],
           "torch": {}}
    section, header = None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\*Recorded (\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC in (\d+) s on (.*?) \((\d+) CPUs, "
                         r"load average ([\d.?]+) at the start\)", line)
            if m:
                run.update(date=m.group(1), time=m.group(2), cpu=m.group(4), cpus=m.group(5),
                           load=m.group(6))
            m = re.match(r"## gd_bench: kernel family `(\w+)`, one thread, median of (\d+)", line)
            if m:
                run.update(family=m.group(1), reps=m.group(2))
            m = re.match(r"command: (.*)", line)
            if m:
                run["command"] = m.group(1).strip()
            if line.startswith("### "):
                section, header = line[4:].strip(), None
                continue
            if not line.startswith("|") or section is None:
                continue
            c = cells(line)
            if header is None:
                header = c
                continue
            if set(c[0]) <= set("-:"):
                continue
            row = dict(zip(header, c))
            if section.startswith("Fisher"):
                run["fisher"].append(row)
            elif section.startswith("PyTorch"):
                run["torch"][(row["op"], row["n"])] = row
            elif "op" in row and "ratio" in row:
                key = next((s for s in ("Memory-bound", "In cache", "by kernel family")
                            if s in section), section)
                run["rows"][(key, row["op"], row["n"])] = row
    for need in ("date", "family", "reps"):
        if need not in run:
            sys.exit("summarize: %s: no %s found (not a recorded bench/run.sh output?)"
                     % (path, need))
    return run


def span(values, digits=2):
    """'lo-hi' (en dash) of the values, or one figure when they round alike."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    a, b = "%.*f" % (digits, lo), "%.*f" % (digits, hi)
    return a if a == b else "%s–%s" % (a, b)


def number(text):
    text = text.rstrip("x")
    return float(text) if text else None


def summarise(runs):
    out = []
    days = sorted({r["date"] for r in runs})
    fams = sorted({r["family"] for r in runs})
    cpus = sorted({"%s, %s CPUs" % (r["cpu"], r["cpus"]) for r in runs})
    loads = [float(r["load"]) for r in runs if r["load"] != "?"]
    commands = sorted({r.get("command", "bench/run.sh") for r in runs})
    out.append("Ranges over %d runs of %s on %d day%s (%s), kernel family %s, one thread, "
               "on %s; load average %s at the starts (a shared machine). Each run's "
               "figure is the median of its interleaved samples; the runs are "
               "`bench/results/runs/*.md`, this table is `bench/summarize.py`'s.\n"
               % (len(runs), " / ".join("`%s`" % c for c in commands), len(days),
                  "" if len(days) == 1 else "s", ", ".join(days),
                  " / ".join("`%s`" % f for f in fams), "; ".join(cpus),
                  span(loads, 1) or "unknown"))
    out.append("| op | n | ratio to baseline | baseline | ratio to max(baseline, generator) "
               "| goal (issue 5) on the ratio to baseline |")
    out.append("|---|---:|---:|---|---:|---|")
    for section, op, label in SECTION_ROWS:
        keys = sorted({k for r in runs for k in r["rows"] if k[0] == section and k[1] == op},
                      key=lambda k: -int(k[2]))
        for key in keys:
            rows = [r["rows"][key] for r in runs if key in r["rows"]]
            ratio = [number(x["ratio"]) for x in rows]
            floor = [number(x["ratio to floor"]) for x in rows if x.get("ratio to floor")]
            goal = ""
            g = re.match(r"<= ([\d.]+)", rows[0].get("goal", ""))
            if g:
                met = sum(v <= float(g.group(1)) for v in ratio)
                goal = "<= %s: met in %d of %d runs" % (g.group(1), met, len(ratio))
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                label, size(key[2]), span(ratio), rows[0]["baseline"], span(floor), goal))
    fisher = {}
    for r in runs:
        for row in r["fisher"]:
            fisher.setdefault(row["batch"], []).append(number(row["ratio"]))
    for batch in sorted(fisher, key=int):
        out.append("| `gd_fisher_accumulate_dense`, batch %s, in and out 256-1024 | | %s "
                   "| one `sgemm` of the same shape | | |" % (batch, span(fisher[batch])))
    torch = [r for r in runs if r["torch"]]
    if torch:
        out.append("")
        out.append("Against PyTorch 1.13 on the CPU (Debian's `python3-torch`), one thread each, "
                   "in the same runs (%d of %d): how many times faster libgdropout is.\n"
                   % (len(torch), len(runs)))
        out.append("| op | n | PyTorch time / libgdropout time |")
        out.append("|---|---:|---:|")
        for op, label in TORCH_ROWS:
            keys = sorted({k for r in torch for k in r["torch"] if k[0] == op},
                          key=lambda k: -int(k[1]))
            for key in keys:
                v = [number(r["torch"][key]["torch / gdropout"]) for r in torch
                     if key in r["torch"]]
                digits = 0 if min(v) >= 10 else 1
                out.append("| %s | %s | %s |" % (label, size(key[1]),
                                                 span(v, digits).replace("–", "x–") + "x"))
    return "\n".join(out) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(__doc__)
    paths = sorted(glob.glob(os.path.join(RUNS, "*.md")))
    if not paths:
        sys.exit("summarize: no runs in %s" % RUNS)
    text = summarise([parse_run(p) for p in paths])
    old = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
    if check:
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                       OUT, "regenerated"))
            sys.exit("summarize: %s is stale: run bench/summarize.py" % OUT)
        print("summarize: %s matches its %d runs" % (os.path.relpath(OUT), len(paths)))
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("summarize: wrote %s from %d runs" % (os.path.relpath(OUT), len(paths)))


if __name__ == "__main__":
    main()
