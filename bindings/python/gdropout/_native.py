"""Loading libgdropout and declaring its C functions for ctypes.

Nothing here is compiled: the shared library is found at import time and
every prototype below mirrors include/gdropout/*.h (the Rust binding's test
and this module's test both check the names against the header).
"""

import ctypes
import ctypes.util
import os
import threading

__all__ = ["lib", "library_path", "GDropoutError", "check", "Stream", "NONE", "Handle"]

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
}


def _candidates():
    """Where to look, in order: $GDROPOUT_LIBRARY, the loader's own search
    (LD_LIBRARY_PATH, ldconfig cache) by soname, then find_library."""
    env = os.environ.get("GDROPOUT_LIBRARY")
    if env:
        return [env]  # an explicit choice is never second-guessed
    names = ["libgdropout.so.1", "libgdropout.1.dylib", "gdropout.dll"]
    found = ctypes.util.find_library("gdropout")
    if found:
        names.append(found)
    return names


def _load():
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise ImportError("libgdropout not found (set GDROPOUT_LIBRARY to the path of "
                      "libgdropout.so.1, or install it): " + "; ".join(errors))


class _Missing:
    """Stands for a function an older library lacks: fails when called."""

    def __init__(self, name, path):
        self.name, self.path = name, path

    def __call__(self, *args):
        raise NotImplementedError(f"{self.path} does not provide {self.name}")


class _Lib:
    """The loaded library, its functions as attributes.  Loaded on first use,
    so that gdropout.reference works where the C library is absent."""

    def __init__(self):
        self._loaded = False

    def _load(self):
        dll, path = _load()
        fns = {}
        for name, (res, args) in PROTOTYPES.items():
            try:
                fn = getattr(dll, name)
            except AttributeError:
                fn = _Missing(name, path)
            else:
                fn.restype, fn.argtypes = res, args
            fns[name] = fn
        major = fns["gd_version"]() >> 16
        if major != 1:
            raise ImportError(f"{path} is libgdropout {major}.x; this binding wants 1.x")
        self.__dict__.update(fns, dll=dll, path=path, _loaded=True)

    def __getattr__(self, name):
        # Only reached for attributes not yet set, i.e. before loading.
        if self._loaded or (name not in PROTOTYPES and name not in ("dll", "path")):
            raise AttributeError(name)
        self._load()
        return self.__dict__[name]

    def has(self, name):
        """Whether the loaded library provides function `name`."""
        return not isinstance(getattr(self, name), _Missing)


lib = _Lib()


def library_path():
    """The file the library was loaded from (loads it if needed)."""
    return lib.path


class GDropoutError(Exception):
    """A GD_E* error code from libgdropout.

    .code is the negative code, .name its symbol ("GD_EDOMAIN"), .function the
    C function that returned it; str() gives gd_strerror's message."""

    def __init__(self, code, function=None):
        self.code = code
        self.name = lib.gd_error_name(code).decode()
        self.message = lib.gd_strerror(code).decode()
        self.function = function
        where = f"{function}: " if function else ""
        super().__init__(f"{where}{self.message} ({self.name})")


def check(rc, function):
    """Raises GDropoutError for a non-zero return code."""
    if rc != 0:
        raise GDropoutError(rc, function)


_U64_MAX = (1 << 64) - 1


class Stream:
    """Which random words a call uses (struct gd_stream): the Philox key
    `seed`, the mask's `stream` id and the absolute `offset` of the call's
    first element.  Immutable; `at(offset)` gives a copy at another offset."""

    __slots__ = ("seed", "stream", "offset", "_c")

    def __init__(self, seed, stream=0, offset=0):
        for what, v in (("seed", seed), ("stream", stream), ("offset", offset)):
            if not isinstance(v, int) or not 0 <= v <= _U64_MAX:
                raise ValueError(f"Stream.{what} must be an int in [0, 2**64): {v!r}")
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "_c", CStream(seed, stream, offset))

    def __setattr__(self, name, value):
        raise AttributeError("Stream is immutable; use .at(offset)")

    def at(self, offset):
        return Stream(self.seed, self.stream, offset)

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.seed, self.stream, self.offset) == (
            other.seed, other.stream, other.offset)

    def __hash__(self):
        return hash((self.seed, self.stream, self.offset))

    def __repr__(self):
        return f"Stream(seed={self.seed}, stream={self.stream}, offset={self.offset})"

    @property
    def c(self):
        return ctypes.byref(self._c)


class Handle:
    """A C object owned from Python (gd_fisher, gd_plan): freed by close(),
    at the end of a `with` block, or when collected.  Calls go through
    _call, under a lock: ctypes releases the GIL and a C object is for one
    thread at a time."""

    _destroy = None  # the C destructor's name, set by subclasses

    def __init__(self, handle):
        self._lock = threading.Lock()
        self._h = handle

    @staticmethod
    def _make(function, *args):
        """A new C object from function(&out, *args)."""
        h = ctypes.c_void_p()
        check(getattr(lib, function)(ctypes.byref(h), *args), function)
        return h

    def close(self):
        """Frees the C object now; closing twice is fine."""
        h, self._h = getattr(self, "_h", None), None
        if h is not None and h.value:
            getattr(lib, self._destroy)(h)

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if self._h is None:
            raise ValueError(f"{type(self).__name__} object is closed")
        return self._h

    def _call(self, fn, name, *args):
        with self._lock:
            check(fn(self._handle(), *args), name)
