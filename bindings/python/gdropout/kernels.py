"""The dropout kernels and the counter-based generator.

Every function takes a Stream (seed, stream, offset); the result depends
only on those, p and the element index, so it equals the C library's,
the reference module's and any other implementation's bit for bit.
Masks are packed uint8 arrays, bit j = bit (j % 8) of byte j // 8, 1 = kept.

The kernels compute in float32, as the C library does: an input of another
real dtype (float64, an int type, a list) is converted to float32 first,
and results are float32 whatever the input's dtype (cast a result back with
.astype(np.float64) if you need to).  Shapes are kept, 0-d included.
Probabilities are checked in double before they are rounded to float32, so
p = 1.0000000001 is refused rather than rounded to 1.
"""

import ctypes
from typing import Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _args
from . import _arrays as A
from ._native import Error, GDropoutError, Stream, check, lib

__all__ = [
    "philox4x32_10", "random_u32", "random_normal", "mask_bernoulli",
    "dropout_fwd", "dropout_bwd", "dropout_fwd_cols", "dropout_bwd_cols",
    "dropout_add_fwd", "dropout_add_bwd", "sum_cols",
    "gaussian_dropout_fwd", "gaussian_dropout_bwd", "gaussian_sigma",
]


def _stream(s, function, name="stream", optional=False):
    """A Stream's C pointer; None only where the call may go without one
    (a backward pass from a stored mask), which C would call a NULL."""
    if s is None:
        if not optional:
            raise TypeError(f"{function}: {name} is required: a gdropout.Stream, got None")
        return None
    if not isinstance(s, Stream):
        raise TypeError(f"{function}: {name} must be a gdropout.Stream, got {type(s).__name__}")
    return s.c


def philox4x32_10(ctr: ArrayLike, key: ArrayLike) -> np.ndarray:
    """One Philox4x32-10 block: 4 counter words, 2 key words -> 4 words."""
    fn = "philox4x32_10"
    c = A.in_vector(ctr, 4, "ctr", fn, np.uint32)
    k = A.in_vector(key, 2, "key", fn, np.uint32)
    out = np.empty(4, dtype=np.uint32)
    check(lib.gd_philox4x32_10(A.ptr(c), A.ptr(k), A.ptr(out)), fn)
    return out


def random_u32(n: int, stream: Stream) -> np.ndarray:
    """The n stream words of indices stream.offset .. stream.offset + n - 1."""
    fn = "random_u32"
    n = _args.index(n, "n", fn)
    s = _stream(stream, fn)
    r = np.empty(n, dtype=np.uint32)
    check(lib.gd_random_u32(A.ptr(r), n, s), fn)
    return r


def random_normal(n: int, stream: Stream) -> np.ndarray:
    """The n standard normal deviates (float32) Gaussian dropout multiplies by."""
    fn = "random_normal"
    n = _args.index(n, "n", fn)
    s = _stream(stream, fn)
    z = np.empty(n, dtype=np.float32)
    check(lib.gd_random_normal(A.ptr(z), n, s), fn)
    return z


def mask_bernoulli(n: int, p: float, stream: Stream) -> np.ndarray:
    """The packed keep mask of n elements at drop probability p."""
    fn = "mask_bernoulli"
    n, p = _args.index(n, "n", fn), _args.prob(p, "p", fn)
    s = _stream(stream, fn)
    m = np.empty(A.mask_bytes(n), dtype=np.uint8)
    check(lib.gd_mask_bernoulli(A.ptr(m), n, p, s), fn)
    return m


def dropout_fwd(x: ArrayLike, p: float, stream: Stream,
                out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """y = dropout(x) at probability p; returns (y, mask).  y is float32 of
    x's shape (x is converted to float32 first).  out may be x itself (in
    place), no other array sharing x's memory."""
    fn = "dropout_fwd"
    xa, p, s = A.in_array(x, "x", fn), _args.prob(p, "p", fn), _stream(stream, fn)
    y = A.out_array(out, xa.shape, fn)
    if out is not None:
        A.no_overlap(y, fn, {"x": xa}, may_be=("x",))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd(A.ptr(y), A.ptr(xa), xa.size, p, s, A.ptr(m)), fn)
    return y, m


def dropout_bwd(dy: ArrayLike, p: float, stream: Optional[Stream] = None,
                mask: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx (float32, dy's shape) from the forward's mask, or regenerated from
    its stream.  out may be dy itself."""
    fn = "dropout_bwd"
    dya, p = A.in_array(dy, "dy", fn), _args.prob(p, "p", fn)
    s = _stream(stream, fn, optional=True)
    m = None if mask is None else A.in_mask(mask, dya.size, fn)
    dx = A.out_array(out, dya.shape, fn)
    if out is not None:
        A.no_overlap(dx, fn, {"dy": dya, "mask": m}, may_be=("dy",))
    check(lib.gd_dropout_bwd(A.ptr(dx), A.ptr(dya), dya.size, p, s, A.ptr(m)), fn)
    return dx


def dropout_fwd_cols(x: ArrayLike, p_cols: ArrayLike, stream: Stream,
                     out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Per-unit dropout of x[..., cols], column c at p_cols[c]; returns
    (y, mask), y float32 of x's shape.  out may be x itself."""
    fn = "dropout_fwd_cols"
    xa = A.in_array(x, "x", fn)
    rows, cols = A.rows_cols(xa.shape, "x", fn)
    pc, s = A.in_probs(p_cols, cols, "p_cols", fn), _stream(stream, fn)
    y = A.out_array(out, xa.shape, fn)
    if out is not None:
        A.no_overlap(y, fn, {"x": xa, "p_cols": pc}, may_be=("x",))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd_cols(A.ptr(y), A.ptr(xa), rows, cols, A.ptr(pc), s, A.ptr(m)), fn)
    return y, m


def dropout_bwd_cols(dy: ArrayLike, p_cols: ArrayLike, stream: Optional[Stream] = None,
                     mask: Optional[ArrayLike] = None,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """Backward of dropout_fwd_cols (float32), from the mask or the stream."""
    fn = "dropout_bwd_cols"
    dya = A.in_array(dy, "dy", fn)
    rows, cols = A.rows_cols(dya.shape, "dy", fn)
    pc, s = A.in_probs(p_cols, cols, "p_cols", fn), _stream(stream, fn, optional=True)
    m = None if mask is None else A.in_mask(mask, dya.size, fn)
    dx = A.out_array(out, dya.shape, fn)
    if out is not None:
        A.no_overlap(dx, fn, {"dy": dya, "p_cols": pc, "mask": m}, may_be=("dy",))
    check(lib.gd_dropout_bwd_cols(A.ptr(dx), A.ptr(dya), rows, cols, A.ptr(pc), s, A.ptr(m)),
          fn)
    return dx


def dropout_add_fwd(x: ArrayLike, p: float, stream: Stream, bias: Optional[ArrayLike] = None,
                    residual: Optional[ArrayLike] = None,
                    out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """y = residual + dropout(x + bias) on x[..., cols]; returns (y, mask),
    y float32 of x's shape.  out may be x or residual itself."""
    fn = "dropout_add_fwd"
    xa, p, s = A.in_array(x, "x", fn), _args.prob(p, "p", fn), _stream(stream, fn)
    rows, cols = A.rows_cols(xa.shape, "x", fn)
    b = None if bias is None else A.in_vector(bias, cols, "bias", fn)
    r = None
    if residual is not None:
        r = A.in_array(residual, "residual", fn)
        if r.shape != xa.shape:
            raise ValueError(f"{fn}: residual must have shape {xa.shape}, got {r.shape}")
    y = A.out_array(out, xa.shape, fn)
    if out is not None:
        A.no_overlap(y, fn, {"x": xa, "bias": b, "residual": r}, may_be=("x", "residual"))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_add_fwd(A.ptr(y), A.ptr(xa), A.ptr(b), A.ptr(r), rows, cols, p, s,
                                 A.ptr(m)), fn)
    return y, m


def dropout_add_bwd(dy: ArrayLike, p: float, stream: Optional[Stream] = None,
                    mask: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None,
                    bias_grad: bool = True) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Backward of dropout_add_fwd: (dx, dbias), float32; dbias is None
    unless bias_grad.  The residual's gradient is dy itself.  out may be dy."""
    fn = "dropout_add_bwd"
    dya, p = A.in_array(dy, "dy", fn), _args.prob(p, "p", fn)
    s = _stream(stream, fn, optional=True)
    rows, cols = A.rows_cols(dya.shape, "dy", fn)
    m = None if mask is None else A.in_mask(mask, dya.size, fn)
    dx = A.out_array(out, dya.shape, fn)
    if out is not None:
        A.no_overlap(dx, fn, {"dy": dya, "mask": m}, may_be=("dy",))
    db = np.empty(cols, dtype=np.float32) if bias_grad else None
    check(lib.gd_dropout_add_bwd(A.ptr(dx), A.ptr(db), A.ptr(dya), rows, cols, p, s, A.ptr(m)),
          fn)
    return dx, db


def sum_cols(x: ArrayLike) -> np.ndarray:
    """Column sums of x[..., cols] (in double, rounded once to float32)."""
    fn = "sum_cols"
    xa = A.in_array(x, "x", fn)
    rows, cols = A.rows_cols(xa.shape, "x", fn)
    out = np.empty(cols, dtype=np.float32)
    check(lib.gd_sum_cols(A.ptr(out), A.ptr(xa), rows, cols), fn)
    return out


def _gaussian(fn, c_function, x, sigma, stream, out, name):
    xa = A.in_array(x, name, fn)
    sigma, s = _args.nonneg(sigma, "sigma", fn), _stream(stream, fn)
    y = A.out_array(out, xa.shape, fn)
    if out is not None:
        A.no_overlap(y, fn, {name: xa}, may_be=(name,))
    check(c_function(A.ptr(y), A.ptr(xa), xa.size, sigma, s), fn)
    return y


def gaussian_dropout_fwd(x: ArrayLike, sigma: float, stream: Stream,
                         out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x * (1 + sigma * z), z = random_normal on the same stream; y is
    float32 of x's shape.  out may be x itself."""
    return _gaussian("gaussian_dropout_fwd", lib.gd_gaussian_dropout_fwd, x, sigma, stream, out,
                     "x")


def gaussian_dropout_bwd(dy: ArrayLike, sigma: float, stream: Stream,
                         out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (1 + sigma * z) with the forward's z regenerated (float32)."""
    return _gaussian("gaussian_dropout_bwd", lib.gd_gaussian_dropout_bwd, dy, sigma, stream,
                     out, "dy")


def gaussian_sigma(p: float) -> float:
    """The variance-matched sigma = sqrt(p / (1 - p)), as a Python float
    holding the library's float32 value."""
    fn = "gaussian_sigma"
    p = _args.prob(p, "p", fn)
    if ctypes.c_float(p).value >= 1.0:  # 1 - 1e-10 too: C sees it as 1.0f
        raise GDropoutError(Error.EDOMAIN, fn, "p", f"p={p!r} is 1 as a float: sigma is "
                            "defined for p in [0, 1)")
    s = ctypes.c_float()
    check(lib.gd_gaussian_sigma(p, ctypes.byref(s)), fn)
    return s.value
