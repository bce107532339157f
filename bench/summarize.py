#!/usr/bin/python3
"""Summarises the committed benchmark runs into the Speed table.

    bench/summarize.py            write bench/results/speed.md
    bench/summarize.py --check    fail, showing the diff, if it is stale

Reads every bench/results/runs/*.md (each a `bench/run.sh` output recorded by
scripts/record-result) and gives, for each row, the range of its ratios over
all runs: low-high, and how many runs met its goal (bench/goals.tsv, read
through bench/goals.py).  Each run records its host (kernel family, OpenBLAS
core, the scale loop's memory bandwidth), so the ranges come with the hosts
they were measured on.  Only the runs of the newest run's machine code
(its `code:` line, bench/digest.sh) are ranged.  scripts/paste-results pastes the result into the
README and bench/README.md.
"""
import difflib
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goals as goals_mod  # noqa: E402  (bench/goals.py)

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "results", "runs")
OUT = os.path.join(HERE, "results", "speed.md")
CODES = os.path.join(HERE, "results", "codes.tsv")

# The rows shown, in order: (section, op as gd_bench prints it, label); an op
# ending in * stands for every row it matches (the per-unit widths, Fisher
# shapes), each shown with its own tail.
SECTION_ROWS = [
    ("large", "generator: Philox words of n elements", "generator alone: Philox words"),
    ("large", "generator: normals of n elements", "generator alone: normals"),
    ("large", "gd_dropout_fwd p=0.1 + mask", "`gd_dropout_fwd` p=0.1 + mask"),
    ("large", "gd_dropout_fwd p=0.1, no mask", "`gd_dropout_fwd` p=0.1, no mask"),
    ("large", "gd_dropout_bwd regenerated", "`gd_dropout_bwd`, mask regenerated"),
    ("large", "gd_dropout_bwd stored mask", "`gd_dropout_bwd`, stored mask"),
    ("large", "gd_dropout_add_fwd bias+residual+mask",
     "`gd_dropout_add_fwd` bias + residual + mask"),
    ("large", "gd_gaussian_dropout_fwd", "`gd_gaussian_dropout_fwd`"),
    ("large", "gd_gaussian_dropout_bwd", "`gd_gaussian_dropout_bwd`"),
    ("large", "gd_dropout_fwd_cols *", "`gd_dropout_fwd_cols` + mask,"),
    ("large", "12 layers, guided p (0.1..0)", "12 layers at guided p (0.1 .. 0)"),
    ("small", "generator: Philox words of n elements", "generator alone: Philox words"),
    ("small", "generator: normals of n elements", "generator alone: normals"),
    ("small", "gd_dropout_fwd p=0.1 + mask", "`gd_dropout_fwd` p=0.1 + mask"),
    ("small", "gd_dropout_bwd regenerated", "`gd_dropout_bwd`, mask regenerated"),
    ("small", "gd_dropout_fwd_cols *", "`gd_dropout_fwd_cols` + mask,"),
    ("small", "gd_dropout_add_fwd bias+residual+mask",
     "`gd_dropout_add_fwd` bias + residual + mask"),
    ("small", "gd_gaussian_dropout_fwd", "`gd_gaussian_dropout_fwd`"),
    ("family", "fwd + mask, avx2", "`gd_dropout_fwd` + mask, `avx2` family"),
    ("family", "fwd + mask, scalar", "`gd_dropout_fwd` + mask, `scalar` family"),
    ("fisher", "*", "`gd_fisher_accumulate_dense`,"),
    ("fisher-seq", "*", "`gd_fisher_accumulate_dense_seq`,"),
]

TORCH_ROWS = [
    ("dropout forward + mask", "dropout forward with its mask"),
    ("dropout backward, stored mask", "dropout backward, stored mask"),
    ("Gaussian dropout forward", "Gaussian dropout forward"),
]


def size(n):
    if not n:
        return ""
    n = int(n)
    for unit, s in ((1 << 20, "M"), (1 << 10, "K")):
        if n % unit == 0:
            return "%d%s" % (n // unit, s)
    # whole rows of a width that does not divide 16M: "~16M"
    return "~%.0fM" % (n / (1 << 20)) if n > 1 << 20 else str(n)


def parse_run(path):
    """One run: its header facts, its table rows and its PyTorch rows."""
    run = {"path": os.path.relpath(path, os.path.dirname(HERE))}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        m = re.match(r"\*Recorded (\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC in (\d+) s on (.*?) "
                     r"\((\d+) CPUs, load average ([\d.?]+) at the start\)", line)
        if m:
            run.update(date=m.group(1), time=m.group(2), cpu=m.group(4), cpus=m.group(5),
                       load=m.group(6))
        m = re.match(r"## gd_bench: kernel family `(\w+)`, one thread, median of (\d+)", line)
        if m:
            run.update(family=m.group(1), reps=m.group(2))
        m = re.match(r"host: kernel family `\w+`; OpenBLAS core `(\w+)`", line)
        if m:
            run["core"] = m.group(1)
        m = re.match(r"memory: scale loop .*: ([\d.]+) ms, ([\d.]+) GB/s", line)
        if m:
            run["gbs"] = float(m.group(2))
        m = re.match(r"encoder fisher .*: (\d+) sequences; .* ([\d.]+) sequences/s; .* "
                     r"([\d.]+) sequences per CPU second", line)
        if m:
            run["enc"] = (float(m.group(2)), float(m.group(3)))
        m = re.match(r"command: (.*)", line)
        if m:
            run["command"] = m.group(1).strip()
        m = re.match(r"source: (\w+)( with uncommitted changes)? \((\w+)\)", line)
        if m:
            run["source"] = m.group(1)
            if not m.group(2):
                run["commit"] = m.group(3)
        m = re.match(r"code: (\w+)$", line)
        if m:
            run["code"] = m.group(1)
    for need in ("date", "family", "reps", "core", "gbs"):
        if need not in run:
            sys.exit("summarize: %s: no %s found (not a recorded bench/run.sh output?)"
                     % (path, need))
    rows = goals_mod.table_rows(lines)
    run["rows"] = {(s, r["op"], r.get("n", "")): r for s, r in rows
                   if s not in ("PyTorch", "Threads") and "op" in r}
    run["torch"] = {(r["op"], r["n"]): r for s, r in rows if s == "PyTorch"}
    return run


def span(values, digits=2):
    """'lo-hi' (en dash) of the values, or one figure when they round alike."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    a, b = "%.*f" % (digits, lo), "%.*f" % (digits, hi)
    return a if a == b else "%s–%s" % (a, b)


def number(text):
    text = (text or "").rstrip("x")
    return float(text) if text else None


def keys_of(runs, section, op):
    """The (section, op, n) keys a SECTION_ROWS entry stands for, in the order
    of the runs' output."""
    seen = []
    for r in runs:
        for key in r["rows"]:
            if key[0] != section or key in seen:
                continue
            if (op.endswith("*") and key[1].startswith(op[:-1])) or key[1] == op:
                seen.append(key)
    return seen


def load_codes():
    """bench/results/codes.tsv: commit -> code digest, for runs recorded
    before bench/run.sh printed a `code:` line."""
    codes = {}
    with open(CODES, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                commit, code = line.split()
                codes[commit] = code
    return codes


def current(runs):
    """The runs of the newest run's code (bench/digest.sh's digest of the
    machine code measured; a run without a `code:` line has its committed
    source's, from codes.tsv, or else is keyed by its source digest: runs
    from before either count as one), and how many older runs are left
    out."""
    codes = load_codes()
    for r in runs:
        if "code" not in r and r.get("commit") in codes:
            r["code"] = codes[r["commit"]]

    def key(r):
        return ("code", r["code"]) if "code" in r else ("source", r.get("source", ""))

    newest = key(max(runs, key=lambda r: (r["date"], r["time"])))
    same = [r for r in runs if key(r) == newest]
    return same, len(runs) - len(same), newest


def by_run(runs, goal_list):
    """A line per ranged run: its host beside the random kernels' ratios to
    their floors, so that a reader can tell a slow host from a slow kernel:
    the memory-bound rows miss where the scale loop and the generator take
    about the same time, the in-cache rows where the generator alone ran
    slow (the host busy: it does no memory traffic)."""
    out = ["", "Run by run: the host (the scale loop's bandwidth; the generator alone, "
           "which touches no memory, in ns per word, and over the scale loop at 16M), "
           "`gd_dropout_fwd` + mask's ratio to its floor at 16M and 64K, and the goals "
           "missed.\n",
           "| run | memory GB/s | generator, ns/word | generator / scale loop, 16M "
           "| fwd to floor, 16M | fwd to floor, 64K | goals missed |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    fwd = "gd_dropout_fwd p=0.1 + mask"
    gen = "generator: Philox words of n elements"
    for r in sorted(runs, key=lambda r: (r["date"], r["time"])):
        def row(section, op):
            return next((v for k, v in r["rows"].items() if k[0] == section and k[1] == op), {})

        big = row("large", gen)
        ns = (float(big["ms"]) * 1e6 / int(big["n"]) if big.get("ms") and big.get("n")
              else None)
        results = goals_mod.check(goal_list, [(k[0], v) for k, v in r["rows"].items()])
        out.append("| %s %s | %.1f | %s | %s | %s | %s | %d of %d |" % (
            r["date"], r["time"], r["gbs"], "%.3f" % ns if ns is not None else "",
            big.get("ratio", ""), row("large", fwd).get("ratio to floor", ""),
            row("small", fwd).get("ratio to floor", ""),
            sum(not met for *_, met in results), len(results)))
    return out


def summarise(all_runs):
    goal_list = goals_mod.load()
    runs, older, (kind, digest) = current(all_runs)
    out = []
    days = sorted({r["date"] for r in runs})
    fams = sorted({r["family"] for r in runs})
    cores = sorted({r["core"] for r in runs})
    cpus = sorted({"%s, %s CPUs" % (r["cpu"], r["cpus"]) for r in runs})
    loads = [float(r["load"]) for r in runs if r["load"] != "?"]
    commands = sorted({r.get("command", "bench/run.sh") for r in runs})
    out.append("Ranges over %d runs of %s on %d day%s (%s), one thread, on %s: kernel family "
               "%s, OpenBLAS core %s, memory bandwidth of the scale loop over 16M floats "
               "%s GB/s, load average %s at the starts (a shared machine). Each run's figure "
               "is the median over its rounds (every op of a row timed once a round; a "
               "ratio is the median of the rounds' ratios); the runs are "
               "`bench/results/runs/*.md`, this table is `bench/summarize.py`'s, the goals "
               "`bench/goals.tsv`.%s\n"
               % (len(runs), " / ".join("`%s`" % c for c in commands), len(days),
                  "" if len(days) == 1 else "s", ", ".join(days), "; ".join(cpus),
                  " / ".join("`%s`" % f for f in fams), " / ".join("`%s`" % c for c in cores),
                  span([r["gbs"] for r in runs], 1), span(loads, 1) or "unknown",
                  (" Only the runs of the newest %s are ranged (%s; `bench/digest.sh`); "
                   "%d older run%s of other code stay in that folder."
                   % (kind, ("`code: %s` in their header or `codes.tsv`, the digest of the "
                             "library's, benchmark's and encoder's machine code" % digest)
                      if kind == "code" else
                      ("`source: %s` in their header, the digest of the library's, build's "
                       "and benchmark's sources" % digest),
                      older, "" if older == 1 else "s")) if older and digest else
                  (" %d older runs stay in that folder." % older if older else "")))
    out.append("| op | n | ratio to baseline | baseline | ratio to max(baseline, generator) "
               "| goal |")
    out.append("|---|---:|---:|---|---:|---|")
    for section, op, label in SECTION_ROWS:
        for key in keys_of(runs, section, op):
            rows = [r["rows"][key] for r in runs if key in r["rows"]]
            ratio = [number(x.get("ratio")) for x in rows]
            floor = [number(x.get("ratio to floor")) for x in rows]
            floor = [v for v in floor if v is not None]
            g = next((g for g in goal_list if goals_mod.matches(g, section, rows[0])), None)
            goal = ""
            if g:
                vals = ratio if g["column"] == "ratio" else floor
                met = sum(v <= g["max"] for v in vals)
                goal = "%s <= %.2f: met in %d of %d runs" % (
                    "to floor" if g["column"] == "ratio to floor" else "to baseline",
                    g["max"], met, len(vals))
            name = label
            if op.endswith("*"):
                tail = key[1][len(op) - 1:].replace(" + mask", "").strip()
                name = "%s %s" % (label, tail)
            base = rows[0].get("baseline") or "its sgemm%s" % (
                "s, one per example" if section == "fisher-seq" else " (same shape)")
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                name, size(key[2]), span(ratio), base, span(floor), goal))
    out.extend(by_run(runs, goal_list))
    enc = [r["enc"] for r in runs if "enc" in r]
    if enc:
        out.append("")
        out.append("The example encoder's whole Fisher pass (`encoder fisher --ckpt "
                   "examples/encoder/pretrained`, one thread, %d of %d runs): %s sequences per "
                   "second of wall time in the loop, %s per CPU second of the whole process "
                   "(loading and saving included; the machine is shared, so CPU time says "
                   "more)." % (len(enc), len(runs), span([e[0] for e in enc], 0),
                               span([e[1] for e in enc], 0)))
    torch = [r for r in runs if r["torch"]]
    if torch:
        out.append("")
        out.append("Against PyTorch 1.13 on the CPU (Debian's `python3-torch`), one thread each, "
                   "in the same runs (%d of %d): how many times faster libgdropout is. "
                   "Runs before bench/torch_bench.py timed thread CPU time (issue 28) timed "
                   "PyTorch in wall time, which a loaded machine inflates.\n"
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
    print("summarize: wrote %s from the %d runs of the newest code (%d in all)"
          % (os.path.relpath(OUT), len(current([parse_run(p) for p in paths])[0]), len(paths)))


if __name__ == "__main__":
    main()
