"""Mixed precision and the 16-bit mask rule (libgdropout 1.2, mixed.h).

Every dropout kernel again, for three element types and two mask rules.
The array's dtype picks the kernel, and arrays are never converted (a
float64 could be meant as any of the three):

    numpy.float16   IEEE binary16 (GD_F16)
    numpy.uint16    bfloat16 as its bits (GD_BF16; numpy has no bfloat16:
                    gdropout.reference16.bf16_round / bf16_widen convert)
    numpy.float32   float (GD_F32): with rule=MASK_16, the 16-bit rule on float

A half kernel widens its input to float32 exactly, runs the float32 kernel
of the rule and rounds the result to nearest even, so for the same stream,
p and rule it keeps exactly the elements the float32 kernel keeps, and its
output is the float32 output rounded.  rule=MASK_32 (the default) is the
rule of every float32 kernel of gdropout.kernels; MASK_16 draws 16 bits per
element (two elements per Philox word) with p quantised to k/65536, and its
masks mean nothing under MASK_32: give backward the forward's rule.

Arguments are checked as the float32 wrappers check them, before C sees
them, and outputs are untouched on error: a dtype that is none of the three,
or a second tensor (bias, residual, out) of another dtype than the first, is
a TypeError; a shape or length that does not fit (out, residual, bias,
p_cols, mask) a ValueError; p outside [0, 1] or a negative sigma a
GDropoutError GD_EDOMAIN; a rule that is not a MaskRule a GDropoutError
GD_EINVAL.  Messages start with the function called and name the argument.
"""

import enum
from typing import Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _args
from . import _arrays as A
from ._native import Stream, check, lib
from .kernels import _stream

__all__ = [
    "MaskRule", "MASK_32", "MASK_16", "mask_bernoulli_ex", "dropout_fwd_ex", "dropout_bwd_ex",
    "dropout_fwd_cols_ex", "dropout_bwd_cols_ex", "dropout_add_fwd_ex", "dropout_add_bwd_ex",
    "gaussian_dropout_fwd_ex", "gaussian_dropout_bwd_ex",
]


class MaskRule(enum.IntEnum):
    """Which random bits decide an element (GD_MASK_*)."""

    BITS_32 = 0  # 32-bit draws: the rule of every float32 kernel (GD_MASK_32)
    BITS_16 = 1  # 16-bit draws, two elements per word, p quantised to k/65536 (GD_MASK_16)


# The C names, without GD_.
MASK_32, MASK_16 = MaskRule.BITS_32, MaskRule.BITS_16

# mixed.h's dtype codes (part of the ABI; gdropout.torch maps its dtypes to them).
GD_F32, GD_BF16, GD_F16 = 0, 1, 2
# numpy dtype -> dtype code.
_CODES = {np.dtype(np.float32): GD_F32, np.dtype(np.uint16): GD_BF16,
          np.dtype(np.float16): GD_F16}
_WHAT = "float16 (fp16), uint16 (bf16 bits) or float32"


def _tensor(x, name, fn):
    """The first tensor of a call, whose dtype picks the kernel; (array, code)."""
    a = A.typed_array(x, name, fn, _CODES, _WHAT)
    return a, _CODES[a.dtype]


def _like(v, first, name, fn):
    """Another input tensor (bias, residual): None, or first's dtype."""
    if v is None:
        return None
    return A.typed_array(v, name, fn, (first.dtype,), f"{first.dtype} (as the first tensor)")


def _output(out, first, fn, inputs, may_be):
    """A new array like `first`, or `out` checked to be usable in place:
    first's dtype and shape, sharing no memory with inputs but may_be."""
    y = A.out_array(out, first.shape, fn, first.dtype)
    if out is not None:
        A.no_overlap(y, fn, inputs, may_be=may_be)
    return y


def _rule(rule, fn):
    return _args.choice(rule, MaskRule, "rule", fn)


def _mask(mask, n, fn):
    return None if mask is None else A.in_mask(mask, n, fn)


def mask_bernoulli_ex(n: int, p: float, stream: Stream, *,
                      rule: MaskRule = MASK_32) -> np.ndarray:
    """The packed keep mask of n elements at drop probability p under a mask
    rule (MASK_32: gdropout.mask_bernoulli's mask)."""
    fn = "mask_bernoulli_ex"
    n, p, r = _args.index(n, "n", fn), _args.prob(p, "p", fn), _rule(rule, fn)
    s = _stream(stream, fn)
    m = np.empty(A.mask_bytes(n), dtype=np.uint8)
    check(lib.gd_mask_bernoulli_ex(r, A.ptr(m), n, p, s), fn)
    return m


def dropout_fwd_ex(x: ArrayLike, p: float, stream: Stream, out: Optional[np.ndarray] = None, *,
                   rule: MaskRule = MASK_32) -> Tuple[np.ndarray, np.ndarray]:
    """y = dropout(x) at probability p in x's dtype (float16, uint16 bf16
    bits or float32; see the module's help); returns (y, mask), y rounded to
    nearest even from the float32 result.  out may be x itself."""
    fn = "dropout_fwd_ex"
    (xa, code), p, r = _tensor(x, "x", fn), _args.prob(p, "p", fn), _rule(rule, fn)
    s = _stream(stream, fn)
    y = _output(out, xa, fn, {"x": xa}, ("x",))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd_ex(code, r, A.ptr(y), A.ptr(xa), xa.size, p, s, A.ptr(m)), fn)
    return y, m


def dropout_bwd_ex(dy: ArrayLike, p: float, stream: Optional[Stream] = None,
                   mask: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None, *,
                   rule: MaskRule = MASK_32) -> np.ndarray:
    """dx in dy's dtype from the forward's mask, or regenerated from its
    stream under its rule.  out may be dy itself."""
    fn = "dropout_bwd_ex"
    (dya, code), p, r = _tensor(dy, "dy", fn), _args.prob(p, "p", fn), _rule(rule, fn)
    s, m = _stream(stream, fn, optional=True), _mask(mask, dya.size, fn)
    dx = _output(out, dya, fn, {"dy": dya, "mask": m}, ("dy",))
    check(lib.gd_dropout_bwd_ex(code, r, A.ptr(dx), A.ptr(dya), dya.size, p, s, A.ptr(m)), fn)
    return dx


def dropout_fwd_cols_ex(x: ArrayLike, p_cols: ArrayLike, stream: Stream,
                        out: Optional[np.ndarray] = None, *,
                        rule: MaskRule = MASK_32) -> Tuple[np.ndarray, np.ndarray]:
    """Per-unit dropout of x[..., cols] in x's dtype, column c at p_cols[c]
    (float probabilities); returns (y, mask).  out may be x itself."""
    fn = "dropout_fwd_cols_ex"
    (xa, code), r = _tensor(x, "x", fn), _rule(rule, fn)
    rows, cols = A.rows_cols(xa.shape, "x", fn)
    pc, s = A.in_probs(p_cols, cols, "p_cols", fn), _stream(stream, fn)
    y = _output(out, xa, fn, {"x": xa, "p_cols": pc}, ("x",))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_fwd_cols_ex(code, r, A.ptr(y), A.ptr(xa), rows, cols, A.ptr(pc), s,
                                     A.ptr(m)), fn)
    return y, m


def dropout_bwd_cols_ex(dy: ArrayLike, p_cols: ArrayLike, stream: Optional[Stream] = None,
                        mask: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None, *,
                        rule: MaskRule = MASK_32) -> np.ndarray:
    """Backward of dropout_fwd_cols_ex in dy's dtype, from the mask or the
    stream."""
    fn = "dropout_bwd_cols_ex"
    (dya, code), r = _tensor(dy, "dy", fn), _rule(rule, fn)
    rows, cols = A.rows_cols(dya.shape, "dy", fn)
    pc, s = A.in_probs(p_cols, cols, "p_cols", fn), _stream(stream, fn, optional=True)
    m = _mask(mask, dya.size, fn)
    dx = _output(out, dya, fn, {"dy": dya, "p_cols": pc, "mask": m}, ("dy",))
    check(lib.gd_dropout_bwd_cols_ex(code, r, A.ptr(dx), A.ptr(dya), rows, cols, A.ptr(pc), s,
                                     A.ptr(m)), fn)
    return dx


def dropout_add_fwd_ex(x: ArrayLike, p: float, stream: Stream, bias: Optional[ArrayLike] = None,
                       residual: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None,
                       *, rule: MaskRule = MASK_32) -> Tuple[np.ndarray, np.ndarray]:
    """y = residual + dropout(x + bias) on x[..., cols], computed in float32
    and rounded once to x's dtype (bias and residual of that dtype too);
    returns (y, mask).  out may be x or residual itself."""
    fn = "dropout_add_fwd_ex"
    (xa, code), p, r = _tensor(x, "x", fn), _args.prob(p, "p", fn), _rule(rule, fn)
    s = _stream(stream, fn)
    rows, cols = A.rows_cols(xa.shape, "x", fn)
    b, res = _like(bias, xa, "bias", fn), _like(residual, xa, "residual", fn)
    if b is not None and b.shape != (cols,):
        raise ValueError(f"{fn}: bias must be a vector of {cols} values, got shape {b.shape}")
    if res is not None and res.shape != xa.shape:
        raise ValueError(f"{fn}: residual must have shape {xa.shape}, got {res.shape}")
    y = _output(out, xa, fn, {"x": xa, "bias": b, "residual": res}, ("x", "residual"))
    m = np.empty(A.mask_bytes(xa.size), dtype=np.uint8)
    check(lib.gd_dropout_add_fwd_ex(code, r, A.ptr(y), A.ptr(xa), A.ptr(b), A.ptr(res), rows,
                                    cols, p, s, A.ptr(m)), fn)
    return y, m


def dropout_add_bwd_ex(dy: ArrayLike, p: float, stream: Optional[Stream] = None,
                       mask: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None,
                       bias_grad: bool = True, *,
                       rule: MaskRule = MASK_32) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Backward of dropout_add_fwd_ex: (dx in dy's dtype, dbias); dbias,
    None unless bias_grad, is float32: the column sums of dx as stored,
    summed in double.  The residual's gradient is dy itself.  out may be dy."""
    fn = "dropout_add_bwd_ex"
    (dya, code), p, r = _tensor(dy, "dy", fn), _args.prob(p, "p", fn), _rule(rule, fn)
    rows, cols = A.rows_cols(dya.shape, "dy", fn)
    s, m = _stream(stream, fn, optional=True), _mask(mask, dya.size, fn)
    dx = _output(out, dya, fn, {"dy": dya, "mask": m}, ("dy",))
    db = np.empty(cols, dtype=np.float32) if bias_grad else None
    check(lib.gd_dropout_add_bwd_ex(code, r, A.ptr(dx), A.ptr(db), A.ptr(dya), rows, cols, p, s,
                                    A.ptr(m)), fn)
    return dx, db


def _gaussian(fn, c_function, x, sigma, stream, out, name):
    xa, code = _tensor(x, name, fn)
    sigma, s = _args.nonneg(sigma, "sigma", fn), _stream(stream, fn)
    y = _output(out, xa, fn, {name: xa}, (name,))
    check(c_function(code, A.ptr(y), A.ptr(xa), xa.size, sigma, s), fn)
    return y


def gaussian_dropout_fwd_ex(x: ArrayLike, sigma: float, stream: Stream,
                            out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x * (1 + sigma * z) in float32, rounded to x's dtype (z as
    gdropout.gaussian_dropout_fwd's; Gaussian noise has no mask rule).  out
    may be x itself."""
    return _gaussian("gaussian_dropout_fwd_ex", lib.gd_gaussian_dropout_fwd_ex, x, sigma, stream,
                     out, "x")


def gaussian_dropout_bwd_ex(dy: ArrayLike, sigma: float, stream: Stream,
                            out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (1 + sigma * z) with the forward's z regenerated, rounded to
    dy's dtype.  out may be dy itself."""
    return _gaussian("gaussian_dropout_bwd_ex", lib.gd_gaussian_dropout_bwd_ex, dy, sigma, stream,
                     out, "dy")
