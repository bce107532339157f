#!/usr/bin/env python3
"""The README stays a page a newcomer reads in five minutes, and its links work.

README.md:
  - at most MAX_LINES lines (300): results live in docs/RESULTS.md, the
    promises in docs/GUARANTEES.md;
  - one heading outline: exactly one level-1 heading, the first line (so no
    pasted report brings its own), and no level skipped on the way down;
  - a "Contents:" line that links every level-2 section, in order, and
    nothing else.
README.md, CONTRIBUTING.md and docs/*.md:
  - every relative link names a file or folder of the repository, and every
    #anchor (on the page itself or another Markdown page) a heading there;
  - a docs page with a "Contents:" line has it list every section too.
gdropout-plan: every long option in its manual page and docs/GUIDE.md.

Headings and links inside fenced code blocks are not headings or links.

usage: check_readme.py SRCDIR [--max-lines N]
"""
import argparse
import os
import re
import sys

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    inside = False
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            yield n, line


def slug(title):
    """GitHub's anchor for a heading."""
    s = title.replace("`", "").strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def headings(text):
    return [(n, len(m.group(1)), m.group(2)) for n, line in prose_lines(text)
            if (m := HEADING.match(line))]


def check_outline(path, text, max_lines):
    errors = []
    lines = text.split("\n")
    count = len(lines) - (1 if lines and lines[-1] == "" else 0)
    if count > max_lines:
        errors.append(f"{count} lines, more than {max_lines}: move detail to docs/ and link it")
    hs = headings(text)
    top = [h for h in hs if h[1] == 1]
    if len(top) != 1 or not hs or hs[0][0] != 1 or hs[0][1] != 1:
        where = ", ".join(f"line {n}: {t}" for n, _, t in top) or "none"
        errors.append(f"want exactly one level-1 heading, on line 1; found {where}")
    level = 1
    for n, lv, title in hs[1:]:
        if lv > level + 1:
            errors.append(f"line {n}: level-{lv} heading '{title}' under a level-{level} one")
        level = lv
    return [f"{path}: {e}" for e in errors] + check_contents(path, text)


def contents_lines(text):
    """The "Contents:" line, which may wrap: its lines up to a blank one."""
    out, inside = [], False
    for _, line in prose_lines(text):
        if line.startswith("Contents:"):
            out.append([])
            inside = True
        elif not line.strip():
            inside = False
        if inside:
            out[-1].append(line)
    return [" ".join(lines) for lines in out]


def check_contents(path, text):
    """One "Contents:" paragraph linking every level-2 section, in order."""
    sections = [slug(t) for _, lv, t in headings(text) if lv == 2]
    contents = contents_lines(text)
    if len(contents) != 1:
        return [f"{path}: want one 'Contents:' line, found {len(contents)}"]
    listed = re.findall(r"\]\(#([^)]+)\)", contents[0])
    if listed == sections:
        return []
    missing = [s for s in sections if s not in listed]
    extra = [s for s in listed if s not in sections]
    return [f"{path}: the Contents line does not list the sections in order"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not a section: {', '.join(extra)}" if extra else "")]


def tool_options(src):
    """gdropout-plan's long options, from the tool's own table."""
    with open(os.path.join(src, "tools", "gdropout_plan.c"), encoding="utf-8") as f:
        return re.findall(r'\{"([a-z-]+)", (?:no|required|optional)_argument', f.read())


def check_tool_options(src, options, man_text, guide_text):
    """Every option of the tool on its manual page (which says it has them
    all) and in docs/GUIDE.md's list: --control and --seed were once in
    --help alone."""
    errors = []
    for opt in options:
        if "\\-\\-" + opt.replace("-", "\\-") not in man_text:
            errors.append(f"man/gdropout-plan.1.in: no option --{opt}")
        if f"`--{opt}" not in guide_text:
            errors.append(f"docs/GUIDE.md: the tool's option list has no `--{opt}`")
    return errors


def check_links(src, path):
    errors = []
    with open(os.path.join(src, path), encoding="utf-8") as f:
        text = f.read()
    here = os.path.dirname(path)
    for n, line in prose_lines(text):
        for m in LINK.finditer(line):
            target = m.group(1) or m.group(2)
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(here, file_part)) if file_part else path
            full = os.path.join(src, dest)
            if not os.path.exists(full):
                errors.append(f"{path}:{n}: link to {target}: no such file")
                continue
            if anchor and dest.endswith(".md"):
                with open(full, encoding="utf-8") as f:
                    anchors = {slug(t) for _, _, t in headings(f.read())}
                if anchor not in anchors:
                    errors.append(f"{path}:{n}: link to {target}: no heading '#{anchor}' in {dest}")
    return errors


def self_test():
    """Each check fails on a README made to break it (a check that cannot
    fail is no check); returns the names of those that did not."""
    import tempfile
    good = ("# T\n\nContents: [A](#a), [B c?](#b-c).\n\n## A\n\n### A1\n\n"
            "[ok](README.md#a1)\n\n## B c?\n\n```sh\n# not a heading\n```\n")
    bad = {
        "too long": good + "x\n" * 300,
        "second level-1 heading": good + "# Pasted report\n",
        "skipped level": good.replace("### A1", "#### A1"),
        "section not in Contents": good + "## Extra\n",
        "Contents out of order": good.replace("[A](#a), [B c?](#b-c)", "[B c?](#b-c), [A](#a)"),
        "broken file link": good + "[x](docs/NONE.md)\n",
        "broken anchor": good + "[x](#nowhere)\n",
    }
    missed = []
    man, guide = "\\-\\-seed \\-\\-p\\-max", "`--seed N`, `--p-max`"
    if check_tool_options("", ["seed", "p-max"], man, guide):
        missed.append("good tool options: refused")
    if not check_tool_options("", ["seed", "control"], man, guide):
        missed.append("an option missing from the man page and GUIDE: passed")
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "docs"))
        open(os.path.join(d, "CONTRIBUTING.md"), "w").close()
        for name, text in [("good", good)] + list(bad.items()):
            with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
                f.write(text)
            errors = check_outline("README.md", text, 300) + check_links(d, "README.md")
            if (name == "good") == bool(errors):
                missed.append(f"{name}: {errors or 'passed'}")
    return missed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--max-lines", type=int, default=300)
    args = ap.parse_args()
    missed = self_test()
    for m in missed:
        print(f"FAIL self-test: {m}", file=sys.stderr)
    if missed:
        return 1
    with open(os.path.join(args.src, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    errors = check_outline("README.md", readme, args.max_lines)
    pages = ["README.md", "CONTRIBUTING.md"]
    docs = os.path.join(args.src, "docs")
    pages += sorted(os.path.join("docs", p) for p in os.listdir(docs) if p.endswith(".md"))
    for page in pages:
        errors += check_links(args.src, page)
        if page.startswith("docs"):
            with open(os.path.join(args.src, page), encoding="utf-8") as f:
                text = f.read()
            if contents_lines(text):
                errors += check_contents(page, text)
    with open(os.path.join(args.src, "man", "gdropout-plan.1.in"), encoding="utf-8") as f:
        man = f.read()
    with open(os.path.join(args.src, "docs", "GUIDE.md"), encoding="utf-8") as f:
        guide = f.read()
    options = tool_options(args.src)
    if len(options) < 10:
        errors.append(f"tools/gdropout_plan.c: found {len(options)} long options, expected "
                      "the LONG_OPTIONS table's 11")
    errors += check_tool_options(args.src, options, man, guide)
    for e in errors:
        print(f"FAIL {e}", file=sys.stderr)
    if errors:
        return 1
    n = len(readme.rstrip("\n").split("\n"))
    print(f"README.md: {n} lines, one outline, Contents complete; links of "
          f"{len(pages)} pages resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
