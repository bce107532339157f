#!/usr/bin/env python3
"""Every C example a user reads compiles warning-free and runs clean.

Sources: each ```c block of the repository's Markdown files (README.md,
CONTRIBUTING.md, docs/*.md and any other tracked *.md outside build trees),
and each .EX/.EE example of the section-3 manual pages in <man dir>/man3.

The convention (CONTRIBUTING.md, "Code in the documentation"):
  - a block with no comment before it is a whole program (it has main);
  - an HTML comment directly above the fence (blank lines allowed between)
        <!-- snippet: wrap
        ...C code...{{snippet}}...C code...
        -->
    is a template: the line holding {{snippet}} is replaced by the block,
    which makes the program (includes, declarations, main, checks of what the
    block computed).  The reader sees only the block; the template is the
    smallest honest context for it;
  - `<!-- snippet: skip REASON -->` excuses a block that cannot run here
    (REASON printed); use it for fragments of other languages' code only;
  - a manual page's example is always a whole program.

Each program is compiled with the compiler and flags given (-std=c11 -Wall
-Wextra -Wpedantic, -Werror when the build uses it, and the sanitizers),
against the source tree's headers and the built library, and run in an
empty directory of its own; it must exit 0 within 60 s.

usage: check_snippets.py --cc CC --flags "..." --include DIR... --lib FILE
                         --src SRCDIR [--man MANDIR] --work WORKDIR
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\s*$")
SNIPPET_COMMENT = re.compile(r"<!--\s*snippet:\s*(\w+)(.*?)-->", re.S)


class Block:
    def __init__(self, origin, code, mode, template=None, reason=None):
        self.origin, self.code, self.mode = origin, code, mode
        self.template, self.reason = template, reason


def markdown_files(src):
    out = []
    for root, dirs, files in os.walk(src):
        # Skip build trees (anything CMake configured) and hidden folders.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not os.path.exists(os.path.join(root, d, "CMakeCache.txt"))
                         and not d.startswith(("build", "obj-")) and d != "debian")
        out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".md")]
    return out


def markdown_blocks(path, src):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    blocks, i = [], 0
    pos = 0  # character offset of line i
    offsets = []
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        code = "\n".join(lines[start + 1:i]) + "\n"
        i += 1
        if lang != "c":
            continue
        origin = f"{os.path.relpath(path, src)}:{start + 1}"
        # The comment that ends right above the fence (blank lines allowed).
        before = text[:offsets[start]].rstrip()
        mode, template, reason = "program", None, None
        if before.endswith("-->"):
            open_at = before.rfind("<!--")
            cm = SNIPPET_COMMENT.fullmatch(before[open_at:])
            if cm:
                mode = cm.group(1)
                if mode == "wrap":
                    template = cm.group(2)
                    if "{{snippet}}" not in template:
                        raise SystemExit(f"{origin}: the wrap template has no {{{{snippet}}}} line")
                elif mode == "skip":
                    reason = cm.group(2).strip() or "no reason given"
                else:
                    raise SystemExit(f"{origin}: unknown snippet mode '{mode}' (wrap or skip)")
        blocks.append(Block(origin, code, mode, template, reason))
    return blocks


def man_blocks(man3):
    blocks = []
    if not os.path.isdir(man3):
        return blocks
    for name in sorted(os.listdir(man3)):
        if not name.endswith(".3"):
            continue
        with open(os.path.join(man3, name), encoding="utf-8") as f:
            lines = f.read().split("\n")
        inside, code, start = False, [], 0
        for n, line in enumerate(lines):
            if line.startswith(".EX"):
                inside, code, start = True, [], n
            elif line.startswith(".EE"):
                inside = False
                blocks.append(Block(f"man3/{name}:{start + 1}", unroff("\n".join(code)) + "\n",
                                    "program"))
            elif inside and not line.startswith('.\\"'):
                code.append(line)
    return blocks


def unroff(s):
    """The text a reader sees in an .EX block (the escapes the pages use)."""
    s = s.replace("\\e", "\x00").replace("\\-", "-").replace("\\&", "")
    s = s.replace("\\(aq", "'").replace("\\(dq", '"')
    return s.replace("\x00", "\\")


def program(block):
    if block.mode == "wrap":
        out = []
        for line in block.template.strip("\n").split("\n"):
            out.append(block.code.rstrip("\n") if "{{snippet}}" in line else line)
        return "\n".join(out) + "\n"
    return block.code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--flags", default="")
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--man", help="built man dir (its man3 examples are checked too)")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()

    blocks = []
    for path in markdown_files(args.src):
        blocks += markdown_blocks(path, args.src)
    if args.man:
        man = man_blocks(os.path.join(args.man, "man3"))
        if not man:
            print(f"FAIL: no example in the section-3 pages under {args.man}", file=sys.stderr)
            return 1
        blocks += man
    else:
        print("no --man: the manual pages' examples are not checked")
    if not any(b.origin.startswith("README.md:") for b in blocks):
        print("FAIL: no C block found in README.md", file=sys.stderr)
        return 1

    os.makedirs(args.work, exist_ok=True)
    libdir = os.path.dirname(os.path.abspath(args.lib))
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    failures = ran = 0
    for k, b in enumerate(blocks):
        if b.mode == "skip":
            print(f"skip {b.origin}: {b.reason}")
            continue
        if b.mode == "program" and not re.search(r"\bint\s+main\s*\(", b.code):
            print(f"FAIL {b.origin}: not a whole program (no main); put a "
                  "'<!-- snippet: wrap ... -->' template above it", file=sys.stderr)
            failures += 1
            continue
        tag = re.sub(r"[^A-Za-z0-9]+", "_", b.origin)
        rundir = os.path.join(args.work, f"{k:02d}_{tag}")
        os.makedirs(rundir, exist_ok=True)
        for old in os.listdir(rundir):
            os.remove(os.path.join(rundir, old))
        srcfile = os.path.join(rundir, "snippet.c")
        with open(srcfile, "w", encoding="utf-8") as f:
            f.write(program(b))
        exe = os.path.join(rundir, "snippet")
        cmd = [args.cc] + shlex.split(args.flags) + [f"-I{d}" for d in args.include]
        cmd += [srcfile, "-o", exe, args.lib, f"-Wl,-rpath,{libdir}", "-lm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {b.origin}: does not compile:\n  {' '.join(cmd)}\n{r.stderr}",
                  file=sys.stderr)
            failures += 1
            continue
        try:
            r = subprocess.run([exe], cwd=rundir, capture_output=True, text=True, timeout=60,
                               env=env)
        except subprocess.TimeoutExpired:
            print(f"FAIL {b.origin}: still running after 60 s", file=sys.stderr)
            failures += 1
            continue
        if r.returncode != 0:
            print(f"FAIL {b.origin}: exit {r.returncode}\n{r.stdout}{r.stderr}", file=sys.stderr)
            failures += 1
            continue
        ran += 1
        first = (r.stdout.strip().split("\n") or [""])[0]
        print(f"ok   {b.origin}" + (f": {first}" if first else ""))
    print(f"{ran} examples compiled and ran, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
