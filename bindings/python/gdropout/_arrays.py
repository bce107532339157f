"""Argument conversion shared by the wrappers.

Inputs are converted to C-contiguous, aligned float32 (no copy when they
already are; the shape is kept, 0-d included: an array whose data is not on
a multiple of its item size, e.g. np.frombuffer(buf, offset=1), is copied,
since C may not read a float through a misaligned pointer); `out=` arrays are never converted,
because a silent copy would leave the caller's array unwritten: they must be
float32, C-contiguous, aligned, writeable and of the expected shape, and may not
overlap an input other than where the C kernel allows exactly the same
array.  Every message starts with the function the caller used and names
the argument.
"""

import numbers

import numpy as np

from ._native import Error, GDropoutError

_REAL_KINDS = "fiu"


def in_array(x, name, function, dtype=np.float32):
    """x as a C-contiguous array of dtype (a copy only when needed)."""
    if np.dtype(dtype).kind in "iu":
        return _c_aligned(_words(x, name, function, np.dtype(dtype)), dtype)
    a = np.asarray(x)
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{function}: {name} must be a real numeric array, got dtype {a.dtype}")
    return _c_aligned(a, dtype)


def _words(x, name, function, dtype):
    """Integer words (Philox counters and keys: a few) checked one by one as
    Python ints: numpy's cast would wrap 2**32 to 0 and -1 to 0xFFFFFFFF and
    truncate 1.9 to 1, and [5, np.uint64(6)] is a float64 array to it."""
    obj = np.asarray(x, dtype=object)
    info = np.iinfo(dtype)
    for v in obj.flat:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{function}: {name} must hold ints, got {type(v).__name__} {v!r}")
        if not info.min <= int(v) <= info.max:
            raise ValueError(f"{function}: {name} must hold ints in [{info.min}, {info.max}], "
                             f"got {int(v)}")
    return np.array([int(v) for v in obj.flat], dtype=dtype).reshape(obj.shape)


def typed_array(x, name, function, dtypes, what):
    """x as a C-contiguous, aligned array of one of dtypes (`what` names
    them for the message), never converted: where the dtype picks the
    kernel (the mixed-precision ones), a float64 could mean any of them."""
    a = np.asarray(x)
    if a.dtype not in dtypes:
        raise TypeError(f"{function}: {name} must have dtype {what}, got {a.dtype}")
    return _c_aligned(a, a.dtype)


def _c_aligned(a, dtype):
    # not np.ascontiguousarray: it turns a 0-d array into shape (1,)
    a = np.asarray(a, dtype=dtype, order="C")
    if not a.flags.aligned:
        # np.asarray keeps a misaligned buffer as it is; the C kernels (and C
        # itself) need every element on a multiple of its size
        a = a.copy(order="C")
    return a


def out_array(out, shape, function, dtype=np.float32, name="out"):
    """A new array of shape, or `out` checked to be usable in place."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    where = f"{function}: {name}"
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{where} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{where} must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{where} must be C-contiguous")
    if not out.flags.aligned:
        raise ValueError(f"{where} is not aligned: its data starts at an address that is not a "
                         f"multiple of {out.dtype.itemsize} (a view of a buffer at an odd "
                         "offset?); C cannot write through it")
    if not out.flags.writeable:
        raise ValueError(f"{where} is read-only")
    if out.shape != tuple(shape):
        raise ValueError(f"{where} must have shape {tuple(shape)}, got {out.shape}")
    return out


def no_overlap(out, function, inputs, may_be=()):
    """Refuses an `out` that shares memory with one of inputs ({name:
    array or None}), except that it may be exactly (same start, same size)
    the inputs named in may_be: the kernels allow y == x, nothing else."""
    for name, a in inputs.items():
        if a is None or not np.shares_memory(out, a):
            continue
        if name in may_be and a.ctypes.data == out.ctypes.data and a.nbytes == out.nbytes:
            continue
        same = f"out may be {' or '.join(may_be)} itself, but " if may_be else ""
        raise ValueError(f"{function}: out overlaps {name} ({same}a partial overlap would "
                         f"read elements already written)")


def mask_bytes(n):
    return (n + 7) // 8


def in_mask(mask, n, function, name="mask"):
    """A packed keep mask for n elements: uint8, ceil(n/8) bytes."""
    a = np.asarray(mask)
    if a.dtype != np.uint8:
        raise TypeError(f"{function}: {name} must have dtype uint8 (a packed mask), "
                        f"got {a.dtype}")
    a = np.asarray(a, order="C")
    if a.size != mask_bytes(n):
        raise ValueError(f"{function}: {name}: {n} elements need {mask_bytes(n)} mask bytes, "
                         f"got {a.size}")
    return a


def ptr(a):
    """The data pointer of an array, or None for NULL."""
    return None if a is None else a.ctypes.data


def rows_cols(shape, name, function):
    """[..., cols] viewed as rows x cols."""
    if len(shape) == 0:
        raise ValueError(f"{function}: {name} needs at least one dimension (the columns)")
    cols = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return rows, cols


def in_vector(v, length, name, function, dtype=np.float32):
    a = in_array(v, name, function, dtype)
    if a.ndim != 1 or a.shape[0] != length:
        raise ValueError(f"{function}: {name} must be a vector of {length} values, "
                         f"got shape {a.shape}")
    return a


def in_probs(v, length, name, function):
    """A vector of probabilities, checked in double before it is rounded to
    float32 (as _args.prob does for one)."""
    d = in_vector(v, length, name, function, np.float64)
    bad = np.flatnonzero(~((d >= 0.0) & (d <= 1.0)))
    if bad.size:
        i = int(bad[0])
        raise GDropoutError(Error.EDOMAIN, function, name,
                            f"{name}[{i}]={float(d[i])!r} is outside [0, 1]")
    return np.asarray(d, dtype=np.float32)
