"""The dropout kernels and the counter-based generator.

Every function takes a Stream (seed, stream, offset); the result depends
only on those, p and the element index, so it equals the C library's,
the reference module's and any other implementation's bit for bit.
Masks are packed uint8 arrays, bit j = bit (j % 8) of byte j // 8, 1 = kept.
"""

import ctypes

import numpy as np

from . import _arrays as A
from ._native import Stream, check, lib

__all__ = [
    "philox4x32_10", "random_u32", "random_normal", "mask_bernoulli",
    "dropout_fwd", "dropout_bwd", "dropout_fwd_cols", "dropout_bwd_cols",
    "dropout_add_fwd", "dropout_add_bwd", "sum_cols",
    "gaussian_dropout_fwd", "gaussian_dropout_bwd", "gaussian_sigma",
]


def _stream(s, name="stream"):
    if s is None:
        return None
    if not isinstance(s, Stream):
        raise TypeError(f"{name}: expected a gdropout.Stream, got {type(s).__name__}")
    return s.c


def philox4x32_10(ctr, key):
    """One Philox4x32-10 block: 4 counter words, 2 key words -> 4 words."""
    c = A.in_vector(ctr, 4, "ctr", np.uint32)
    k = A.in_vector(key, 2, "key", np.uint32)
    out = np.empty(4, dtype=np.uint32)
    check(lib.gd_philox4x32_10(A.ptr(c), A.ptr(k), A.ptr(out)), "gd_philox4x32_10")
    return out


def random_u32(n, stream):
    """The n stream words of indices stream.offset .. stream.offset + n - 1."""
    r = np.empty(n, dtype=np.uint32)
    check(lib.gd_random_u32(A.ptr(r), n, _stream(stream)), "gd_random_u32")
    return r


def random_normal(n, stream):
    """The n standard normal deviates Gaussian dropout multiplies by."""
    z = np.empty(n, dtype=np.float32)
    check(lib.gd_random_normal(A.ptr(z), n, _stream(stream)), "gd_random_normal")
    return z


def mask_bernoulli(n, p, stream):
    """The packed keep mask of n elements at drop probability p."""
    m = np.empty(A.mask_bytes(n), dtype=np.uint8)
    check(lib.gd_mask_bernoulli(A.ptr(m), n, p, _stream(stream)), "gd_mask_bernoulli")
    return m


def dropout_fwd(x, p, stream, out=None):
    """y = dropout(x) at probability p; returns (y, mask).  out may be x."""
    xa = A.in_array(x, "x")
    y = A.out_array(out, xa.shape, "out")
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd(A.ptr(y), A.ptr(xa), xa.size, p, _stream(stream), A.ptr(m)),
          "gd_dropout_fwd")
    return y, m


def dropout_bwd(dy, p, stream=None, mask=None, out=None):
    """dx from the forward's mask, or regenerated from its stream."""
    dya = A.in_array(dy, "dy")
    m = None if mask is None else A.in_mask(mask, dya.size)
    dx = A.out_array(out, dya.shape, "out")
    check(lib.gd_dropout_bwd(A.ptr(dx), A.ptr(dya), dya.size, p, _stream(stream), A.ptr(m)),
          "gd_dropout_bwd")
    return dx


def dropout_fwd_cols(x, p_cols, stream, out=None):
    """Per-unit dropout of x[..., cols], column c at p_cols[c]; (y, mask)."""
    xa = A.in_array(x, "x")
    rows, cols = A.rows_cols(xa.shape, "x")
    pc = A.in_vector(p_cols, cols, "p_cols")
    y = A.out_array(out, xa.shape, "out")
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd_cols(A.ptr(y), A.ptr(xa), rows, cols, A.ptr(pc), _stream(stream),
                                  A.ptr(m)), "gd_dropout_fwd_cols")
    return y, m


def dropout_bwd_cols(dy, p_cols, stream=None, mask=None, out=None):
    """Backward of dropout_fwd_cols, from the mask or the stream."""
    dya = A.in_array(dy, "dy")
    rows, cols = A.rows_cols(dya.shape, "dy")
    pc = A.in_vector(p_cols, cols, "p_cols")
    m = None if mask is None else A.in_mask(mask, dya.size)
    dx = A.out_array(out, dya.shape, "out")
    check(lib.gd_dropout_bwd_cols(A.ptr(dx), A.ptr(dya), rows, cols, A.ptr(pc), _stream(stream),
                                  A.ptr(m)), "gd_dropout_bwd_cols")
    return dx


def dropout_add_fwd(x, p, stream, bias=None, residual=None, out=None):
    """y = residual + dropout(x + bias) on x[..., cols]; returns (y, mask)."""
    xa = A.in_array(x, "x")
    rows, cols = A.rows_cols(xa.shape, "x")
    b = None if bias is None else A.in_vector(bias, cols, "bias")
    r = None
    if residual is not None:
        r = A.in_array(residual, "residual")
        if r.shape != xa.shape:
            raise ValueError(f"residual: must have shape {xa.shape}, got {r.shape}")
    y = A.out_array(out, xa.shape, "out")
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_add_fwd(A.ptr(y), A.ptr(xa), A.ptr(b), A.ptr(r), rows, cols, p,
                                 _stream(stream), A.ptr(m)), "gd_dropout_add_fwd")
    return y, m


def dropout_add_bwd(dy, p, stream=None, mask=None, out=None, bias_grad=True):
    """Backward of dropout_add_fwd: (dx, dbias); dbias is None unless
    bias_grad.  The residual's gradient is dy itself."""
    dya = A.in_array(dy, "dy")
    rows, cols = A.rows_cols(dya.shape, "dy")
    m = None if mask is None else A.in_mask(mask, dya.size)
    dx = A.out_array(out, dya.shape, "out")
    db = np.empty(cols, dtype=np.float32) if bias_grad else None
    check(lib.gd_dropout_add_bwd(A.ptr(dx), A.ptr(db), A.ptr(dya), rows, cols, p,
                                 _stream(stream), A.ptr(m)), "gd_dropout_add_bwd")
    return dx, db


def sum_cols(x):
    """Column sums of x[..., cols] (in double, rounded once)."""
    xa = A.in_array(x, "x")
    rows, cols = A.rows_cols(xa.shape, "x")
    out = np.empty(cols, dtype=np.float32)
    check(lib.gd_sum_cols(A.ptr(out), A.ptr(xa), rows, cols), "gd_sum_cols")
    return out


def _gaussian(function, x, sigma, stream, out):
    xa = A.in_array(x, "x")
    y = A.out_array(out, xa.shape, "out")
    check(getattr(lib, function)(A.ptr(y), A.ptr(xa), xa.size, sigma, _stream(stream)), function)
    return y


def gaussian_dropout_fwd(x, sigma, stream, out=None):
    """y = x * (1 + sigma * z), z = random_normal on the same stream."""
    return _gaussian("gd_gaussian_dropout_fwd", x, sigma, stream, out)


def gaussian_dropout_bwd(dy, sigma, stream, out=None):
    """dx = dy * (1 + sigma * z) with the forward's z regenerated."""
    return _gaussian("gd_gaussian_dropout_bwd", dy, sigma, stream, out)


def gaussian_sigma(p):
    """The variance-matched sigma = sqrt(p / (1 - p)), as a Python float
    holding the library's float32 value."""
    s = ctypes.c_float()
    check(lib.gd_gaussian_sigma(p, ctypes.byref(s)), "gd_gaussian_sigma")
    return s.value
