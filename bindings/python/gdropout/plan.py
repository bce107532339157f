"""The guided schedule (gd_plan): one score per dropout site in, one
dropout probability per site out.  Errors name the method called
("Plan.compute") and the argument."""

import collections
import ctypes
import enum

from typing import Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _args
from ._args import PathLike
from . import _arrays as A
from ._native import Error, GDropoutError, Handle, check, lib

__all__ = ["Plan", "SiteInfo", "Rule", "RULE_UNIFORM", "RULE_RANK_LINEAR", "RULE_SCORE_LINEAR",
           "RULE_LOG_SCORE_LINEAR", "control_rates", "CONTROLS", "CONTROL_STREAM"]


class Rule(enum.IntEnum):
    """How Plan.compute maps scores to probabilities (GD_RULE_*)."""

    UNIFORM = 0           # every site p_max: standard dropout
    RANK_LINEAR = 1       # the paper's: linear in the score's rank, least informative p_max
    SCORE_LINEAR = 2      # linear in the score itself
    LOG_SCORE_LINEAR = 3  # linear in log(score); every score must be > 0


# The names of version 1.0 of the binding.
RULE_UNIFORM, RULE_RANK_LINEAR = Rule.UNIFORM, Rule.RANK_LINEAR
RULE_SCORE_LINEAR, RULE_LOG_SCORE_LINEAR = Rule.SCORE_LINEAR, Rule.LOG_SCORE_LINEAR

#: What a site holds; score / prob are NaN when unset / not computed.
SiteInfo = collections.namedtuple("SiteInfo", "name score prob")


class Plan(Handle):
    """A dropout plan over n_sites sites."""

    _destroy = "gd_plan_destroy"

    def __init__(self, n_sites: Optional[int] = None, *,
                 _handle: Optional[ctypes.c_void_p] = None) -> None:
        if _handle is None:
            if n_sites is None:
                raise TypeError("Plan: n_sites (the number of sites) is required")
            _handle = self._make("gd_plan_create", "Plan", _args.index(n_sites, "n_sites", "Plan"))
        super().__init__(_handle)

    @classmethod
    def load(cls, path: PathLike) -> "Plan":
        """Reads a plan written by save(), probabilities included."""
        fn = "Plan.load"
        return cls(_handle=cls._make("gd_plan_load", fn, _args.path(path, fn)))

    def __len__(self) -> int:
        n = ctypes.c_size_t()
        self._call(lib.gd_plan_size, "Plan.size", ctypes.byref(n))
        return n.value

    def size(self) -> int:
        """The number of sites (len(plan))."""
        return len(self)

    def set_site(self, site: int, score: float, name: Optional[str] = None) -> None:
        """Sets a site's score and, unless name is None, its name."""
        fn = "Plan.set_site"
        site, score = _args.index(site, "site", fn), _args.real(score, "score", fn)
        name_b = None if name is None else _args.text(name, "name", fn)
        try:
            self._call(lib.gd_plan_set_site, fn, site, name_b, score)
        except GDropoutError as e:
            if e.code != Error.EINVAL:
                raise
            # the object is open and named: C's EINVAL is the name
            raise GDropoutError(Error.EINVAL, fn, "name", f"name={name!r}: a site name is UTF-8 "
                                "of at most 255 bytes, without white space or control "
                                "characters, and not \"-\"") from None

    def set_scores(self, scores: ArrayLike) -> None:
        """Sets every site's score at once (converted to float32)."""
        fn = "Plan.set_scores"
        s = A.in_array(scores, "scores", fn)
        self._call(lib.gd_plan_set_scores, fn, A.ptr(s), s.size)

    def compute(self, rule: int = Rule.RANK_LINEAR, p_max: float = 0.1,
                p_min: float = 0.0) -> np.ndarray:
        """Computes every site's probability; returns them (float32).
        0 <= p_min <= p_max <= 1, checked in double."""
        fn = "Plan.compute"
        rule = _args.choice(rule, Rule, "rule", fn)
        p_max, p_min = _args.prob(p_max, "p_max", fn), _args.prob(p_min, "p_min", fn)
        self._call(lib.gd_plan_compute, fn, int(rule), p_max, p_min)
        return self.get_all()

    def get(self, site: int) -> float:
        """Site `site`'s computed probability (NaN before compute)."""
        fn = "Plan.get"
        site = _args.index(site, "site", fn)
        p = ctypes.c_float()
        self._call(lib.gd_plan_get, fn, site, ctypes.byref(p))
        return p.value

    def get_all(self) -> np.ndarray:
        """Every site's computed probability, float32[len(plan)]."""
        out = np.empty(len(self), dtype=np.float32)
        self._call(lib.gd_plan_get_all, "Plan.get_all", A.ptr(out), out.size)
        return out

    def control(self, kind: str, seed: int = 0) -> np.ndarray:
        """Rearranges the computed probabilities into a control plan
        (gd_plan_control; see control_rates for the kinds) and returns them.
        seed is used by "permuted" and "kind"."""
        fn = "Plan.control"
        if kind not in _CONTROL_CODE:
            raise ValueError(f"{fn}: kind must be one of {', '.join(CONTROLS)}, got {kind!r}")
        if not _args._is_int(seed) or not 0 <= int(seed) <= _args.U64_MAX:
            raise ValueError(f"{fn}: seed must be an int in [0, 2**64), got {seed!r}")
        self._call(lib.gd_plan_control, fn, _CONTROL_CODE[kind], int(seed))
        return self.get_all()

    def site_info(self, site: int) -> SiteInfo:
        """SiteInfo(name, score, prob) of a site (NaN where unset)."""
        fn = "Plan.site_info"
        site = _args.index(site, "site", fn)
        name, score, prob = ctypes.c_char_p(), ctypes.c_float(), ctypes.c_float()
        with self._lock:  # the name is owned by the C object: copy it under the lock
            rc = lib.gd_plan_site_info(self._handle(fn), site, ctypes.byref(name),
                                       ctypes.byref(score), ctypes.byref(prob))
            text = (name.value or b"").decode()
        check(rc, fn)
        return SiteInfo(text, score.value, prob.value)

    def save(self, path: PathLike) -> None:
        """Writes the computed plan as text, one site a line."""
        fn = "Plan.save"
        self._call(lib.gd_plan_save, fn, _args.path(path, fn))


#: The control plans control_rates builds (gd_plan_control's GD_CONTROL_*).
CONTROLS = ("reversed", "permuted", "kind", "matched")
_CONTROL_CODE = {"reversed": 1, "permuted": 2, "kind": 3, "matched": 4}
#: GD_CONTROL_STREAM: the Philox stream of the permuting controls' draws.
CONTROL_STREAM = 0x6374726C


def _shuffle(r32: np.ndarray, groups: Sequence[Sequence[int]], seed: int) -> np.ndarray:
    """Fisher-Yates over each group of site indices in turn, as
    gd_plan_control: for i = m-1 down to 1, j = (u * (i + 1)) >> 32 with u
    the next word of {seed, CONTROL_STREAM, offset 0, 1, ...}."""
    from ._native import Stream
    from .kernels import random_u32
    out = r32.copy()
    need = sum(max(len(g) - 1, 0) for g in groups)
    words = random_u32(need, Stream(seed, CONTROL_STREAM, 0)).astype(np.uint64)
    k = 0
    for g in groups:
        for i in range(len(g) - 1, 0, -1):
            j = int((int(words[k]) * (i + 1)) >> 32)
            k += 1
            out[g[i]], out[g[j]] = out[g[j]], out[g[i]]
    return out


def _kind_groups(names: Sequence[str]) -> list:
    """Sites grouped by name with every ASCII digit 0-9 removed, the groups in
    byte order of that key, each in site order (gd_plan_control's KIND).
    Not str.isdigit(): it is true of every Unicode digit ("\u0663"), which
    the C library keeps."""
    keys: dict = {}
    for i, name in enumerate(names):
        keys.setdefault("".join(c for c in name if c not in "0123456789").encode(),
                        []).append(i)
    return [keys[k] for k in sorted(keys)]


def control_rates(rates: Union["Plan", Sequence[float], np.ndarray], kind: str,
                  seed: Optional[int] = None,
                  names: Optional[Sequence[str]] = None) -> np.ndarray:
    """A control plan built from a plan's own rates, to tell *where* dropout
    goes from *how much*: float32[n], site i's rate, for
    apply_plan(model, control_rates(plan, "reversed"), sites).  The same
    rules as the C library's gd_plan_control and `gdropout-plan --control`,
    bit for bit, in Python, so that rates need not be a Plan (Plan.control
    rearranges a Plan in place through the library itself).

    rates: a Plan (its computed probabilities and site names) or site i's
      rate at index i.
    kind:
      "reversed": the ranking reversed.  Sites are ranked by rate, ascending,
        ties by site index; the sites of ranks k and n-1-k swap rates, so
        under the paper's rule the most informative site gets p_max.
      "permuted": a random permutation of the rates from `seed` (required,
        an int >= 0): Fisher-Yates, for i = n-1 down to 1, j = (u * (i + 1))
        >> 32 with u the next Philox word of {seed, CONTROL_STREAM, 0, 1,
        ...}, then rates i and j swap.
      "kind": the same within each kind of site, the sites whose `names`
        (required unless rates is a Plan) are equal once their digits are
        removed ("encoder.layer.3.output" and "encoder.layer.0.output"),
        kinds in byte order of that name, one word sequence across kinds.
      "matched": every site at the mean rate (computed in double, rounded
        once to float32): the same total amount of dropout, spread evenly.
    """
    fn = "control_rates"
    if kind not in CONTROLS:
        raise ValueError(f"{fn}: kind must be one of {', '.join(CONTROLS)}, got {kind!r}")
    if kind in ("permuted", "kind"):
        if seed is None or not _args._is_int(seed) or not 0 <= int(seed) <= _args.U64_MAX:
            raise ValueError(f"{fn}: {kind!r} needs seed, an int in [0, 2**64), got {seed!r}")
    elif seed is not None:
        raise ValueError(f"{fn}: seed is for 'permuted' and 'kind' only, not {kind!r}")
    if isinstance(rates, Plan):
        names = [rates.site_info(i).name for i in range(len(rates))]
        rates = rates.get_all()
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"{fn}: rates must be a non-empty vector, got shape {r.shape}")
    bad = np.flatnonzero(~((r >= 0.0) & (r <= 1.0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{fn}: rates[{i}] = {float(r[i])!r} is outside [0, 1]")
    r32 = r.astype(np.float32)
    if kind == "reversed":
        order = np.lexsort((np.arange(r32.size), r32))  # by rate, ties by index
        out = r32.copy()
        for k in range(r32.size // 2):
            a, b = order[k], order[r32.size - 1 - k]
            out[a], out[b] = r32[b], r32[a]
        return out
    if kind == "permuted":
        assert seed is not None  # checked above
        return _shuffle(r32, [list(range(r32.size))], int(seed))
    if kind == "kind":
        assert seed is not None
        if names is None or len(names) != r32.size:
            raise ValueError(f"{fn}: 'kind' needs names, one per site ({r32.size})")
        return _shuffle(r32, _kind_groups(names), int(seed))
    return np.full(r32.size, np.float32(r32.astype(np.float64).mean()), dtype=np.float32)
