"""Loading libgdropout and declaring its C functions for ctypes.

Nothing here is compiled: the shared library is found at import time and
every prototype below mirrors include/gdropout/*.h (the Rust binding's test
and this module's test both check the names against the header).
"""

import ctypes
import ctypes.util
import enum
import numbers
import os
import threading
from typing import Any, Optional, Tuple, TypeVar

__all__ = ["lib", "library_path", "library_source", "BUNDLED", "Error", "GDropoutError", "check",
           "Stream", "NONE", "Handle"]

_SIZE = ctypes.c_size_t
_P = ctypes.c_void_p  # every data pointer: numpy arrays pass .ctypes.data or None
_INT = ctypes.c_int
_F = ctypes.c_float
_U64 = ctypes.c_uint64
_CSTR = ctypes.c_char_p

#: GD_NONE: "no tensor" / "no site".
NONE = ctypes.c_size_t(-1).value


class CStream(ctypes.Structure):
    """struct gd_stream, a frozen POD."""

    _fields_ = [("seed", ctypes.c_uint64), ("stream", ctypes.c_uint64),
                ("offset", ctypes.c_uint64)]


_PS = ctypes.POINTER(CStream)
_PSIZE = ctypes.POINTER(_SIZE)
_PDOUBLE = ctypes.POINTER(ctypes.c_double)
_PF = ctypes.POINTER(_F)
_PP = ctypes.POINTER(ctypes.c_void_p)

# name: (restype, argtypes), in header order.
PROTOTYPES = {
    # common.h
    "gd_version": (ctypes.c_uint, []),
    "gd_version_string": (_CSTR, []),
    "gd_strerror": (_CSTR, [_INT]),
    "gd_error_name": (_CSTR, [_INT]),
    "gd_none": (_SIZE, []),
    # random.h
    "gd_philox4x32_10": (_INT, [_P, _P, _P]),
    "gd_random_u32": (_INT, [_P, _SIZE, _PS]),
    "gd_random_normal": (_INT, [_P, _SIZE, _PS]),
    "gd_dispatch_name": (_CSTR, []),
    # dropout.h
    "gd_mask_bernoulli": (_INT, [_P, _SIZE, _F, _PS]),
    "gd_dropout_fwd": (_INT, [_P, _P, _SIZE, _F, _PS, _P]),
    "gd_dropout_bwd": (_INT, [_P, _P, _SIZE, _F, _PS, _P]),
    "gd_dropout_fwd_cols": (_INT, [_P, _P, _SIZE, _SIZE, _P, _PS, _P]),
    "gd_dropout_bwd_cols": (_INT, [_P, _P, _SIZE, _SIZE, _P, _PS, _P]),
    "gd_dropout_add_fwd": (_INT, [_P, _P, _P, _P, _SIZE, _SIZE, _F, _PS, _P]),
    "gd_dropout_add_bwd": (_INT, [_P, _P, _P, _SIZE, _SIZE, _F, _PS, _P]),
    "gd_sum_cols": (_INT, [_P, _P, _SIZE, _SIZE]),
    "gd_gaussian_dropout_fwd": (_INT, [_P, _P, _SIZE, _F, _PS]),
    "gd_gaussian_dropout_bwd": (_INT, [_P, _P, _SIZE, _F, _PS]),
    "gd_gaussian_sigma": (_INT, [_F, _PF]),
    # mixed.h (since 1.2): (dtype, rule, then the 1.0 function's arguments)
    "gd_mask_bernoulli_ex": (_INT, [_INT, _P, _SIZE, _F, _PS]),
    "gd_dropout_fwd_ex": (_INT, [_INT, _INT, _P, _P, _SIZE, _F, _PS, _P]),
    "gd_dropout_bwd_ex": (_INT, [_INT, _INT, _P, _P, _SIZE, _F, _PS, _P]),
    "gd_dropout_fwd_cols_ex": (_INT, [_INT, _INT, _P, _P, _SIZE, _SIZE, _P, _PS, _P]),
    "gd_dropout_bwd_cols_ex": (_INT, [_INT, _INT, _P, _P, _SIZE, _SIZE, _P, _PS, _P]),
    "gd_dropout_add_fwd_ex": (_INT, [_INT, _INT, _P, _P, _P, _P, _SIZE, _SIZE, _F, _PS, _P]),
    "gd_dropout_add_bwd_ex": (_INT, [_INT, _INT, _P, _P, _P, _SIZE, _SIZE, _F, _PS, _P]),
    "gd_gaussian_dropout_fwd_ex": (_INT, [_INT, _P, _P, _SIZE, _F, _PS]),
    "gd_gaussian_dropout_bwd_ex": (_INT, [_INT, _P, _P, _SIZE, _F, _PS]),
    # fisher.h
    "gd_fisher_create": (_INT, [_PP]),
    "gd_fisher_destroy": (None, [_P]),
    "gd_fisher_add_tensor": (_INT, [_P, _CSTR, _SIZE, _SIZE, _PSIZE]),
    "gd_fisher_count": (_INT, [_P, _PSIZE]),
    "gd_fisher_find": (_INT, [_P, _CSTR, _PSIZE]),
    "gd_fisher_info": (_INT, [_P, _SIZE, ctypes.POINTER(_CSTR), _PSIZE, _PSIZE]),
    "gd_fisher_accumulate": (_INT, [_P, _SIZE, _P, _F]),
    "gd_fisher_accumulate_batch": (_INT, [_P, _SIZE, _P, _SIZE]),
    "gd_fisher_accumulate_dense": (_INT, [_P, _SIZE, _SIZE, _P, _P, _SIZE, _SIZE, _SIZE]),
    "gd_fisher_accumulate_dense_seq": (_INT, [_P, _SIZE, _SIZE, _P, _P, _SIZE, _SIZE, _SIZE,
                                              _SIZE]),
    # 1.1; declared for completeness, not wrapped: a host sgemm in Python
    # would only be slower than the default OpenBLAS
    "gd_fisher_set_sgemm": (_INT, [_P, _P, _P]),
    "gd_fisher_from_adam": (_INT, [_P, _SIZE, _P, _F, _U64, _SIZE]),
    "gd_fisher_read": (_INT, [_P, _SIZE, _P, _SIZE, _PDOUBLE]),
    "gd_fisher_sums": (_INT, [_P, _SIZE, _P, _SIZE, _PDOUBLE]),
    "gd_fisher_set_sums": (_INT, [_P, _SIZE, _P, _SIZE, ctypes.c_double]),
    "gd_fisher_merge": (_INT, [_P, _P]),
    "gd_fisher_site_count": (_INT, [_P, _PSIZE]),
    "gd_fisher_site_scores": (_INT, [_P, _INT, _P, _SIZE]),
    "gd_fisher_unit_scores": (_INT, [_P, _SIZE, _SIZE, _SIZE, _INT, _P]),
    "gd_fisher_save": (_INT, [_P, _CSTR]),
    "gd_fisher_load": (_INT, [_PP, _CSTR]),
    # plan.h
    "gd_plan_create": (_INT, [_PP, _SIZE]),
    "gd_plan_destroy": (None, [_P]),
    "gd_plan_size": (_INT, [_P, _PSIZE]),
    "gd_plan_set_site": (_INT, [_P, _SIZE, _CSTR, _F]),
    "gd_plan_set_scores": (_INT, [_P, _P, _SIZE]),
    "gd_plan_compute": (_INT, [_P, _INT, _F, _F]),
    "gd_plan_get": (_INT, [_P, _SIZE, _PF]),
    "gd_plan_get_all": (_INT, [_P, _P, _SIZE]),
    "gd_plan_site_info": (_INT, [_P, _SIZE, ctypes.POINTER(_CSTR), _PF, _PF]),
    "gd_plan_save": (_INT, [_P, _CSTR]),
    "gd_plan_load": (_INT, [_PP, _CSTR]),
    "gd_plan_control": (_INT, [_P, _INT, _U64]),
}


_SONAME = "libgdropout.so.1"
_HOW = ("install the library (Debian: apt-get install libgdropout1; or cmake --install a "
        "build) or set GDROPOUT_LIBRARY to the path of its libgdropout.so.1")


#: The bundled copy's place inside the package (setup.py puts it there).
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", _SONAME)


def _open() -> Tuple[ctypes.CDLL, str, str]:
    """The library as (CDLL, where it came from, which kind): first
    $GDROPOUT_LIBRARY if set ("GDROPOUT_LIBRARY": an explicit choice is never
    second-guessed), then the copy bundled in the wheel ("bundled"), then the
    soname through the dynamic loader (LD_LIBRARY_PATH, RUNPATH, the
    ldconfig cache) or what ctypes.util.find_library finds ("system").
    Fails with one ImportError that says what was tried and how to point the
    binding at a library."""
    env = os.environ.get("GDROPOUT_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env), env, "GDROPOUT_LIBRARY"
        except OSError as e:
            raise ImportError(f"gdropout: cannot load GDROPOUT_LIBRARY={env}: "
                              f"{_reason(e, env)}") from None
    tried = []
    if os.path.exists(BUNDLED):
        try:
            return ctypes.CDLL(BUNDLED), BUNDLED, "bundled"
        except OSError as e:  # e.g. its OpenBLAS is missing: the system's may do
            tried.append(f"{BUNDLED}: {_reason(e, BUNDLED)}")
    try:
        return ctypes.CDLL(_SONAME), _SONAME, "system"
    except OSError as e:
        tried.append(f"{_SONAME}: {_reason(e, _SONAME)}")
    found = ctypes.util.find_library("gdropout")
    if found and found != _SONAME:
        try:
            return ctypes.CDLL(found), found, "system"
        except OSError:
            pass
    raise ImportError(f"gdropout: cannot load the C library: {'; '.join(tried)}; {_HOW}") \
        from None


def _reason(error, name):
    """dlopen's message without the file name it starts with."""
    text = str(error)
    return text[len(name) + 2:] if text.startswith(name + ": ") else text


class _Missing:
    """Stands for a function an older library lacks: fails when called."""

    def __init__(self, name, path):
        self.name, self.path = name, path

    def __call__(self, *args):
        raise NotImplementedError(f"{self.path} does not provide {self.name}")


class _Lib:
    """The loaded library, its functions (declared from PROTOTYPES) as
    attributes, .dll and .path.  A function an older library lacks is a
    _Missing that raises when called; has() tells which."""

    def __init__(self, dll: ctypes.CDLL, path: str, source: str) -> None:
        if not hasattr(dll, "gd_version"):
            raise ImportError(f"gdropout: {path} is not libgdropout (it does not export "
                              f"gd_version); {_HOW}")
        self.dll, self.path, self.source = dll, path, source
        for name, (res, args) in PROTOTYPES.items():
            try:
                fn = getattr(dll, name)
            except AttributeError:
                fn = _Missing(name, path)
            else:
                fn.restype, fn.argtypes = res, args
            setattr(self, name, fn)
        major = self.gd_version() >> 16
        if major != 1:
            raise ImportError(f"gdropout: {path} is libgdropout {major}.x; this binding "
                              f"wants 1.x")

    def __getattr__(self, name: str) -> Any:
        # Only reached for a name __init__ did not set: every C function is
        # set there.  Declared so that type checkers accept lib.gd_*.
        raise AttributeError(f"libgdropout binding: no C function {name!r} in PROTOTYPES")

    def has(self, name: str) -> bool:
        """Whether the loaded library provides function `name`."""
        return not isinstance(getattr(self, name), _Missing)


# Loaded at import, so that a missing library is one clear ImportError at
# `import gdropout` rather than an error at the first call.
lib = _Lib(*_open())


def library_path() -> str:
    """The file (or soname) the library was loaded from."""
    return lib.path


def library_source() -> str:
    """Which library was loaded: "GDROPOUT_LIBRARY" (the variable's path),
    "bundled" (the copy inside the installed package, built with it) or
    "system" (libgdropout.so.1 through the dynamic loader)."""
    return lib.source


def _error_enum():
    """The GD_E* codes as an IntEnum, read from the library itself:
    gd_error_name of 0, -1, -2, ... until it answers GD_EUNKNOWN."""
    members = {"OK": 0}
    for code in range(-1, -256, -1):
        name = lib.gd_error_name(code).decode()
        if name == "GD_EUNKNOWN" or not name.startswith("GD_"):
            break
        members[name[3:]] = code
    error = enum.IntEnum("Error", members, module="gdropout")  # type: ignore[misc]
    error.__doc__ = ("The library's error codes (GD_OK, GD_E*), read from gd_error_name: "
                     "Error.OK = 0, Error.EINVAL, Error.EDOMAIN, ...")
    return error


#: The library's error codes: Error.OK, Error.EINVAL, ... (IntEnum).
Error = _error_enum()


class GDropoutError(Exception):
    """A GD_E* error: from libgdropout, or found by the binding before the
    call (a value the C library would refuse, or would only see rounded).

    .code is the code (an Error member), .name its symbol ("GD_EDOMAIN"),
    .message gd_strerror's text, .function the Python function or method the
    caller used ("dropout_fwd", "Fisher.accumulate"), .argument the
    argument at fault when known ("p", "tensor_id"), else None."""

    def __init__(self, code: int, function: Optional[str] = None,
                 argument: Optional[str] = None, detail: Optional[str] = None) -> None:
        try:
            code = Error(code)
        except ValueError:
            pass
        self.code = code
        self.name = lib.gd_error_name(code).decode()
        self.message = lib.gd_strerror(code).decode()
        self.function = function
        self.argument = argument
        self.detail = detail
        parts = [x for x in (function, detail or argument) if x]
        parts.append(f"{self.message} ({self.name})")
        super().__init__(": ".join(parts))

    def __reduce__(self):
        # rebuilt from its parts, so that it survives pickling (e.g. from a
        # multiprocessing worker) with .code and .function intact
        return (GDropoutError, (int(self.code), self.function, self.argument, self.detail))


def check(rc: int, function: str, argument: Optional[str] = None,
          detail: Optional[str] = None) -> None:
    """Raises GDropoutError for a non-zero return code."""
    if rc != 0:
        raise GDropoutError(rc, function, argument, detail)


_U64_MAX = (1 << 64) - 1


class Stream:
    """Which random words a call uses (struct gd_stream): the Philox key
    `seed`, the mask's `stream` id and the absolute `offset` of the call's
    first element.  Immutable; `at(offset)` gives a copy at another offset."""

    __slots__ = ("seed", "stream", "offset", "_c")
    seed: int
    stream: int
    offset: int
    _c: CStream

    def __init__(self, seed: int, stream: int = 0, offset: int = 0) -> None:
        vals: "list[int]" = []
        for what, v in (("seed", seed), ("stream", stream), ("offset", offset)):
            # numpy's integers are ints too; bool is not a seed
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise TypeError(f"Stream.{what} must be an int, got {type(v).__name__}")
            if not 0 <= int(v) <= _U64_MAX:
                raise ValueError(f"Stream.{what} must be an int in [0, 2**64): {v!r}")
            vals.append(int(v))
        seed, stream, offset = vals
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "_c", CStream(seed, stream, offset))

    def __setattr__(self, name, value):
        raise AttributeError("Stream is immutable; use .at(offset)")

    def __reduce__(self):
        # pickle, copy and multiprocessing rebuild it from its three ints
        return (Stream, (self.seed, self.stream, self.offset))

    def at(self, offset: int) -> "Stream":
        """A copy of this stream at another offset."""
        return Stream(self.seed, self.stream, offset)

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.seed, self.stream, self.offset) == (
            other.seed, other.stream, other.offset)

    def __hash__(self):
        return hash((self.seed, self.stream, self.offset))

    def __repr__(self):
        return f"Stream(seed={self.seed}, stream={self.stream}, offset={self.offset})"

    @property
    def c(self) -> Any:
        """A ctypes pointer to the struct gd_stream, for the C calls."""
        return ctypes.byref(self._c)


_H = TypeVar("_H", bound="Handle")


class Handle:
    """A C object owned from Python (gd_fisher, gd_plan): freed by close(),
    at the end of a `with` block, or when collected.  Every call, close()
    included, holds the object's lock: ctypes releases the GIL and a C
    object is for one thread at a time, so close() on one thread waits for
    a call in progress on another, and later calls see a closed object."""

    _destroy: str = ""  # the C destructor's name, set by subclasses

    def __init__(self, handle: ctypes.c_void_p) -> None:
        if not isinstance(handle, ctypes.c_void_p) or not handle.value:
            # an int here would reach C as a pointer
            raise TypeError(f"{type(self).__name__}: _handle is internal (a pointer the "
                            f"library made), got {type(handle).__name__}")
        self._lock = threading.Lock()
        self._free = getattr(lib, self._destroy)  # kept for __del__ at exit
        self._h: Optional[ctypes.c_void_p] = handle

    @staticmethod
    def _make(c_function, function, *args):
        """A new C object from c_function(&out, *args); errors name the
        caller's `function`."""
        h = ctypes.c_void_p()
        check(getattr(lib, c_function)(ctypes.byref(h), *args), function)
        return h

    def close(self) -> None:
        """Frees the C object now, once any call in progress has returned;
        closing twice is fine."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ did not get that far
            return
        with lock:
            h, self._h = self._h, None
            if h is not None and h.value:
                self._free(h)

    def __del__(self) -> None:
        self.close()

    def __reduce_ex__(self, protocol):
        # copy.copy would share the C object and both copies would free it;
        # a pickle cannot carry it
        raise TypeError(f"{type(self).__name__} owns a C object and cannot be copied or "
                        f"pickled; save() it to a file and load() that")

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _handle(self, function):
        """The C pointer; the caller holds the lock."""
        if self._h is None:
            raise ValueError(f"{function}: {type(self).__name__} object is closed")
        return self._h

    def _call(self, fn, function, *args):
        """fn(handle, *args) under the lock; errors name `function`."""
        with self._lock:
            check(fn(self._handle(function), *args), function)
