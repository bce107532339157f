"""Builds the gdropout wheel.

By default the C library is built here with CMake from the source tree this
directory sits in (bindings/python -> ../..; or $GDROPOUT_SOURCE_DIR) and
bundled as gdropout/_lib/libgdropout.so.1, which makes the wheel a platform
wheel (py3-none-<platform>: the Python code uses ctypes, so one wheel serves
every Python 3 of that platform).  Nothing is downloaded: CMake, a C
compiler and OpenBLAS (pkg-config openblas) must be installed.

GDROPOUT_NO_BUNDLE=1 skips CMake and builds a pure-Python wheel
(py3-none-any) that loads the system's libgdropout.so.1 at import (what the
Debian package python3-gdropout does).
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.dist import Distribution

try:
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # no wheel: a plain `setup.py install` still works
    _bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libgdropout.so.1"


def _no_bundle():
    return os.environ.get("GDROPOUT_NO_BUNDLE", "") not in ("", "0")


def _source_dir():
    """The C library's source tree: $GDROPOUT_SOURCE_DIR, else ../.. (this
    directory's place in the repository)."""
    env = os.environ.get("GDROPOUT_SOURCE_DIR")
    cand = os.path.abspath(env) if env else os.path.normpath(os.path.join(HERE, "..", ".."))
    top = os.path.join(cand, "CMakeLists.txt")
    try:
        with open(top, encoding="utf-8") as f:
            ok = "project(gdropout" in f.read()
    except OSError:
        ok = False
    if not ok:
        sys.exit(f"gdropout: no libgdropout source tree at {cand} (no {top} with "
                 "project(gdropout ...)): build from a clone (pip install ./bindings/python), "
                 "set GDROPOUT_SOURCE_DIR to the clone, or set GDROPOUT_NO_BUNDLE=1 to use "
                 "the system's libgdropout.so.1 instead")
    return cand


def _run(cmd):
    print("gdropout:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


class build_py(_build_py):
    """The Python files, then (unless GDROPOUT_NO_BUNDLE) the C library
    built with CMake into gdropout/_lib/."""

    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "gdropout", "_lib")
        if _no_bundle():
            shutil.rmtree(dest, ignore_errors=True)  # from an earlier bundled build
            return
        src = _source_dir()
        build = os.path.join(os.path.abspath(self.build_temp if hasattr(self, "build_temp")
                                             else "build"), "cmake")
        _run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
              "-DGD_BUILD_TESTS=OFF", "-DGD_BUILD_TOOLS=OFF", "-DGD_BUILD_MAN=OFF",
              "-DGD_BUILD_EXAMPLES=OFF", "-DGD_BUILD_BENCH=OFF", "-DGD_WERROR=OFF"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(min(2, os.cpu_count() or 1))
        _run(["cmake", "--build", build, "--target", "gdropout", "-j", jobs])
        found = [p for p in glob.glob(os.path.join(build, "**", SONAME + "*"), recursive=True)
                 if not os.path.islink(p)]
        if len(found) != 1:
            sys.exit(f"gdropout: expected one {SONAME}* file under {build}, found {found}")
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(found[0], os.path.join(dest, SONAME))
        os.chmod(os.path.join(dest, SONAME), 0o755)

    def initialize_options(self):
        super().initialize_options()
        self.build_temp = None

    def finalize_options(self):
        super().finalize_options()
        self.set_undefined_options("build", ("build_temp", "build_temp"))


class BinaryDistribution(Distribution):
    """Installs into platlib and marks the wheel impure when the library is
    bundled."""

    def has_ext_modules(self):
        return not _no_bundle()


cmdclass = {"build_py": build_py}
if _bdist_wheel is not None:
    class bdist_wheel(_bdist_wheel):
        """py3-none-<platform> with the library inside; py3-none-any without."""

        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = _no_bundle()

        def get_tag(self):
            python, abi, plat = super().get_tag()
            if _no_bundle():
                return python, abi, plat
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
