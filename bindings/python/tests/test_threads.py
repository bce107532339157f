"""close() and merge() keep the binding's promise that calls on one object
are serialised: closing on one thread while another is inside a call waits
for the call (it used to free the C object under it: a use after free)."""

import os
import subprocess
import sys
import textwrap
import threading
import unittest

import gdropout

from .helpers import requires

PACKAGE_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))

# In a child process, so that a use after free that crashes fails this test
# instead of killing the whole run.  The dense call is sized (by timing it)
# to take about 0.3 s, and close() is called 50 ms into it.
RACE = textwrap.dedent("""
    import threading, time
    import numpy as np
    import gdropout

    def make(batch):
        f = gdropout.Fisher()
        w = f.add_tensor("w", 512 * 512)
        x = np.ones((batch, 512), np.float32)
        return f, w, x

    batch = 64
    while True:
        f, w, x = make(batch)
        t = time.perf_counter()
        f.accumulate_dense(w, x, x)
        took = time.perf_counter() - t
        f.close()
        if took > 0.3 or batch >= 1 << 16:
            break
        batch *= 2
    f, w, x = make(batch)
    started, times = threading.Event(), {}
    c_function = gdropout.lib.gd_fisher_accumulate_dense

    def timed(*args):
        # the C call's end, taken while the Fisher's lock is still held (a
        # time taken after accumulate_dense returned could come after
        # close() got the lock and finished)
        rc = c_function(*args)
        times["call_end"] = time.perf_counter()
        return rc
    gdropout.lib.gd_fisher_accumulate_dense = timed

    def call():
        started.set()
        f.accumulate_dense(w, x, x)

    th = threading.Thread(target=call)
    th.start()
    started.wait()
    time.sleep(0.05)
    times["close_start"] = time.perf_counter()
    f.close()
    times["close_end"] = time.perf_counter()
    th.join()
    print(took, times)
    assert times["close_start"] < times["call_end"], "inconclusive: the call ended first"
    assert times["close_end"] >= times["call_end"], "close did not wait for the call"
    try:
        f.read(w)
    except ValueError as e:
        assert "closed" in str(e), e
    else:
        raise AssertionError("read after close")
    print("ok")
""")


@requires("gd_fisher_create")
class CloseWhileCalling(unittest.TestCase):
    def test_close_waits_for_a_call_in_progress(self):
        env = dict(os.environ, PYTHONPATH=PACKAGE_DIR, OPENBLAS_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1")
        r = subprocess.run([sys.executable, "-c", RACE], env=env, capture_output=True,
                           text=True, timeout=300, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.endswith("ok\n"), r.stdout + r.stderr)

    def run_blocked(self, holder, action):
        """Runs action() on a thread while holder's lock is held: it must
        wait for the lock; returns what it raised (None if nothing)."""
        result = {}

        def body():
            try:
                action()
            except Exception as e:  # pylint: disable=broad-except
                result["error"] = e

        with holder._lock:
            th = threading.Thread(target=body)
            th.start()
            th.join(0.2)
            self.assertTrue(th.is_alive(), "did not wait for the object's lock")
        th.join(10)
        self.assertFalse(th.is_alive())
        return result.get("error")

    def test_close_takes_the_lock(self):
        f = gdropout.Fisher()
        f.add_tensor("a", 1)
        self.assertIsNone(self.run_blocked(f, f.close))
        with self.assertRaisesRegex(ValueError, "Fisher object is closed"):
            len(f)
        p = gdropout.Plan(2)
        self.assertIsNone(self.run_blocked(p, p.close))
        with self.assertRaisesRegex(ValueError, "Plan object is closed"):
            p.get(0)

    def test_merge_takes_both_locks(self):
        a, b = gdropout.Fisher(), gdropout.Fisher()
        for f in (a, b):
            f.add_tensor("t", 2)
            f.accumulate(0, [1.0, 2.0])
        self.assertIsNone(self.run_blocked(b, lambda: a.merge(b)))
        self.assertEqual(a.sums(0)[1], 2.0)
        self.assertIsNone(self.run_blocked(a, lambda: a.merge(b)))
        self.assertEqual(a.sums(0)[1], 3.0)
        # merge waiting for a close of its source sees it closed, not freed
        err = self.run_blocked(b, lambda: (b.close(), a.merge(b)))
        self.assertIsInstance(err, ValueError)
        self.assertIn("closed", str(err))
        a.close()

    def test_crossed_merges_do_not_deadlock(self):
        a, b = gdropout.Fisher(), gdropout.Fisher()
        for f in (a, b):
            f.add_tensor("t", 1)
        errors = []

        def loop(dst, src):
            try:
                for _ in range(500):
                    dst.merge(src)
            except Exception as e:  # pylint: disable=broad-except
                errors.append(e)

        threads = [threading.Thread(target=loop, args=pair) for pair in ((a, b), (b, a))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
            self.assertFalse(th.is_alive(), "deadlock")
        self.assertEqual(errors, [])
        a.close()
        b.close()


if __name__ == "__main__":
    unittest.main()
