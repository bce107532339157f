#!/usr/bin/python3
"""Checks a gd_bench output against the goals in bench/goals.tsv.

    bench/goals.py OUTPUT.md      print the goals missed (always exits 0:
                                  timing on shared machines is not a test)

bench/run.sh ends with this list; bench/summarize.py uses the same goals
(load, table_rows, check) to count the runs that met each.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOALS = os.path.join(HERE, "goals.tsv")


def load(path=GOALS):
    """[{section, op, column, max, why}] in file order."""
    goals = []
    with open(path, encoding="utf-8") as f:
        for num, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5:
                sys.exit("goals: %s:%d: want 5 tab-separated fields, got %d"
                         % (path, num, len(fields)))
            section, op, column, limit, why = fields
            goals.append({"section": section, "op": op, "column": column,
                          "max": float(limit), "why": why})
    return goals


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_rows(lines):
    """[(section, row dict)] of every markdown table under a '### ' title;
    the section is the title's first word, without a trailing colon."""
    out, section, header = [], None, None
    for line in lines:
        if line.startswith("### "):
            section, header = line[4:].split()[0].rstrip(":"), None
            continue
        if not line.startswith("|") or section is None:
            if line.strip():
                header = None  # prose: the next table has its own header
            continue
        c = cells(line)
        if header is None:
            header = c
            continue
        if set("".join(c)) <= set("-:"):
            continue
        out.append((section, dict(zip(header, c))))
    return out


def matches(goal, section, row):
    if goal["section"] != section or "op" not in row:
        return False
    op = goal["op"]
    return row["op"].startswith(op[:-1]) if op.endswith("*") else row["op"] == op


def value(row, column):
    text = row.get(column, "").rstrip("x")
    return float(text) if text else None


def check(goals, rows):
    """[(goal, section, row, value, met)] for every row a goal covers."""
    out = []
    for goal in goals:
        for section, row in rows:
            if matches(goal, section, row):
                v = value(row, goal["column"])
                if v is not None:
                    out.append((goal, section, row, v, v <= goal["max"]))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        results = check(load(), table_rows(f))
    missed = [r for r in results if not r[4]]
    print("\n### Goals missed (bench/goals.tsv): %d of %d\n" % (len(missed), len(results)))
    for goal, section, row, v, _ in missed:
        n = " n = %s," % row["n"] if row.get("n") else ""
        print("- %s: %s,%s %s %.2f > %.2f (%s)"
              % (section, row["op"], n, goal["column"], v, goal["max"], goal["why"]))
    if not missed:
        print("(none)")


if __name__ == "__main__":
    main()
