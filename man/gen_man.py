#!/usr/bin/env python3
"""Writes one section-3 manual page per public function from the headers.

The header comments are the manual: each GD_API declaration must follow a
comment block (nothing between them).  This turns each into a page
<outdir>/<function>.3 with NAME (the comment's first sentence), SYNOPSIS
(the declaration), DESCRIPTION (the comment), RETURN VALUE for the fallible
ones, TYPES (the documented typedefs it uses, such as gd_stream), NOTES (the header's own opening comment: the conventions every
function of that header shares) and SEE ALSO.

Comment layout it understands (as the headers are written): the text after
" * " is prose, filled by man; a line indented further (formulas, lists,
tables) starts a verbatim block that runs until the next prose line or blank
line.

usage: gen_man.py --version X.Y.Z --date YYYY-MM-DD --outdir DIR header.h...

A declaration without a comment, or a header that declares nothing, is an
error: the script names the function and line and exits 1, so a build with a
missing manual page fails instead of installing an incomplete manual.
Python 3 standard library only.
"""
import argparse
import os
import re
import sys

DECL_START = re.compile(r"^\s*(?:GD_NODISCARD\s+)?GD_API\b")
FUNC_NAME = re.compile(r"\b(gd_\w+)\s*\(")
INCLUDE_LINE = re.compile(r"Include <gdropout/gdropout\.h> rather than this file directly\.?")


class ManError(Exception):
    pass


def comment_text(lines):
    """The text of a /* ... */ block, its ' * ' prefixes removed."""
    out = []
    for i, line in enumerate(lines):
        s = line.rstrip()
        if i == 0:
            s = re.sub(r"^\s*/\*+", "", s)
        if s.endswith("*/"):
            s = s[:-2].rstrip()
        m = re.match(r"^\s*\* ?(.*)$", s) if i > 0 else None
        if m:
            s = m.group(1)
        elif i == 0:
            s = s[1:] if s.startswith(" ") else s
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def parse_header(path):
    """(opening comment lines, [(name, declaration, comment lines, line no)])."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    opening = None
    functions = []
    typedefs = {}  # name -> (comment lines, declaration lines), documented ones only
    last_comment = None  # (lines, index of the line after it)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("/*"):
            start = i
            while "*/" not in lines[i]:
                i += 1
                if i >= len(lines):
                    raise ManError(f"{path}:{start + 1}: unterminated comment")
            block = comment_text(lines[start:i + 1])
            if opening is None and start < 3:
                opening = block
            last_comment = (block, i + 1)
            i += 1
            continue
        if stripped.startswith("typedef") and last_comment and last_comment[1] == i:
            start, depth, decl = i, 0, []
            while True:
                decl.append(lines[i].rstrip())
                depth += lines[i].count("{") - lines[i].count("}")
                if depth == 0 and lines[i].rstrip().endswith(";"):
                    break
                i += 1
                if i >= len(lines):
                    raise ManError(f"{path}:{start + 1}: typedef without ';'")
            text = " ".join(decl)
            m = re.search(r"\(\s*\*\s*(gd_\w+)\s*\)", text) or re.search(r"(gd_\w+)\s*;\s*$", text)
            if m:
                typedefs[m.group(1)] = (last_comment[0], decl)
            i += 1
            continue
        if DECL_START.match(line) and not stripped.startswith("#"):
            start = i
            decl = []
            while True:
                decl.append(lines[i].strip())
                if ";" in lines[i]:
                    break
                i += 1
                if i >= len(lines):
                    raise ManError(f"{path}:{start + 1}: declaration without ';'")
            text = " ".join(decl)
            m = FUNC_NAME.search(text)
            if not m:
                raise ManError(f"{path}:{start + 1}: GD_API declaration names no gd_ function")
            name = m.group(1)
            if re.search(r"\bGD_API\s+GD_NODISCARD\b", text):
                # gcc then fails with "expected identifier before __extension__".
                raise ManError(f"{path}:{start + 1}: {name}: write GD_NODISCARD GD_API, in that "
                               "order (include/gdropout/common.h says why)")
            if last_comment is None or last_comment[1] != start:
                raise ManError(f"{path}:{start + 1}: {name} has no comment right above its "
                               "declaration; the header comment is its manual page")
            functions.append((name, text, last_comment[0], start + 1))
        i += 1
    return opening or [], functions, typedefs


def roff_escape(s):
    s = s.replace("\\", "\\e")
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def render_blocks(text_lines):
    """Prose paragraphs filled, indented lines verbatim, as man(7) requests."""
    out = []
    prose = []
    verbatim = []

    def flush_prose():
        if prose:
            if out:
                out.append(".PP")
            out.extend(roff_escape(p) for p in prose)
            prose.clear()

    def flush_verbatim():
        if verbatim:
            # Strip the common indentation; keep the rest as written.
            cut = min(len(v) - len(v.lstrip()) for v in verbatim if v.strip())
            out.extend([".PP", ".RS 4", ".nf"])
            out.extend(roff_escape(v[cut:]) if v.strip() else "" for v in verbatim)
            out.extend([".fi", ".RE"])
            verbatim.clear()

    for line in text_lines:
        if not line.strip():
            flush_prose()
            flush_verbatim()
        elif line.startswith(" "):
            flush_prose()
            verbatim.append(line)
        else:
            flush_verbatim()
            prose.append(line.strip())
    flush_prose()
    flush_verbatim()
    return out


def summary(comment, name):
    """The comment's first sentence, on one line, for NAME and whatis.

    The headers end sentences with a period and two spaces; a verbatim
    block (after a colon) also ends it."""
    text = ""
    for line in comment:
        if not line.strip() or (line.startswith(" ") and text):
            break
        text += line.strip() + "  "
    m = re.search(r"\.(\s{2}|$)", text)
    if m:
        text = text[:m.start()]
    text = re.sub(r"\s+", " ", text).rstrip(".: ").strip()
    if not text:
        raise ManError(f"{name}: the comment's first sentence is empty")
    return text


def synopsis(decl, name):
    decl = re.sub(r"\bGD_NODISCARD\s+", "", decl)
    decl = re.sub(r"\bGD_API\s+", "", decl)
    decl = re.sub(r"\s+", " ", decl).replace("( ", "(").replace(" )", ")").strip()
    # One parameter list, wrapped under its opening parenthesis.
    head, params = decl.split("(", 1)
    params = params.rsplit(")", 1)[0]
    parts = [p.strip() for p in params.split(",")]
    indent = " " * (len(head) + 1)
    lines, cur = [], head + "("
    for k, p in enumerate(parts):
        piece = p + ("," if k + 1 < len(parts) else ");")
        if cur.endswith("(") or len(cur) + 1 + len(piece) <= 78:
            cur = cur + ("" if cur.endswith("(") else " ") + piece
        else:
            lines.append(cur)
            cur = indent + piece
    lines.append(cur)
    return lines


def page(name, decl, comment, header, opening, version, date, all_names, typedefs):
    fallible = bool(re.search(r"\bGD_NODISCARD\b", decl)) and re.search(
        r"GD_API\s+int\s+gd_", decl)
    out = [
        ".\\\" Generated by man/gen_man.py from include/gdropout/" + header + "; do not edit.",
        f'.TH {name.upper()} 3 {date} "libgdropout {version}" "Library Functions Manual"',
        ".SH NAME",
        f"{name} \\- {roff_escape(summary(comment, name))}",
        ".SH LIBRARY",
        "libgdropout",
        '.RI ( "pkg\\-config \\-\\-cflags \\-\\-libs gdropout" ;',
        "CMake:",
        '.BR "find_package(gdropout 1)" ", target " gdropout::gdropout )',
        ".SH SYNOPSIS",
        ".nf",
        ".B #include <gdropout/gdropout.h>",
        ".PP",
    ]
    out += [f'.B "{roff_escape(s)}"' for s in synopsis(decl, name)]
    out += [".fi", ".SH DESCRIPTION"]
    out += render_blocks(comment)
    if fallible:
        out += [
            ".SH RETURN VALUE",
            ".B GD_OK",
            "(0) on success, or one of the negative",
            ".B GD_E*",
            "codes the description names; on error every output is left as it was.",
            ".BR gd_strerror (3)",
            "and",
            ".BR gd_error_name (3)",
            "describe a code.",
            "The result must be used: to discard it on purpose, cast the call to",
            ".BR (void) .",
        ]
    # The documented types the declaration uses (gd_stream, callbacks).
    used = [t for t in sorted(typedefs) if re.search(r"\b" + t + r"\b", decl)]
    if used:
        out.append(".SH TYPES")
        for t in used:
            t_comment, t_decl = typedefs[t]
            out += [".PP", ".nf"] + [roff_escape(d) for d in t_decl] + [".fi", ".PP"]
            out += render_blocks(t_comment)
    body = [ln for ln in opening if not INCLUDE_LINE.search(ln)]
    # The opening comment's first line names the header ("libgdropout: ...").
    if body and body[0].startswith("libgdropout:"):
        body = body[1:]
    while body and not body[0].strip():
        body.pop(0)
    if body:
        out += [".SH NOTES", "What every function of", f".B <gdropout/{header}>", "shares:", ".PP"]
        out += render_blocks(body)
    text = "\n".join(comment)
    seen = sorted({n for n in re.findall(r"\b(gd_\w+)\b", text)
                   if n in all_names and n != name})
    refs = [f".BR {n} (3)," for n in seen] + [".BR gdropout (3)"]
    out += [".SH SEE ALSO"] + refs
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("headers", nargs="+")
    args = ap.parse_args(argv)
    try:
        parsed = []
        typedefs = {}
        for h in args.headers:
            opening, functions, types = parse_header(h)
            parsed.append((os.path.basename(h), opening, functions))
            typedefs.update(types)
        all_names = {f[0] for _, _, fs in parsed for f in fs}
        if not all_names:
            raise ManError("no GD_API declaration in " + " ".join(args.headers))
        os.makedirs(args.outdir, exist_ok=True)
        written = 0
        for header, opening, functions in parsed:
            for name, decl, comment, _ in functions:
                text = page(name, decl, comment, header, opening, args.version, args.date,
                            all_names, typedefs)
                tmp = os.path.join(args.outdir, name + ".3.tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, os.path.join(args.outdir, name + ".3"))
                written += 1
        # A function that left the headers takes its page with it.
        for stale in sorted(os.listdir(args.outdir)):
            if re.fullmatch(r"gd_\w+\.3", stale) and stale[:-2] not in all_names:
                os.remove(os.path.join(args.outdir, stale))
    except (ManError, OSError) as e:
        print(f"gen_man.py: error: {e}", file=sys.stderr)
        return 1
    print(f"gen_man.py: {written} pages in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
