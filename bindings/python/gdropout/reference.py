"""A pure-numpy implementation of libgdropout's bit-exact rules.

Nothing here calls the C library: it is the contract (docs/SPEC.md, the
bit-exact rules) written out again, vectorised over numpy
uint32/uint64 arrays, and the tests hold the C library to it bit for bit.
It is also a template for implementing the masks in another framework.

    philox4x32_10(ctr, key)        Random123's Philox4x32-10, 10 rounds
    words(seed, stream, idx)       the stream word of absolute indices idx
    keep(words, p)                 the drop rule (True = kept)
    mask(seed, stream, offset, n, p)   the packed keep mask
    dropout(x, p, seed, stream, offset) the forward (y, mask)
    normal(seed, stream, idx)      the normal transform, float32, exact
"""

from typing import Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["philox4x32_10", "words", "threshold", "keep_scale", "keep", "pack", "mask",
           "dropout", "dropout_cols", "dropout_add", "normal", "gaussian_dropout"]

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _mulhilo(m, x):
    """(hi, lo) 32-bit halves of the 64-bit product of two 32-bit words."""
    prod = m * x.astype(np.uint64)  # < 2^64: cannot wrap
    return (prod >> _S32).astype(np.uint32), (prod & _LO).astype(np.uint32)


def philox4x32_10(c0: ArrayLike, c1: ArrayLike, c2: ArrayLike, c3: ArrayLike, k0: int,
                  k1: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-10 on arrays of counter words c0..c3 (uint32) under the key
    (k0, k1) (Python ints); returns the four output word arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint32) for c in (c0, c1, c2, c3))
    k0, k1 = int(k0) & 0xFFFFFFFF, int(k1) & 0xFFFFFFFF
    for rnd in range(10):
        if rnd:  # the key is bumped between rounds (Weyl sequence)
            k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint32(k0), lo1, hi0 ^ c3 ^ np.uint32(k1), lo0
    return np.asarray(c0), np.asarray(c1), np.asarray(c2), np.asarray(c3)


def _blocks(seed, stream, block):
    """The four words of Philox blocks `block` (uint64 array)."""
    block = np.asarray(block, dtype=np.uint64)
    n = block.shape
    c0 = (block & _LO).astype(np.uint32)
    c1 = (block >> _S32).astype(np.uint32)
    c2 = np.full(n, stream & 0xFFFFFFFF, dtype=np.uint32)
    c3 = np.full(n, stream >> 32, dtype=np.uint32)
    return np.stack(philox4x32_10(c0, c1, c2, c3, seed & 0xFFFFFFFF, seed >> 32), axis=-1)


def words(seed: int, stream: int, idx: ArrayLike) -> np.ndarray:
    """The 32-bit word of each absolute element index in idx (uint64): word
    idx % 4 of the block with counter (idx / 4, stream), key seed."""
    idx = np.asarray(idx, dtype=np.uint64)
    w = _blocks(seed, stream, idx >> np.uint64(2))
    lane = (idx & np.uint64(3)).astype(np.intp)
    return np.take_along_axis(w, lane[..., None], axis=-1)[..., 0]


def _indices(offset, n):
    return np.uint64(offset) + np.arange(n, dtype=np.uint64)


def threshold(p: float) -> int:
    """t(p) = p >= 1 ? 2^32 : floor((double)p * 2^32), p a float32."""
    p = float(np.float32(p))
    return 1 << 32 if p >= 1.0 else int(np.floor(p * 4294967296.0))


def keep_scale(p: float) -> np.float32:
    """s = (float)(1.0 / (1.0 - (double)p)); +inf at p = 1, as in C (no
    element is kept then, so it is never used)."""
    with np.errstate(divide="ignore"):
        return np.float32(np.float64(1.0) / (np.float64(1.0) - np.float64(np.float32(p))))


def keep(w: ArrayLike, p: float) -> np.ndarray:
    """Kept iff (uint64)word >= t(p)."""
    return np.asarray(w, dtype=np.uint64) >= np.uint64(threshold(p))


def pack(kept: ArrayLike) -> np.ndarray:
    """Bit j = bit j % 8 of byte j / 8, LSB first, zero padding."""
    return np.packbits(np.asarray(kept, dtype=bool).ravel(), bitorder="little")


def mask(seed: int, stream: int, offset: int, n: int, p: float) -> np.ndarray:
    """The packed keep mask of n elements from Philox index offset."""
    return pack(keep(words(seed, stream, _indices(offset, n)), p))


def dropout(x: ArrayLike, p: float, seed: int, stream: int,
            offset: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(y, mask) of the forward: x * s where kept, 0.0f where dropped."""
    x = np.asarray(x, dtype=np.float32)
    k = keep(words(seed, stream, _indices(offset, x.size)), p).reshape(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE results, as in C
        return np.where(k, x * keep_scale(p), np.float32(0)), pack(k)


def dropout_cols(x: ArrayLike, p_cols: Sequence[float], seed: int, stream: int,
                 offset: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Per-unit dropout of x[..., cols]: column c at p_cols[c]."""
    x = np.asarray(x, dtype=np.float32)
    cols = x.shape[-1]
    w = words(seed, stream, _indices(offset, x.size)).reshape(-1, cols)
    k = np.stack([keep(w[:, c], p) for c, p in enumerate(p_cols)], axis=1)
    s = np.array([keep_scale(p) for p in p_cols], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.where(k, x.reshape(-1, cols) * s, np.float32(0))
    return y.reshape(x.shape), pack(k)


def dropout_add(x: ArrayLike, p: float, seed: int, stream: int, offset: int = 0,
                bias: Optional[ArrayLike] = None,
                residual: Optional[ArrayLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    """residual + ((x + bias) * s), rounded in that order; dropped: residual + 0."""
    v = np.asarray(x, dtype=np.float32)
    if bias is not None:
        v = v + np.asarray(bias, dtype=np.float32)
    y, m = dropout(v, p, seed, stream, offset)
    if residual is not None:
        y = np.asarray(residual, dtype=np.float32) + y
    return y, m


# ---- the normal transform (docs/SPEC.md "The normal transform") ---------

_f = np.float32


def _ln_unit(u):
    """ln(u) for u in (0, 1], float32, every step rounded as written."""
    bits = u.view(np.uint32)
    e = (bits >> np.uint32(23)).astype(np.int32) - np.int32(127)
    f = ((bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    big = f.view(np.uint32) > np.uint32(0x3FB504F3)
    f = np.where(big, f * _f(0.5), f)
    e = np.where(big, e + np.int32(1), e)
    one = _f(1)
    t = (f - one) / (f + one)
    t2 = t * t
    q = t2 * (one / _f(11)) + (one / _f(9))
    q = q * t2 + (one / _f(7))
    q = q * t2 + (one / _f(5))
    q = q * t2 + (one / _f(3))
    q = q * t2
    r = t * q
    r = t + r
    r = r + r
    return e.astype(np.float32) * _f(float.fromhex("0x1.62e430p-1")) + r


def _sin_small(x):
    x2 = x * x
    q = x2 * (_f(1) / _f(362880)) - (_f(1) / _f(5040))
    q = q * x2 + (_f(1) / _f(120))
    q = q * x2 - (_f(1) / _f(6))
    q = q * x2
    return x + x * q


def _cos_small(x):
    x2 = x * x
    q = x2 * (-(_f(1) / _f(3628800))) + (_f(1) / _f(40320))
    q = q * x2 - (_f(1) / _f(720))
    q = q * x2 + (_f(1) / _f(24))
    q = q * x2 - _f(0.5)
    return _f(1) + x2 * q


def normal_pair(a: ArrayLike, b: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """The two deviates (z_even, z_odd) of word pairs (a, b), float32."""
    a, b = np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)
    u = ((a >> np.uint32(8)) + np.uint32(1)).astype(np.float32) * _f(2.0 ** -24)
    k = (b >> np.uint32(8)).astype(np.int32)
    q = (k + np.int32(1 << 21)) >> np.int32(22)
    r = k - (q << np.int32(22))
    theta = r.astype(np.float32) * _f(float.fromhex("0x1.921fb6p-22"))
    rad = np.sqrt(_f(-2) * _ln_unit(u))
    sn, cs = _sin_small(theta), _cos_small(theta)
    quad = q & np.int32(3)
    c = np.choose(quad, [cs, -sn, -cs, sn])
    s = np.choose(quad, [sn, cs, -sn, -cs])
    return rad * c, rad * s


def normal(seed: int, stream: int, idx: ArrayLike) -> np.ndarray:
    """z of each absolute element index in idx: elements 4k, 4k+1 use the
    block's words (w0, w1), elements 4k+2, 4k+3 use (w2, w3)."""
    idx = np.asarray(idx, dtype=np.uint64)
    w = _blocks(seed, stream, idx >> np.uint64(2))
    lane = (idx & np.uint64(3)).astype(np.intp)
    pair = lane >> 1
    a = np.take_along_axis(w, (2 * pair)[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(w, (2 * pair + 1)[..., None], axis=-1)[..., 0]
    z_even, z_odd = normal_pair(a, b)
    return np.where((lane & 1) == 0, z_even, z_odd)


def gaussian_dropout(x: ArrayLike, sigma: float, seed: int, stream: int,
                     offset: int = 0) -> np.ndarray:
    """y = x * (1.0f + sigma * z)."""
    x = np.asarray(x, dtype=np.float32)
    z = normal(seed, stream, _indices(offset, x.size)).reshape(x.shape)
    return x * (_f(1) + _f(sigma) * z)
