"""Finding the C library: `import gdropout` fails at once, with one message
that says what was tried and how to point the binding at a library."""

import os
import re
import subprocess
import sys
import unittest

import gdropout

from .helpers import HEADER_DIR

PACKAGE_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))


def import_with(env_changes):
    """Runs `import gdropout` in a fresh interpreter; (returncode, stderr)."""
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR, PYTHONDONTWRITEBYTECODE="1")
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    r = subprocess.run([sys.executable, "-c", "import gdropout; print('imported')"],
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

    def test_not_found_by_the_loader(self):
        clean = {"GDROPOUT_LIBRARY": None, "LD_LIBRARY_PATH": None}
        env = {k: v for k, v in os.environ.items() if k not in clean}
        probe = subprocess.run([sys.executable, "-c", "import ctypes; "
                                "ctypes.CDLL('libgdropout.so.1')"], env=env,
                               capture_output=True, check=False, timeout=60)
        if probe.returncode == 0:
            self.skipTest("libgdropout.so.1 is installed where the loader finds it")
        rc, out, err = import_with(clean)
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
        with open(os.path.join(top, "CMakeLists.txt"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"project\(gdropout VERSION ([0-9]+\.[0-9]+\.[0-9]+)", text)
        self.assertIsNotNone(m, "no project(gdropout VERSION x.y.z) in CMakeLists.txt")
        self.assertEqual(gdropout.__version__, m.group(1))


if __name__ == "__main__":
    unittest.main()
