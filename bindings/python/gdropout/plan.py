"""The guided schedule (gd_plan): one score per dropout site in, one
dropout probability per site out."""

import collections
import ctypes
import os

import numpy as np

from . import _arrays as A
from ._native import Handle, lib

__all__ = ["Plan", "SiteInfo", "RULE_UNIFORM", "RULE_RANK_LINEAR", "RULE_SCORE_LINEAR",
           "RULE_LOG_SCORE_LINEAR"]

RULE_UNIFORM = 0
RULE_RANK_LINEAR = 1
RULE_SCORE_LINEAR = 2
RULE_LOG_SCORE_LINEAR = 3

#: What a site holds; score / prob are NaN when unset / not computed.
SiteInfo = collections.namedtuple("SiteInfo", "name score prob")


class Plan(Handle):
    """A dropout plan over n_sites sites."""

    _destroy = "gd_plan_destroy"

    def __init__(self, n_sites=None, _handle=None):
        if _handle is None:
            if n_sites is None:
                raise TypeError("Plan(n_sites) needs the number of sites")
            _handle = self._make("gd_plan_create", int(n_sites))
        super().__init__(_handle)

    @classmethod
    def load(cls, path):
        """Reads a plan written by save(), probabilities included."""
        return cls(_handle=cls._make("gd_plan_load", os.fsencode(path)))

    def __len__(self):
        n = ctypes.c_size_t()
        self._call(lib.gd_plan_size, "gd_plan_size", ctypes.byref(n))
        return n.value

    def size(self):
        return len(self)

    def set_site(self, site, score, name=None):
        """Sets a site's score and, unless name is None, its name."""
        self._call(lib.gd_plan_set_site, "gd_plan_set_site", int(site),
                   None if name is None else name.encode(), float(score))

    def set_scores(self, scores):
        s = A.in_array(scores, "scores")
        self._call(lib.gd_plan_set_scores, "gd_plan_set_scores", A.ptr(s), s.size)

    def compute(self, rule=RULE_RANK_LINEAR, p_max=0.1, p_min=0.0):
        """Computes every site's probability; returns them (float32)."""
        self._call(lib.gd_plan_compute, "gd_plan_compute", int(rule), float(p_max), float(p_min))
        return self.get_all()

    def get(self, site):
        p = ctypes.c_float()
        self._call(lib.gd_plan_get, "gd_plan_get", int(site), ctypes.byref(p))
        return p.value

    def get_all(self):
        out = np.empty(len(self), dtype=np.float32)
        self._call(lib.gd_plan_get_all, "gd_plan_get_all", A.ptr(out), out.size)
        return out

    def site_info(self, site):
        name, score, prob = ctypes.c_char_p(), ctypes.c_float(), ctypes.c_float()
        self._call(lib.gd_plan_site_info, "gd_plan_site_info", int(site), ctypes.byref(name),
                   ctypes.byref(score), ctypes.byref(prob))
        return SiteInfo((name.value or b"").decode(), score.value, prob.value)

    def save(self, path):
        """Writes the computed plan as text, one site a line."""
        self._call(lib.gd_plan_save, "gd_plan_save", os.fsencode(path))
