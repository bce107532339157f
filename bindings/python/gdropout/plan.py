"""The guided schedule (gd_plan): one score per dropout site in, one
dropout probability per site out.  Errors name the method called
("Plan.compute") and the argument."""

import collections
import ctypes
import enum

import numpy as np

from . import _args
from . import _arrays as A
from ._native import Handle, check, lib

__all__ = ["Plan", "SiteInfo", "Rule", "RULE_UNIFORM", "RULE_RANK_LINEAR", "RULE_SCORE_LINEAR",
           "RULE_LOG_SCORE_LINEAR"]


class Rule(enum.IntEnum):
    """How Plan.compute maps scores to probabilities (GD_RULE_*)."""

    UNIFORM = 0           # every site p_max: standard dropout
    RANK_LINEAR = 1       # the paper's: linear in the score's rank, least informative p_max
    SCORE_LINEAR = 2      # linear in the score itself
    LOG_SCORE_LINEAR = 3  # linear in log(score); every score must be > 0


# The names of version 1.0 of the binding.
RULE_UNIFORM, RULE_RANK_LINEAR, RULE_SCORE_LINEAR, RULE_LOG_SCORE_LINEAR = Rule

#: What a site holds; score / prob are NaN when unset / not computed.
SiteInfo = collections.namedtuple("SiteInfo", "name score prob")


class Plan(Handle):
    """A dropout plan over n_sites sites."""

    _destroy = "gd_plan_destroy"

    def __init__(self, n_sites=None, _handle=None):
        if _handle is None:
            if n_sites is None:
                raise TypeError("Plan: n_sites (the number of sites) is required")
            _handle = self._make("gd_plan_create", "Plan", _args.index(n_sites, "n_sites", "Plan"))
        super().__init__(_handle)

    @classmethod
    def load(cls, path):
        """Reads a plan written by save(), probabilities included."""
        fn = "Plan.load"
        return cls(_handle=cls._make("gd_plan_load", fn, _args.path(path, fn)))

    def __len__(self):
        n = ctypes.c_size_t()
        self._call(lib.gd_plan_size, "Plan.size", ctypes.byref(n))
        return n.value

    def size(self):
        return len(self)

    def set_site(self, site, score, name=None):
        """Sets a site's score and, unless name is None, its name."""
        fn = "Plan.set_site"
        site, score = _args.index(site, "site", fn), _args.real(score, "score", fn)
        name_b = None if name is None else _args.text(name, "name", fn)
        self._call(lib.gd_plan_set_site, fn, site, name_b, score)

    def set_scores(self, scores):
        """Sets every site's score at once (converted to float32)."""
        fn = "Plan.set_scores"
        s = A.in_array(scores, "scores", fn)
        self._call(lib.gd_plan_set_scores, fn, A.ptr(s), s.size)

    def compute(self, rule=Rule.RANK_LINEAR, p_max=0.1, p_min=0.0):
        """Computes every site's probability; returns them (float32).
        0 <= p_min <= p_max <= 1, checked in double."""
        fn = "Plan.compute"
        rule = _args.choice(rule, Rule, "rule", fn)
        p_max, p_min = _args.prob(p_max, "p_max", fn), _args.prob(p_min, "p_min", fn)
        self._call(lib.gd_plan_compute, fn, int(rule), p_max, p_min)
        return self.get_all()

    def get(self, site):
        fn = "Plan.get"
        site = _args.index(site, "site", fn)
        p = ctypes.c_float()
        self._call(lib.gd_plan_get, fn, site, ctypes.byref(p))
        return p.value

    def get_all(self):
        out = np.empty(len(self), dtype=np.float32)
        self._call(lib.gd_plan_get_all, "Plan.get_all", A.ptr(out), out.size)
        return out

    def site_info(self, site):
        fn = "Plan.site_info"
        site = _args.index(site, "site", fn)
        name, score, prob = ctypes.c_char_p(), ctypes.c_float(), ctypes.c_float()
        with self._lock:  # the name is owned by the C object: copy it under the lock
            rc = lib.gd_plan_site_info(self._handle(fn), site, ctypes.byref(name),
                                       ctypes.byref(score), ctypes.byref(prob))
            text = (name.value or b"").decode()
        check(rc, fn)
        return SiteInfo(text, score.value, prob.value)

    def save(self, path):
        """Writes the computed plan as text, one site a line."""
        fn = "Plan.save"
        self._call(lib.gd_plan_save, fn, _args.path(path, fn))
