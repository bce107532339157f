"""Argument conversion shared by the wrappers.

Inputs are converted to C-contiguous float32 (no copy when they already
are); `out=` arrays are never converted, because a silent copy would leave
the caller's array unwritten: they must be float32, C-contiguous, writeable
and of the expected shape, or TypeError/ValueError says which rule failed.
"""

import numpy as np

_REAL_KINDS = "fiu"


def in_array(x, name, dtype=np.float32):
    """x as a C-contiguous array of dtype (a copy only when needed)."""
    a = np.asarray(x)
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name}: expected a real numeric array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=dtype)


def out_array(out, shape, name, dtype=np.float32):
    """A new array of shape, or `out` checked to be usable in place."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name}: must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name}: is read-only")
    if out.shape != tuple(shape):
        raise ValueError(f"{name}: must have shape {tuple(shape)}, got {out.shape}")
    return out


def mask_bytes(n):
    return (n + 7) // 8


def in_mask(mask, n, name="mask"):
    """A packed keep mask for n elements: uint8, ceil(n/8) bytes."""
    a = np.asarray(mask)
    if a.dtype != np.uint8:
        raise TypeError(f"{name}: must have dtype uint8 (a packed mask), got {a.dtype}")
    a = np.ascontiguousarray(a)
    if a.size != mask_bytes(n):
        raise ValueError(f"{name}: {n} elements need {mask_bytes(n)} mask bytes, got {a.size}")
    return a


def ptr(a):
    """The data pointer of an array, or None for NULL."""
    return None if a is None else a.ctypes.data


def rows_cols(shape, name):
    """[..., cols] viewed as rows x cols."""
    if len(shape) == 0:
        raise ValueError(f"{name}: needs at least one dimension (the columns)")
    cols = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return rows, cols


def in_vector(v, length, name, dtype=np.float32):
    a = in_array(v, name, dtype)
    if a.ndim != 1 or a.shape[0] != length:
        raise ValueError(f"{name}: must be a vector of {length} values, got shape {a.shape}")
    return a
