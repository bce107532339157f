"""Checking scalar arguments before they reach ctypes.

ctypes converts silently: a negative int wraps around as a size_t, 2.5
becomes 2 through int(), a double is rounded to float (1.0000000001 becomes
1.0f and -1e-50 becomes -0.0f, both then valid), and a str with a NUL is cut
at the NUL.  So every scalar is checked here first, in the caller's terms:
each message starts with the function the caller used ("dropout_fwd",
"Fisher.add_tensor") and names the argument.  Wrong types raise TypeError,
ints outside what C can hold ValueError, and values the C library would
refuse GDropoutError with the code it would have returned.
"""

import ctypes
import math
import numbers
import os
from typing import Union

from ._native import NONE, Error, GDropoutError

#: What a file name argument may be.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
U64_MAX = (1 << 64) - 1


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def index(v, name, function, limit=SIZE_MAX):
    """A size, count or id: an int in [0, limit]."""
    if not _is_int(v):
        raise TypeError(f"{function}: {name} must be an int, got {type(v).__name__}")
    v = int(v)
    if not 0 <= v <= limit:
        raise ValueError(f"{function}: {name} must be an int in [0, {limit}], got {v}")
    return v


def site(v, name, function):
    """A dropout site or an optional tensor id: None (GD_NONE) or an int in
    [0, GD_NONE)."""
    if v is None:
        return NONE
    if not _is_int(v):
        raise TypeError(f"{function}: {name} must be None or an int, got {type(v).__name__}")
    v = int(v)
    if not 0 <= v < NONE:
        raise ValueError(f"{function}: {name} must be None or an int in [0, {NONE}), got {v}")
    return v


def real(v, name, function):
    """Any real number (int, float, numpy scalar) as a Python float."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{function}: {name} must be a real number, got {type(v).__name__}")
    return float(v)


def _domain(name, function, value, rule):
    return GDropoutError(Error.EDOMAIN, function, name, f"{name}={value!r} {rule}")


def prob(v, name, function):
    """A probability in [0, 1], checked in double before ctypes rounds it to
    float (-0.0 is fine: C compares it equal to 0)."""
    x = real(v, name, function)
    if not 0.0 <= x <= 1.0:
        raise _domain(name, function, x, "is outside [0, 1]")
    return x


def nonneg(v, name, function):
    """A finite number >= 0 (a weight, sigma), checked in double and as the
    float C receives (1e39 is finite in double, inf in float)."""
    x = real(v, name, function)
    if not (math.isfinite(x) and x >= 0.0):
        raise _domain(name, function, x, "must be finite and >= 0")
    if math.isinf(ctypes.c_float(x).value):
        raise _domain(name, function, x, "is too large for a float (3.4e38 at most)")
    return x


def choice(v, enum_cls, name, function):
    """A member of enum_cls (an IntEnum mirroring a GD_* enum); an int that
    is not one is GD_EINVAL, as the C library would say."""
    if not _is_int(v):
        raise TypeError(f"{function}: {name} must be a gdropout.{enum_cls.__name__}, got "
                        f"{type(v).__name__}")
    try:
        return enum_cls(v)
    except ValueError:
        raise GDropoutError(Error.EINVAL, function, name, f"{name}={int(v)} is not a "
                            f"gdropout.{enum_cls.__name__}") from None


def text(v, name, function):
    """A str for a C string: UTF-8, no NUL (C would stop there)."""
    if not isinstance(v, str):
        raise TypeError(f"{function}: {name} must be a str, got {type(v).__name__}")
    if "\0" in v:
        raise ValueError(f"{function}: {name} contains a NUL character: {v!r}")
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{function}: {name} is not valid Unicode: {e}") from None


def path(v, function, name="path"):
    """A file system path (str, bytes or os.PathLike) as bytes, no NUL."""
    try:
        b = os.fsencode(v)
    except TypeError:
        raise TypeError(f"{function}: {name} must be a str, bytes or os.PathLike, got "
                        f"{type(v).__name__}") from None
    if b"\0" in b:
        raise ValueError(f"{function}: {name} contains a NUL byte: {v!r}")
    return b
