"""The numpy reference against published known answers and against the C
library, bit for bit."""

import unittest

import numpy as np

import gdropout
from gdropout import reference as R

from .helpers import BitTestCase, indices

# Random123's kat_vectors for philox4x32_10.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff,) * 4, (0xffffffff, 0xffffffff),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]

SEED, STREAM = 0x0123456789ABCDEF, 0xFEDCBA9876543210


class PhiloxTest(unittest.TestCase):
    def test_reference_known_answers(self):
        for ctr, key, want in KAT:
            got = [int(np.asarray(w)) for w in R.philox4x32_10(*ctr, *key)]
            self.assertEqual(got, list(want))

    def test_library_known_answers(self):
        for ctr, key, want in KAT:
            self.assertEqual(gdropout.philox4x32_10(ctr, key).tolist(), list(want))

    def test_word_layout(self):
        # word i % 4 of the block with counter (i/4 split in halves, stream
        # split in halves), key (seed split in halves)
        i = (5 << 32) * 4 + 6
        block = R.philox4x32_10(1, 5, STREAM & 0xFFFFFFFF, STREAM >> 32,
                                SEED & 0xFFFFFFFF, SEED >> 32)
        self.assertEqual(int(R.words(SEED, STREAM, np.uint64(i))), int(block[2]))
        self.assertEqual(int(gdropout.random_u32(1, gdropout.Stream(SEED, STREAM, i))[0]),
                         int(block[2]))


class LibraryMatchesReference(BitTestCase):
    OFFSETS = [0, 1, 3, 5, (1 << 34) - 7, (1 << 64) - 1000]

    def test_words(self):
        for off in self.OFFSETS:
            s = gdropout.Stream(SEED, STREAM, off)
            got = gdropout.random_u32(997, s)
            np.testing.assert_array_equal(got, R.words(SEED, STREAM, indices(off, 997)))

    def test_masks(self):
        ps = [0.0, 1e-9, 0.1, 0.25, 0.5, np.nextafter(np.float32(0.5), np.float32(1)), 0.9,
              0.999999, 1.0]
        for off in (0, 3, 13):
            for p in ps:
                with self.subTest(offset=off, p=p):
                    s = gdropout.Stream(7, 99, off)
                    got = gdropout.mask_bernoulli(1001, p, s)
                    np.testing.assert_array_equal(got, R.mask(7, 99, off, 1001, p))

    def test_threshold_and_scale(self):
        self.assertEqual(R.threshold(0.5), 1 << 31)
        self.assertEqual(R.threshold(1.0), 1 << 32)
        self.assertEqual(R.threshold(0.0), 0)
        # 0.1f is 0.100000001490116..., so t = floor(that * 2^32)
        self.assertEqual(R.threshold(0.1), 429496736)
        self.assertEqual(R.keep_scale(0.5), np.float32(2.0))

    def test_normal_bit_exact(self):
        # a million deviates cover every quadrant and many exponents of u
        for off in (0, 2, (1 << 40) + 1):
            s = gdropout.Stream(SEED, STREAM, off)
            n = 1 << 20 if off == 0 else 4099
            self.assertBitsEqual(gdropout.random_normal(n, s),
                                 R.normal(SEED, STREAM, indices(off, n)))

    def test_normal_edges(self):
        # u = 1 (a >> 8 == 2^24 - 1) gives ln = 0 and z = -0 * c; theta at
        # both ends of its range; all reproduced by the float32 replay
        za, zb = R.normal_pair(np.uint32([0xFFFFFFFF, 0, 0x80000000]),
                               np.uint32([0, 0xFFFFFFFF, 0x00200000 << 8]))
        self.assertTrue(np.all(np.isfinite(za)) and np.all(np.isfinite(zb)))
        self.assertEqual(float(za[0]), 0.0)
        # u = 2^-24: rad = sqrt(48 ln 2) = 5.768108...
        self.assertAlmostEqual(float(np.hypot(za[1], zb[1])), 5.768108, places=5)

    def test_normal_moments(self):
        z = R.normal(1, 2, indices(0, 1 << 18)).astype(np.float64)
        # standard errors: mean 0.002, variance 0.0028
        self.assertLess(abs(z.mean()), 0.01)
        self.assertLess(abs(z.var() - 1.0), 0.015)


if __name__ == "__main__":
    unittest.main()
