"""Diagonal empirical Fisher information (gd_fisher).

    F_j = (1 / W) * sum_n w_n * g_{n,j}^2,   W = sum_n w_n

Gradients are per example (the gradient of that example's own loss).  A
Fisher object serialises its calls with a lock, since ctypes releases the
GIL and the C object is for one thread at a time.
"""

import collections
import ctypes
import os

import numpy as np

from . import _arrays as A
from ._native import NONE, Handle, check, lib

__all__ = ["Fisher", "TensorInfo", "REDUCE_TENSOR_MEAN", "REDUCE_ELEMENT_MEAN", "REDUCE_SUM",
           "REDUCE_MAX", "AXIS_ROWS", "AXIS_COLS"]

REDUCE_TENSOR_MEAN = 0
REDUCE_ELEMENT_MEAN = 1
REDUCE_SUM = 2
REDUCE_MAX = 3
AXIS_ROWS = 0
AXIS_COLS = 1

#: What a registered tensor is; site is None for GD_NONE.
TensorInfo = collections.namedtuple("TensorInfo", "name numel site")


def _site_in(site):
    return NONE if site is None else int(site)


def _site_out(site):
    return None if site == NONE else site


class Fisher(Handle):
    """An accumulator of per-tensor diagonal Fisher estimates."""

    _destroy = "gd_fisher_destroy"

    def __init__(self, _handle=None):
        super().__init__(_handle if _handle is not None else self._make("gd_fisher_create"))

    @classmethod
    def load(cls, path):
        """Reads a file written by save() (or a safetensors file of F32)."""
        return cls(cls._make("gd_fisher_load", os.fsencode(path)))

    # -- registry --------------------------------------------------------
    def add_tensor(self, name, numel, site=None):
        """Registers a tensor of numel elements feeding dropout `site`
        (None: no site); returns its id (0, 1, 2, ... in order)."""
        i = ctypes.c_size_t()
        self._call(lib.gd_fisher_add_tensor, "gd_fisher_add_tensor", name.encode(), int(numel),
                   _site_in(site), ctypes.byref(i))
        return i.value

    def __len__(self):
        n = ctypes.c_size_t()
        self._call(lib.gd_fisher_count, "gd_fisher_count", ctypes.byref(n))
        return n.value

    def count(self):
        return len(self)

    def find(self, name):
        """The id of the tensor called name (GDropoutError GD_ENOTFOUND)."""
        i = ctypes.c_size_t()
        self._call(lib.gd_fisher_find, "gd_fisher_find", name.encode(), ctypes.byref(i))
        return i.value

    def info(self, tensor_id):
        """TensorInfo(name, numel, site) of a tensor id."""
        name, numel, site = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
        self._call(lib.gd_fisher_info, "gd_fisher_info", int(tensor_id), ctypes.byref(name),
                   ctypes.byref(numel), ctypes.byref(site))
        return TensorInfo(name.value.decode(), numel.value, _site_out(site.value))

    def tensors(self):
        """Every tensor's TensorInfo, in id order."""
        return [self.info(i) for i in range(len(self))]

    def _numel(self, tensor_id):
        return self.info(tensor_id).numel

    # -- accumulation ----------------------------------------------------
    def accumulate(self, tensor_id, grad, w=1.0):
        """F += w * grad^2 for one example's gradient (any shape, numel values)."""
        g = A.in_array(grad, "grad")
        numel = self._numel(tensor_id)
        if g.size != numel:
            raise ValueError(f"grad: tensor {tensor_id} has {numel} elements, got {g.size}")
        self._call(lib.gd_fisher_accumulate, "gd_fisher_accumulate", int(tensor_id), A.ptr(g),
                   float(w))

    def accumulate_batch(self, tensor_id, grads):
        """Per-example gradients grads[batch, ...] (numel values each)."""
        g = A.in_array(grads, "grads")
        numel = self._numel(tensor_id)
        if g.ndim == 0 or g.size != g.shape[0] * numel:
            raise ValueError(f"grads: expected [batch, {numel}] values, got shape {g.shape}")
        self._call(lib.gd_fisher_accumulate_batch, "gd_fisher_accumulate_batch", int(tensor_id),
                   A.ptr(g), g.shape[0])

    def accumulate_dense(self, w_id, x, dy, b_id=None):
        """A dense layer W[out, in]: inputs x[batch, in], per-example output
        gradients dy[batch, out]; b_id the bias tensor or None."""
        xa, da = A.in_array(x, "x"), A.in_array(dy, "dy")
        if xa.ndim != 2 or da.ndim != 2 or xa.shape[0] != da.shape[0]:
            raise ValueError(f"x and dy must be [batch, in] and [batch, out], got {xa.shape} "
                             f"and {da.shape}")
        (batch, n_in), n_out = xa.shape, da.shape[1]
        self._call(lib.gd_fisher_accumulate_dense, "gd_fisher_accumulate_dense", int(w_id),
                   _site_in(b_id), A.ptr(xa), A.ptr(da), batch, n_in, n_out)

    def accumulate_dense_seq(self, w_id, x, dy, b_id=None):
        """The same for sequences: x[batch, seq, in], dy[batch, seq, out]."""
        xa, da = A.in_array(x, "x"), A.in_array(dy, "dy")
        if xa.ndim != 3 or da.ndim != 3 or xa.shape[:2] != da.shape[:2]:
            raise ValueError(f"x and dy must be [batch, seq, in] and [batch, seq, out], got "
                             f"{xa.shape} and {da.shape}")
        (batch, seq, n_in), n_out = xa.shape, da.shape[2]
        self._call(lib.gd_fisher_accumulate_dense_seq, "gd_fisher_accumulate_dense_seq",
                   int(w_id), _site_in(b_id), A.ptr(xa), A.ptr(da), batch, seq, n_in, n_out)

    def from_adam(self, tensor_id, v, beta2, step, batch=1):
        """Replaces the estimate by batch * v / (1 - beta2**step)."""
        va = A.in_array(v, "v")
        numel = self._numel(tensor_id)
        if va.size != numel:
            raise ValueError(f"v: tensor {tensor_id} has {numel} elements, got {va.size}")
        self._call(lib.gd_fisher_from_adam, "gd_fisher_from_adam", int(tensor_id), A.ptr(va),
                   float(beta2), int(step), int(batch))

    # -- results ---------------------------------------------------------
    def read(self, tensor_id):
        """(estimate float32[numel], total sample weight W)."""
        numel = self._numel(tensor_id)
        est, w = np.empty(numel, dtype=np.float32), ctypes.c_double()
        self._call(lib.gd_fisher_read, "gd_fisher_read", int(tensor_id), A.ptr(est), numel,
                   ctypes.byref(w))
        return est, w.value

    def sums(self, tensor_id):
        """The raw accumulators (float64[numel] sums, weight), e.g. to
        all-reduce across processes and hand back to set_sums."""
        numel = self._numel(tensor_id)
        s, w = np.empty(numel, dtype=np.float64), ctypes.c_double()
        self._call(lib.gd_fisher_sums, "gd_fisher_sums", int(tensor_id), A.ptr(s), numel,
                   ctypes.byref(w))
        return s, w.value

    def set_sums(self, tensor_id, sums, weight):
        s = A.in_array(sums, "sums", np.float64)
        self._call(lib.gd_fisher_set_sums, "gd_fisher_set_sums", int(tensor_id), A.ptr(s),
                   s.size, float(weight))

    def merge(self, other):
        """self += other (same tensors in the same order)."""
        if not isinstance(other, Fisher):
            raise TypeError("merge: expected a Fisher")
        if other is self:
            raise ValueError("merge: cannot merge a Fisher into itself")
        # Both locks, always taken in the same order, so that a.merge(b) and
        # b.merge(a) in two threads cannot deadlock.
        first, second = sorted((self, other), key=id)
        with first._lock, second._lock:
            check(lib.gd_fisher_merge(self._handle(), other._handle()), "gd_fisher_merge")

    def site_count(self):
        n = ctypes.c_size_t()
        self._call(lib.gd_fisher_site_count, "gd_fisher_site_count", ctypes.byref(n))
        return n.value

    def site_scores(self, reduce=REDUCE_TENSOR_MEAN, n_sites=None):
        """float32[n_sites] scores (NaN for a site no tensor feeds)."""
        n = self.site_count() if n_sites is None else int(n_sites)
        out = np.empty(n, dtype=np.float32)
        self._call(lib.gd_fisher_site_scores, "gd_fisher_site_scores", int(reduce), A.ptr(out), n)
        return out

    def unit_scores(self, tensor_id, rows, cols, axis=AXIS_ROWS):
        """Per-unit scores of a tensor viewed as [rows, cols]."""
        out = np.empty(rows if axis == AXIS_ROWS else cols, dtype=np.float32)
        self._call(lib.gd_fisher_unit_scores, "gd_fisher_unit_scores", int(tensor_id), int(rows),
                   int(cols), int(axis), A.ptr(out))
        return out

    def save(self, path):
        """Writes the estimates as safetensors (atomically replaced)."""
        self._call(lib.gd_fisher_save, "gd_fisher_save", os.fsencode(path))
