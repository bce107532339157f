#!/usr/bin/env python3
"""The generated manual against the library's interface.

  1. every symbol exported by lib/gdropout.map (every version node) has its
     page <mandir>/man3/<symbol>.3, and every generated gd_* page is an
     exported symbol;
  2. each page's NAME line names its function, and its .TH carries the
     project version (as do gdropout(3) and gdropout-plan(1)); gdropout(3)
     names every exported function;
  3. groff renders every page without a warning, and `man -M` finds a
     function's page by its name (each skipped when the tool is absent);
  4. man/gen_man.py fails loudly (exit 1, the function named) on a public
     function without a comment, or with a blank line between its comment
     and its declaration, or declared GD_API GD_NODISCARD (the order gcc
     cannot compile), and writes no page for it.

usage: check_man.py <source dir> <build man dir> <project version> <work dir>
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def map_symbols(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return set(re.findall(r"^\s*(gd_\w+)\s*;", text, flags=re.M))


def th_version(page):
    with open(page, encoding="utf-8") as f:
        for line in f:
            if line.startswith(".TH "):
                m = re.search(r'"libgdropout ([^"]+)"', line)
                return m.group(1) if m else None
    return None


def check_pages(src, mandir, version):
    symbols = map_symbols(os.path.join(src, "lib", "gdropout.map"))
    if len(symbols) < 40:
        fail(f"only {len(symbols)} symbols parsed from lib/gdropout.map")
    man3 = os.path.join(mandir, "man3")
    pages = {f[:-2] for f in os.listdir(man3) if re.fullmatch(r"gd_\w+\.3", f)}
    for s in sorted(symbols - pages):
        fail(f"exported symbol {s} has no manual page {man3}/{s}.3")
    for p in sorted(pages - symbols):
        fail(f"page {p}.3 names no exported symbol")
    for name in sorted(pages & symbols):
        path = os.path.join(man3, name + ".3")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if not re.search(r"^\.SH NAME\n" + re.escape(name) + r" \\- \S", text, flags=re.M):
            fail(f"{path}: NAME does not start with '{name} \\- '")
        if th_version(path) != version:
            fail(f"{path}: .TH version {th_version(path)!r}, CMake's is {version!r}")
    # the overview names every function, so that a reader finds the page
    # (gd_plan_control and gd_fisher_set_sgemm were once missing)
    with open(os.path.join(mandir, "man3", "gdropout.3"), encoding="utf-8") as f:
        overview = f.read()
    for s in sorted(symbols):
        if not re.search(r"\b" + s + r"\b", overview):
            fail(f"gdropout(3) does not name the exported function {s}")
    for extra in ("man3/gdropout.3", "man1/gdropout-plan.1"):
        path = os.path.join(mandir, extra)
        if th_version(path) != version:
            fail(f"{path}: .TH version {th_version(path)!r}, CMake's is {version!r}")
    print(f"{len(pages & symbols)} function pages for {len(symbols)} exported symbols")
    return sorted(pages)


def check_render(mandir, pages):
    groff = shutil.which("groff")
    if groff:
        paths = [os.path.join(mandir, "man3", p + ".3") for p in pages]
        paths += [os.path.join(mandir, "man3/gdropout.3"), os.path.join(mandir, "man1/gdropout-plan.1")]
        for path in paths:
            r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", path],
                               capture_output=True, text=True)
            if r.returncode != 0 or r.stderr.strip():
                fail(f"groff warns on {path}: {r.stderr.strip()}")
        print(f"groff: {len(paths)} pages render without warnings")
    else:
        print("groff not installed: rendering not checked")
    man = shutil.which("man")
    if man:
        r = subprocess.run([man, "-M", mandir, "-w", "gd_dropout_fwd"], capture_output=True, text=True)
        want = os.path.join(mandir, "man3", "gd_dropout_fwd.3")
        if r.returncode != 0 or os.path.realpath(r.stdout.strip()) != os.path.realpath(want):
            fail(f"man -M {mandir} -w gd_dropout_fwd gave {r.stdout.strip()!r} {r.stderr.strip()!r}")
        else:
            print("man -w gd_dropout_fwd finds " + r.stdout.strip())
    else:
        print("man not installed: lookup not checked")


UNDOCUMENTED = """/*
 * libgdropout: a header for the generator's own test.
 */
/* Documented.  Errors: GD_EINVAL. */
GD_NODISCARD GD_API int gd_documented(int x);
%s
GD_NODISCARD GD_API int gd_undocumented(int x);
"""


def check_generator_refuses(src, work):
    gen = os.path.join(src, "man", "gen_man.py")
    cases = {
        "no comment": UNDOCUMENTED % "",
        "blank line after the comment": UNDOCUMENTED % "/* Separated from its declaration. */\n",
        "GD_NODISCARD after GD_API": (UNDOCUMENTED % "/* Documented. */").replace(
            "GD_NODISCARD GD_API int gd_undocumented", "GD_API GD_NODISCARD int gd_undocumented"),
    }
    for what, text in cases.items():
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            header = os.path.join(tmp, "bad.h")
            with open(header, "w", encoding="utf-8") as f:
                f.write(text)
            out = os.path.join(tmp, "man3")
            r = subprocess.run([sys.executable, gen, "--version", "9.9.9", "--date", "2000-01-01",
                                "--outdir", out, header], capture_output=True, text=True)
            if r.returncode != 1 or "gd_undocumented" not in r.stderr:
                fail(f"gen_man.py on a function with {what}: exit {r.returncode}, "
                     f"stderr {r.stderr.strip()!r}; want exit 1 naming gd_undocumented")
            elif os.path.exists(os.path.join(out, "gd_undocumented.3")):
                fail(f"gen_man.py wrote a page for a function with {what}")
            else:
                print(f"gen_man.py refuses a function with {what}: {r.stderr.strip()}")
    # and the same header, documented, gives both pages
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        header = os.path.join(tmp, "good.h")
        with open(header, "w", encoding="utf-8") as f:
            f.write(UNDOCUMENTED % "/* Now documented too. */")
        out = os.path.join(tmp, "man3")
        r = subprocess.run([sys.executable, gen, "--version", "9.9.9", "--date", "2000-01-01",
                            "--outdir", out, header], capture_output=True, text=True)
        got = sorted(os.listdir(out)) if os.path.isdir(out) else []
        if r.returncode != 0 or got != ["gd_documented.3", "gd_undocumented.3"]:
            fail(f"gen_man.py on a documented header: exit {r.returncode}, pages {got}")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    src, mandir, version, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    pages = check_pages(src, mandir, version)
    check_render(mandir, pages)
    check_generator_refuses(src, work)
    if failures:
        print(f"{len(failures)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
