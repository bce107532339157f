"""Diagonal empirical Fisher information (gd_fisher).

    F_j = (1 / W) * sum_n w_n * g_{n,j}^2,   W = sum_n w_n

Gradients are per example (the gradient of that example's own loss).  A
Fisher object serialises its calls, close() included, with a lock, since
ctypes releases the GIL and the C object is for one thread at a time.
Errors name the method called ("Fisher.accumulate") and the argument.
"""

import collections
import ctypes
import enum
from typing import List, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _args
from ._args import PathLike
from . import _arrays as A
from ._native import NONE, Error, GDropoutError, Handle, check, lib

__all__ = ["Fisher", "TensorInfo", "Reduce", "Axis", "REDUCE_TENSOR_MEAN", "REDUCE_ELEMENT_MEAN",
           "REDUCE_SUM", "REDUCE_MAX", "AXIS_ROWS", "AXIS_COLS"]


class Reduce(enum.IntEnum):
    """How site_scores reduces a site's estimates (GD_REDUCE_*)."""

    TENSOR_MEAN = 0   # the paper's: mean over the site's tensors of each one's element mean
    ELEMENT_MEAN = 1  # mean over every element of the site
    SUM = 2           # sum over every element of the site
    MAX = 3           # largest element of the site


class Axis(enum.IntEnum):
    """Which units unit_scores scores (GD_AXIS_*)."""

    ROWS = 0  # one score per row (for W[out, in], one per output unit)
    COLS = 1  # one score per column


# The names of version 1.0 of the binding.
REDUCE_TENSOR_MEAN, REDUCE_ELEMENT_MEAN = Reduce.TENSOR_MEAN, Reduce.ELEMENT_MEAN
REDUCE_SUM, REDUCE_MAX = Reduce.SUM, Reduce.MAX
AXIS_ROWS, AXIS_COLS = Axis.ROWS, Axis.COLS

#: What a registered tensor is; site is None for GD_NONE.
TensorInfo = collections.namedtuple("TensorInfo", "name numel site")


def _site_out(site):
    return None if site == NONE else site


# What the library takes as a tensor name (gd_fisher_add_tensor).
_NAME_RULE = ("a name is non-empty UTF-8 of at most 255 bytes, without control characters, "
             "and not \"__metadata__\"")


class Fisher(Handle):
    """An accumulator of per-tensor diagonal Fisher estimates."""

    _destroy = "gd_fisher_destroy"

    def __init__(self, *, _handle: Optional[ctypes.c_void_p] = None) -> None:
        super().__init__(_handle if _handle is not None else
                         self._make("gd_fisher_create", "Fisher"))

    @classmethod
    def load(cls, path: PathLike) -> "Fisher":
        """Reads a file written by save() (or a safetensors file of F32)."""
        fn = "Fisher.load"
        return cls(_handle=cls._make("gd_fisher_load", fn, _args.path(path, fn)))

    # -- registry --------------------------------------------------------
    def add_tensor(self, name: str, numel: int, site: Optional[int] = None) -> int:
        """Registers a tensor of numel elements feeding dropout `site`
        (None: no site); returns its id (0, 1, 2, ... in order)."""
        fn = "Fisher.add_tensor"
        name_b, numel = _args.text(name, "name", fn), _args.index(numel, "numel", fn)
        site = _args.site(site, "site", fn)
        i = ctypes.c_size_t()
        try:
            self._call(lib.gd_fisher_add_tensor, fn, name_b, numel, site, ctypes.byref(i))
        except GDropoutError as e:
            if e.code != Error.EINVAL:
                raise
            # C's EINVAL here is the name or numel == 0: say which
            what = (("numel", "numel is 0") if numel == 0 else
                    ("name", f"name={name!r}: {_NAME_RULE}"))
            raise GDropoutError(Error.EINVAL, fn, *what) from None
        return i.value

    def __len__(self) -> int:
        n = ctypes.c_size_t()
        self._call(lib.gd_fisher_count, "Fisher.count", ctypes.byref(n))
        return n.value

    def count(self) -> int:
        """The number of registered tensors (len(fisher))."""
        return len(self)

    def find(self, name: str) -> int:
        """The id of the tensor called name (GDropoutError GD_ENOTFOUND)."""
        fn = "Fisher.find"
        i = ctypes.c_size_t()
        self._call(lib.gd_fisher_find, fn, _args.text(name, "name", fn), ctypes.byref(i))
        return i.value

    def _info(self, tensor_id, fn, what="tensor_id"):
        """TensorInfo of an id, errors in the terms of the caller `fn`."""
        tensor_id = _args.index(tensor_id, what, fn)
        name, numel, site = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
        with self._lock:
            rc = lib.gd_fisher_info(self._handle(fn), tensor_id, ctypes.byref(name),
                                    ctypes.byref(numel), ctypes.byref(site))
            if rc == Error.ENOTFOUND:
                raise GDropoutError(rc, fn, what, f"{what}={tensor_id}")
            check(rc, fn)
            # the name is owned by the C object: copy it before unlocking
            return TensorInfo((name.value or b"").decode(), numel.value, _site_out(site.value))

    def info(self, tensor_id: int) -> TensorInfo:
        """TensorInfo(name, numel, site) of a tensor id."""
        return self._info(tensor_id, "Fisher.info")

    def tensors(self) -> List[TensorInfo]:
        """Every tensor's TensorInfo, in id order."""
        return [self._info(i, "Fisher.tensors") for i in range(len(self))]

    def _tensor(self, tensor_id, fn, what="tensor_id"):
        """(the id as an int, its numel), checked to exist."""
        numel = self._info(tensor_id, fn, what).numel
        return int(tensor_id), numel

    # -- accumulation ----------------------------------------------------
    def accumulate(self, tensor_id: int, grad: ArrayLike, w: float = 1.0) -> None:
        """F += w * grad^2 for one example's gradient (any shape, numel
        values, converted to float32); w finite and >= 0."""
        fn = "Fisher.accumulate"
        tensor_id, numel = self._tensor(tensor_id, fn)
        g, w = A.in_array(grad, "grad", fn), _args.nonneg(w, "w", fn)
        if g.size != numel:
            raise ValueError(f"{fn}: grad: tensor {tensor_id} has {numel} elements, "
                             f"got {g.size}")
        self._call(lib.gd_fisher_accumulate, fn, tensor_id, A.ptr(g), w)

    def accumulate_batch(self, tensor_id: int, grads: ArrayLike) -> None:
        """Per-example gradients grads[batch, ...] (numel values each)."""
        fn = "Fisher.accumulate_batch"
        tensor_id, numel = self._tensor(tensor_id, fn)
        g = A.in_array(grads, "grads", fn)
        if g.ndim == 0 or g.size != g.shape[0] * numel:
            raise ValueError(f"{fn}: grads: expected [batch, {numel}] values, got shape "
                             f"{g.shape}")
        self._call(lib.gd_fisher_accumulate_batch, fn, tensor_id, A.ptr(g), g.shape[0])

    def _dense_ids(self, w_id, b_id, fn):
        w_id, _ = self._tensor(w_id, fn, "w_id")
        if b_id is not None:
            self._tensor(b_id, fn, "b_id")
        return w_id, _args.site(b_id, "b_id", fn)

    def accumulate_dense(self, w_id: int, x: ArrayLike, dy: ArrayLike,
                         b_id: Optional[int] = None) -> None:
        """A dense layer W[out, in]: inputs x[batch, in], per-example output
        gradients dy[batch, out]; b_id the bias tensor or None."""
        fn = "Fisher.accumulate_dense"
        w_id, b = self._dense_ids(w_id, b_id, fn)
        xa, da = A.in_array(x, "x", fn), A.in_array(dy, "dy", fn)
        if xa.ndim != 2 or da.ndim != 2 or xa.shape[0] != da.shape[0]:
            raise ValueError(f"{fn}: x and dy must be [batch, in] and [batch, out], got "
                             f"{xa.shape} and {da.shape}")
        (batch, n_in), n_out = xa.shape, da.shape[1]
        self._call(lib.gd_fisher_accumulate_dense, fn, w_id, b, A.ptr(xa), A.ptr(da), batch,
                   n_in, n_out)

    def accumulate_dense_seq(self, w_id: int, x: ArrayLike, dy: ArrayLike,
                             b_id: Optional[int] = None) -> None:
        """The same for sequences: x[batch, seq, in], dy[batch, seq, out]."""
        fn = "Fisher.accumulate_dense_seq"
        w_id, b = self._dense_ids(w_id, b_id, fn)
        xa, da = A.in_array(x, "x", fn), A.in_array(dy, "dy", fn)
        if xa.ndim != 3 or da.ndim != 3 or xa.shape[:2] != da.shape[:2]:
            raise ValueError(f"{fn}: x and dy must be [batch, seq, in] and [batch, seq, out], "
                             f"got {xa.shape} and {da.shape}")
        (batch, seq, n_in), n_out = xa.shape, da.shape[2]
        self._call(lib.gd_fisher_accumulate_dense_seq, fn, w_id, b, A.ptr(xa), A.ptr(da), batch,
                   seq, n_in, n_out)

    def from_adam(self, tensor_id: int, v: ArrayLike, beta2: float, step: int,
                  batch: int = 1) -> None:
        """Replaces the estimate by batch * v / (1 - beta2**step)."""
        fn = "Fisher.from_adam"
        tensor_id, numel = self._tensor(tensor_id, fn)
        va = A.in_array(v, "v", fn)
        beta2 = _args.prob(beta2, "beta2", fn)  # [0, 1]; the C library refuses 1
        step, batch = _args.index(step, "step", fn, _args.U64_MAX), _args.index(batch, "batch", fn)
        if va.size != numel:
            raise ValueError(f"{fn}: v: tensor {tensor_id} has {numel} elements, got {va.size}")
        self._call(lib.gd_fisher_from_adam, fn, tensor_id, A.ptr(va), beta2, step, batch)

    # -- results ---------------------------------------------------------
    def read(self, tensor_id: int) -> Tuple[np.ndarray, float]:
        """(estimate float32[numel], total sample weight W)."""
        fn = "Fisher.read"
        tensor_id, numel = self._tensor(tensor_id, fn)
        est, w = np.empty(numel, dtype=np.float32), ctypes.c_double()
        self._call(lib.gd_fisher_read, fn, tensor_id, A.ptr(est), numel, ctypes.byref(w))
        return est, w.value

    def sums(self, tensor_id: int) -> Tuple[np.ndarray, float]:
        """The raw accumulators (float64[numel] sums, weight), e.g. to
        all-reduce across processes and hand back to set_sums."""
        fn = "Fisher.sums"
        tensor_id, numel = self._tensor(tensor_id, fn)
        s, w = np.empty(numel, dtype=np.float64), ctypes.c_double()
        self._call(lib.gd_fisher_sums, fn, tensor_id, A.ptr(s), numel, ctypes.byref(w))
        return s, w.value

    def set_sums(self, tensor_id: int, sums: ArrayLike, weight: float) -> None:
        """Replaces a tensor's accumulators (float64 sums, weight)."""
        fn = "Fisher.set_sums"
        tensor_id, _ = self._tensor(tensor_id, fn)
        s, weight = A.in_array(sums, "sums", fn, np.float64), _args.real(weight, "weight", fn)
        self._call(lib.gd_fisher_set_sums, fn, tensor_id, A.ptr(s), s.size, weight)

    def merge(self, other: "Fisher") -> None:
        """self += other (same tensors in the same order)."""
        fn = "Fisher.merge"
        if not isinstance(other, Fisher):
            raise TypeError(f"{fn}: other must be a Fisher, got {type(other).__name__}")
        if other is self:
            raise ValueError(f"{fn}: cannot merge a Fisher into itself")
        # Both locks, always taken in the same order (by id), so that
        # a.merge(b) and b.merge(a) on two threads cannot deadlock, and
        # neither object can be closed under the call.
        first, second = sorted((self, other), key=id)
        with first._lock, second._lock:
            check(lib.gd_fisher_merge(self._handle(fn), other._handle(fn)), fn)

    def site_count(self) -> int:
        """1 + the largest site any tensor feeds (0 if none)."""
        n = ctypes.c_size_t()
        self._call(lib.gd_fisher_site_count, "Fisher.site_count", ctypes.byref(n))
        return n.value

    def site_scores(self, reduce: int = Reduce.TENSOR_MEAN,
                    n_sites: Optional[int] = None) -> np.ndarray:
        """float32[n_sites] scores (NaN for a site no tensor feeds)."""
        fn = "Fisher.site_scores"
        reduce = _args.choice(reduce, Reduce, "reduce", fn)
        n = self.site_count() if n_sites is None else _args.index(n_sites, "n_sites", fn)
        if n == 0:
            raise GDropoutError(Error.EINVAL, fn, "n_sites", "no site to score: no tensor "
                                "feeds a site (add_tensor's site=), and n_sites is 0")
        if n > np.iinfo(np.intp).max // 4:  # before numpy's own, vaguer, refusal
            raise GDropoutError(Error.ENOMEM, fn, "n_sites", f"{n} sites do not fit in "
                                "memory (the largest site id given to add_tensor, plus 1)")
        out = np.empty(n, dtype=np.float32)
        self._call(lib.gd_fisher_site_scores, fn, int(reduce), A.ptr(out), n)
        return out

    def unit_scores(self, tensor_id: int, rows: int, cols: int,
                    axis: int = Axis.ROWS) -> np.ndarray:
        """Per-unit scores of a tensor viewed as [rows, cols] (float32[rows]
        for Axis.ROWS, float32[cols] for Axis.COLS)."""
        fn = "Fisher.unit_scores"
        tensor_id, numel = self._tensor(tensor_id, fn)
        rows, cols = _args.index(rows, "rows", fn), _args.index(cols, "cols", fn)
        axis = _args.choice(axis, Axis, "axis", fn)
        if rows * cols != numel:  # before allocating: rows could be anything
            raise GDropoutError(Error.ESHAPE, fn, "rows", f"rows * cols = {rows} * {cols} but "
                                f"tensor {tensor_id} has {numel} elements")
        out = np.empty(rows if axis == Axis.ROWS else cols, dtype=np.float32)
        self._call(lib.gd_fisher_unit_scores, fn, tensor_id, rows, cols, int(axis), A.ptr(out))
        return out

    def save(self, path: PathLike) -> None:
        """Writes the estimates as safetensors (atomically replaced)."""
        fn = "Fisher.save"
        self._call(lib.gd_fisher_save, fn, _args.path(path, fn))
