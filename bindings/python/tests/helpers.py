"""Shared test helpers."""

import os
import unittest

import numpy as np

import gdropout
from gdropout import reference as R

#: The source tree's public headers, when the tests run from a clone.
HEADER_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                           "include", "gdropout"))


def indices(offset, n):
    return np.uint64(offset) + np.arange(n, dtype=np.uint64)


def bits(a):
    """float32 array as its bit patterns, for exact comparison (NaN, -0)."""
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


class BitTestCase(unittest.TestCase):
    def assertBitsEqual(self, a, b):
        a, b = bits(a), bits(b)
        self.assertEqual(a.shape, b.shape)
        diff = np.flatnonzero(a != b)
        if diff.size:
            i = diff[0]
            self.fail(f"{diff.size} of {a.size} differ; first at {i}: "
                      f"{a.ravel()[i]:#010x} != {b.ravel()[i]:#010x}")


def requires(function):
    """Skips a test class when the loaded library lacks `function` (the
    Fisher / plan parts of an older build); they run once it is there."""
    return unittest.skipUnless(gdropout.lib.has(function),
                               f"{gdropout.library_path()} lacks {function}")


__all__ = ["HEADER_DIR", "indices", "bits", "BitTestCase", "requires", "R"]
