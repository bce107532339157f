#!/usr/bin/env python3
"""One version number: everything that states libgdropout's version agrees
with CMake's project(VERSION) in CMakeLists.txt, the one place it is set.

Derived by the build (checked here only when a built man dir is given):
<gdropout/version.h> (from version.h.in), the .so file name, the manual
pages (.TH "libgdropout X.Y.Z").  Written by hand, so checked here:

  bindings/python/pyproject.toml     [project] version (unless dynamic)
  bindings/python/gdropout/__init__.py  __version__, if written as a literal
  bindings/rust/*/Cargo.toml         [package] version, and the version of
                                     the gdropout-sys dependency (not in an
                                     unpublished crate: publish = false)
  bindings/rust/gdropout-sys/src/lib.rs  GD_VERSION_MAJOR/MINOR/PATCH
  debian/changelog                   the newest entry's upstream version
  bindings/python/README.md          the version its install prints and
                                     its wheel's file name

usage: check_versions.py <source dir> [<built man dir>]
Prints each value it compared; exits 1 naming every file that disagrees.
"""
import glob
import os
import re
import sys


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def cmake_version(src):
    m = re.search(r"project\(\s*gdropout\s+VERSION\s+(\d+)\.(\d+)\.(\d+)\b", read(
        os.path.join(src, "CMakeLists.txt")))
    if not m:
        raise SystemExit("CMakeLists.txt: no project(gdropout VERSION major.minor.patch ...)")
    return ".".join(m.groups())


def toml_section_value(text, section, key):
    """key = "value" inside [section] (a flat subset of TOML is all we need)."""
    m = re.search(r"^\[" + re.escape(section) + r"\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not m:
        return None
    v = re.search(r"^\s*" + re.escape(key) + r"\s*=\s*(.+?)\s*$", m.group(1), re.M)
    return v.group(1) if v else None


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    src = sys.argv[1]
    want = cmake_version(src)
    problems = []
    checked = []

    def compare(where, got):
        checked.append(f"{where}: {got}")
        if got != want:
            problems.append(f"{where} says {got!r}, CMakeLists.txt project(VERSION) says {want!r}")

    # Python
    pyproject = os.path.join(src, "bindings/python/pyproject.toml")
    text = read(pyproject)
    dynamic = toml_section_value(text, "project", "dynamic") or ""
    raw = toml_section_value(text, "project", "version")
    if raw is not None:
        compare("bindings/python/pyproject.toml [project] version", raw.strip('"\''))
    elif "version" not in dynamic:
        problems.append("bindings/python/pyproject.toml: no [project] version and none dynamic")
    init = os.path.join(src, "bindings/python/gdropout/__init__.py")
    m = re.search(r"^__version__\s*=\s*(['\"])([^'\"]*)\1\s*$", read(init), re.M)
    if m:
        compare("bindings/python/gdropout/__init__.py __version__", m.group(2))
    else:
        checked.append("bindings/python/gdropout/__init__.py __version__: not a literal (derived)")

    readme = read(os.path.join(src, "bindings/python/README.md"))
    for what, pattern in (("the version the install prints", r"prints `(\d+\.\d+\.\d+) bundled"),
                          ("the wheel's file name", r"gdropout-(\d+\.\d+\.\d+)-py3-")):
        found = re.findall(pattern, readme)
        if not found:
            problems.append(f"bindings/python/README.md: {what} not found")
        for v in found:
            compare(f"bindings/python/README.md {what}", v)

    # Rust
    manifests = sorted(glob.glob(os.path.join(src, "bindings/rust/*/Cargo.toml")))
    if not manifests:
        problems.append("no bindings/rust/*/Cargo.toml found")
    for path in manifests:
        rel = os.path.relpath(path, src)
        text = read(path)
        publish = toml_section_value(text, "package", "publish")
        if publish is not None and publish.strip() == "false":
            # an unpublished workspace crate (header-check) has no release
            # version of its own; its gdropout-sys path dependency has none
            checked.append(f"{rel}: publish = false, not a released crate")
            continue
        raw = toml_section_value(text, "package", "version")
        if raw is None:
            problems.append(f"{rel}: no [package] version")
        else:
            compare(f"{rel} [package] version", raw.strip('"'))
        dep = toml_section_value(text, "dependencies", "gdropout-sys")
        if dep:
            m = re.search(r'version\s*=\s*"=?([^"]+)"', dep)
            if m:
                compare(f"{rel} gdropout-sys dependency version", m.group(1))
    lib_rs = os.path.join(src, "bindings/rust/gdropout-sys/src/lib.rs")
    parts = dict(re.findall(r"pub const GD_VERSION_(MAJOR|MINOR|PATCH): c_uint = (\d+);", read(lib_rs)))
    if len(parts) != 3:
        problems.append("bindings/rust/gdropout-sys/src/lib.rs: GD_VERSION_MAJOR/MINOR/PATCH not found")
    else:
        compare("bindings/rust/gdropout-sys/src/lib.rs GD_VERSION_*",
                f"{parts['MAJOR']}.{parts['MINOR']}.{parts['PATCH']}")

    # Debian: "gdropout (X.Y.Z-N) ..." on the newest entry's first line.
    first = read(os.path.join(src, "debian/changelog")).split("\n", 1)[0]
    m = re.match(r"^gdropout \((?:\d+:)?([^-)]+)(?:-[^)]*)?\)", first)
    if not m:
        problems.append(f"debian/changelog: first line {first!r} is not 'gdropout (version) ...'")
    else:
        compare("debian/changelog newest entry", m.group(1))

    # The built manual pages and <gdropout/version.h>, derived by the build.
    if len(sys.argv) == 3:
        mandir = sys.argv[2]
        pages = sorted(glob.glob(os.path.join(mandir, "man[13]", "*.[13]")))
        if not pages:
            problems.append(f"no manual pages under {mandir}")
        versions = {}
        for page in pages:
            m = re.search(r'^\.TH .*"libgdropout ([^"]+)"', read(page), re.M)
            versions.setdefault(m.group(1) if m else None, []).append(os.path.basename(page))
        for v, names in sorted(versions.items(), key=lambda kv: str(kv[0])):
            compare(f"{len(names)} manual page(s) ({names[0]}, ...)", v)
        header = os.path.join(os.path.dirname(os.path.abspath(mandir)), "include", "gdropout",
                              "version.h")
        if os.path.exists(header):
            m = re.search(r'#define GD_VERSION_STRING "([^"]+)"', read(header))
            compare("generated <gdropout/version.h>", m.group(1) if m else None)

    print(f"CMakeLists.txt project(VERSION): {want}")
    for line in checked:
        print("  " + line)
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
