"""Finding the C library: `import gdropout` fails at once, with one message
that says what was tried and how to point the binding at a library."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import unittest

import gdropout

from .helpers import HEADER_DIR

# Where the gdropout under test lives: the source tree's bindings/python, or
# an installed package's site-packages.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(gdropout.__file__)))
CODE = "import gdropout; print('imported', gdropout.library_source(), gdropout.library_path())"


def import_with(env_changes, package_dir=PACKAGE_DIR):
    """Runs `import gdropout` from package_dir in a fresh interpreter;
    (returncode, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=package_dir, PYTHONDONTWRITEBYTECODE="1")
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    # cwd: `python -c` puts the current folder first on sys.path
    r = subprocess.run([sys.executable, "-c", CODE], cwd=package_dir,
                       env=env, capture_output=True, text=True, timeout=60, check=False)
    return r.returncode, r.stdout, r.stderr


class LoadingTest(unittest.TestCase):
    def error_line(self, stderr):
        lines = [ln for ln in stderr.splitlines() if ln.startswith("ImportError")]
        self.assertEqual(len(lines), 1, stderr)
        return lines[0]

    def test_missing_path_fails_at_import_once(self):
        path = "/nonexistent/dir/libgdropout.so.1"
        rc, out, err = import_with({"GDROPOUT_LIBRARY": path})
        self.assertNotEqual(rc, 0)
        self.assertNotIn("imported", out)  # at import, not at the first call
        line = self.error_line(err)
        self.assertIn("GDROPOUT_LIBRARY", line)
        self.assertEqual(line.count(path), 1, line)
        self.assertEqual(line.count("cannot open shared object file"), 1, line)

    def test_not_libgdropout(self):
        rc, out, err = import_with({"GDROPOUT_LIBRARY": "libm.so.6"})
        self.assertNotEqual(rc, 0)
        line = self.error_line(err)
        self.assertIn("libm.so.6", line)
        self.assertIn("gd_version", line)

    def package_copy(self, bundled=None):
        """A copy of the gdropout package in a temporary folder, with the
        file `bundled` as its _lib/libgdropout.so.1 (none if None)."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        src = os.path.dirname(os.path.abspath(gdropout.__file__))
        shutil.copytree(src, os.path.join(d, "gdropout"),
                        ignore=shutil.ignore_patterns("_lib", "__pycache__"))
        if bundled is not None:
            os.mkdir(os.path.join(d, "gdropout", "_lib"))
            shutil.copyfile(bundled, os.path.join(d, "gdropout", "_lib", "libgdropout.so.1"))
        return d

    def real_library(self):
        path = gdropout.library_path()
        if not os.path.isabs(path):
            self.skipTest(f"the library under test is {path}, not a file path")
        return path

    def test_order_of_preference(self):
        lib = self.real_library()
        clean = {"GDROPOUT_LIBRARY": None, "LD_LIBRARY_PATH": None}
        with_copy = self.package_copy(bundled=lib)
        bundled = os.path.join(with_copy, "gdropout", "_lib", "libgdropout.so.1")
        # the bundled copy first ...
        rc, out, err = import_with(dict(clean, LD_LIBRARY_PATH=os.path.dirname(lib)), with_copy)
        self.assertEqual((rc, out.split()[1:]), (0, ["bundled", bundled]), err)
        # ... unless GDROPOUT_LIBRARY says otherwise
        rc, out, err = import_with(dict(clean, GDROPOUT_LIBRARY=lib), with_copy)
        self.assertEqual((rc, out.split()[1:]), (0, ["GDROPOUT_LIBRARY", lib]), err)
        # without one, or with one that does not load, the system's
        libdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, libdir)
        shutil.copyfile(lib, os.path.join(libdir, "libgdropout.so.1"))
        for pkg in (self.package_copy(), self.package_copy(bundled=os.devnull)):
            rc, out, err = import_with(dict(clean, LD_LIBRARY_PATH=libdir), pkg)
            self.assertEqual((rc, out.split()[1:]), (0, ["system", "libgdropout.so.1"]), err)

    def test_not_found_by_the_loader(self):
        clean = {"GDROPOUT_LIBRARY": None, "LD_LIBRARY_PATH": None}
        env = {k: v for k, v in os.environ.items() if k not in clean}
        probe = subprocess.run([sys.executable, "-c", "import ctypes; "
                                "ctypes.CDLL('libgdropout.so.1')"], env=env,
                               capture_output=True, check=False, timeout=60)
        if probe.returncode == 0:
            self.skipTest("libgdropout.so.1 is installed where the loader finds it")
        rc, out, err = import_with(clean, self.package_copy())  # no bundled copy
        self.assertNotEqual(rc, 0)
        line = self.error_line(err)
        self.assertIn("GDROPOUT_LIBRARY", line)  # says how to point at one
        self.assertEqual(line.count("libgdropout.so.1: cannot open"), 1, line)
        self.assertNotIn(".dll", line)

    def test_version_from_the_library(self):
        self.assertEqual(gdropout.__version__, gdropout.lib.gd_version_string().decode())
        self.assertEqual(gdropout.__version__, "%d.%d.%d" % gdropout.version())

    @unittest.skipUnless(os.path.isdir(HEADER_DIR), "not run from a source tree")
    def test_version_matches_the_source_tree(self):
        # The one version number is CMake's project(VERSION) (version.h is
        # generated from it at build time).
        top = os.path.dirname(os.path.dirname(HEADER_DIR))
        cmake = os.path.join(top, "CMakeLists.txt")
        if not os.path.isfile(cmake):  # the installed-package run (autopkgtest)
            self.skipTest("not in a source tree: no CMakeLists.txt beside the headers")
        with open(cmake, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"project\(gdropout VERSION ([0-9]+\.[0-9]+\.[0-9]+)", text)
        self.assertIsNotNone(m, "no project(gdropout VERSION x.y.z) in CMakeLists.txt")
        self.assertEqual(gdropout.__version__, m.group(1))


def mapped_files(name):
    """The real paths of the files this process has mapped whose name
    starts with `name` (Linux: /proc/self/maps)."""
    with open("/proc/self/maps", encoding="utf-8") as f:
        paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    return sorted({os.path.realpath(p) for p in paths if os.path.basename(p).startswith(name)})


# debian/tests/python sets GDROPOUT_TEST_INSTALLED=1: the tests must then be
# testing python3-gdropout and libgdropout1 as installed, not a source tree's
# module, a bundled copy or a library found through GDROPOUT_LIBRARY or
# LD_LIBRARY_PATH; and the installed headers (libgdropout-dev) must be
# there for the prototype checks, which otherwise skip.
@unittest.skipUnless(os.environ.get("GDROPOUT_TEST_INSTALLED") == "1",
                     "GDROPOUT_TEST_INSTALLED=1 is for the installed packages' test")
class InstalledPackageTest(unittest.TestCase):
    def test_the_installed_module(self):
        self.assertEqual(gdropout.__file__,
                         "/usr/lib/python3/dist-packages/gdropout/__init__.py")

    def test_the_system_library(self):
        self.assertEqual((gdropout.library_source(), gdropout.library_path()),
                         ("system", "libgdropout.so.1"))
        multiarch = sysconfig.get_config_var("MULTIARCH")
        installed = os.path.realpath(f"/usr/lib/{multiarch}/libgdropout.so.1")
        self.assertTrue(os.path.isfile(installed), installed)
        self.assertEqual(mapped_files("libgdropout"), [installed])

    def test_the_installed_headers(self):
        self.assertEqual(os.path.realpath(HEADER_DIR), "/usr/include/gdropout")
        self.assertTrue(os.path.isfile(os.path.join(HEADER_DIR, "gdropout.h")), HEADER_DIR)


if __name__ == "__main__":
    unittest.main()
