"""The numpy reference of libgdropout 1.2's additions (docs/SPEC.md, "The
16-bit rule" and "Half precision"): the 16-bit mask rule and the rounding
of the bf16 and fp16 kernels.  Like reference.py, nothing here calls the C
library; tests/test_reference16.py holds the library to it bit for bit.

    k16(p), keep_scale16(p)        the quantised rate and its scale
    draws16(seed, stream, idx)     the 16-bit draw of absolute indices idx
    mask16(seed, stream, offset, n, p)  the packed keep mask
    dropout16(x, p, seed, stream, offset)  the float32 forward (y, mask)
    bf16_round(x), bf16_widen(h)   float32 <-> bfloat16 bits (uint16)
    f16_round(x), f16_widen(h)     float32 <-> IEEE binary16 bits (uint16)
"""

import numpy as np

from . import reference as R

__all__ = ["k16", "keep_scale16", "draws16", "keep16", "mask16", "dropout16",
           "bf16_round", "bf16_widen", "f16_round", "f16_widen"]


def k16(p):
    """k(p) = floor((double)p * 65536 + 0.5), 0 .. 65536, p a float32."""
    return int(np.floor(float(np.float32(p)) * 65536.0 + 0.5))


def keep_scale16(p):
    """(float)(1.0 / (1.0 - k/65536.0)); 0 at k = 65536 (nothing kept)."""
    k = k16(p)
    return np.float32(0) if k == 65536 else np.float32(1.0 / (1.0 - k / 65536.0))


def draws16(seed, stream, idx):
    """Element i's draw: the low half of the word of index i // 2 for even
    i, its high half for odd i."""
    idx = np.asarray(idx, dtype=np.uint64)
    w = R.words(seed, stream, idx >> np.uint64(1))
    shift = ((idx & np.uint64(1)) * np.uint64(16)).astype(np.uint32)
    return (w >> shift) & np.uint32(0xFFFF)


def keep16(d, p):
    """Kept iff draw >= k(p)."""
    return np.asarray(d, dtype=np.uint32) >= np.uint32(k16(p))


def mask16(seed, stream, offset, n, p):
    return R.pack(keep16(draws16(seed, stream, R._indices(offset, n)), p))


def dropout16(x, p, seed, stream, offset=0):
    """(y, mask) of the float32 forward under the 16-bit rule."""
    x = np.asarray(x, dtype=np.float32)
    k = keep16(draws16(seed, stream, R._indices(offset, x.size)), p).reshape(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(k, x * keep_scale16(p), np.float32(0)), R.pack(k)


# ---- half precision: a half kernel is the float kernel on the widened
# input, rounded to nearest even --------------------------------------------


def bf16_widen(h):
    """bfloat16 bits -> float32, exact."""
    return (np.asarray(h, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def bf16_round(x):
    """float32 -> bfloat16 bits, round to nearest even on the bits (nothing
    flushed); NaN keeps sign and top payload bits, made quiet."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    return np.where(nan, (u >> np.uint32(16)) | np.uint32(0x40), r).astype(np.uint16)


def f16_widen(h):
    """binary16 bits -> float32 (numpy's conversion, exact; a signalling NaN
    is made quiet, as the library does)."""
    f = np.asarray(h, dtype=np.uint16).view(np.float16).astype(np.float32)
    u = f.view(np.uint32)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    return np.where(nan, u | np.uint32(0x400000), u).view(np.float32)


def f16_round(x):
    """float32 -> binary16 bits, round to nearest even (numpy's cast), NaN
    made quiet with its top payload bits, as the library does."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16).view(np.uint16)
    u = x.view(np.uint32)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    q = ((u >> np.uint32(16)) & np.uint32(0x8000)) | np.uint32(0x7E00) | (
        (u >> np.uint32(13)) & np.uint32(0x3FF))
    return np.where(nan, q, h).astype(np.uint16)
