"""libgdropout for Python: guided dropout (Fisher-ranked dropout rates) and
reproducible Philox dropout kernels, over the installed C library through
ctypes, with numpy arrays in and out.

    import numpy as np, gdropout
    s = gdropout.Stream(seed=42, stream=7)
    y, mask = gdropout.dropout_fwd(np.ones(1000, np.float32), 0.1, s)
    dx = gdropout.dropout_bwd(np.ones(1000, np.float32), 0.1, mask=mask)

The library is loaded at import from $GDROPOUT_LIBRARY (a path) if set,
else libgdropout.so.1 through the dynamic loader (LD_LIBRARY_PATH, the
ldconfig cache); if it cannot be, `import gdropout` raises one ImportError
saying why.  Errors raise GDropoutError (.code, an Error member; .name;
.function, the function you called; .argument; gd_strerror's message).
Kernels compute in float32: other dtypes are converted and results are
float32.  The _ex kernels (gdropout.mixed, since 1.2) take float16, bfloat16
(as uint16 bits) and float32 arrays as they are, and the 16-bit mask rule.
gdropout/reference.py reimplements the generator and the mask rule in numpy
alone (reference16.py the 16-bit rule and the half-precision rounding).
"""

from typing import Tuple

from ._native import NONE, Error, GDropoutError, Stream, lib, library_path, library_source
from .fisher import (AXIS_COLS, AXIS_ROWS, REDUCE_ELEMENT_MEAN, REDUCE_MAX, REDUCE_SUM,
                     REDUCE_TENSOR_MEAN, Axis, Fisher, Reduce, TensorInfo)
from .kernels import (dropout_add_bwd, dropout_add_fwd, dropout_bwd, dropout_bwd_cols,
                      dropout_fwd, dropout_fwd_cols, gaussian_dropout_bwd, gaussian_dropout_fwd,
                      gaussian_sigma, mask_bernoulli, philox4x32_10, random_normal, random_u32,
                      sum_cols)
from .mixed import (MASK_16, MASK_32, MaskRule, dropout_add_bwd_ex, dropout_add_fwd_ex,
                    dropout_bwd_cols_ex, dropout_bwd_ex, dropout_fwd_cols_ex, dropout_fwd_ex,
                    gaussian_dropout_bwd_ex, gaussian_dropout_fwd_ex, mask_bernoulli_ex)
from .plan import (CONTROL_STREAM, CONTROLS, RULE_LOG_SCORE_LINEAR, RULE_RANK_LINEAR,
                   RULE_SCORE_LINEAR, RULE_UNIFORM, Plan, Rule, SiteInfo, control_rates)

#: The loaded C library's version (e.g. "1.1.0"), from gd_version_string.
__version__ = lib.gd_version_string().decode()

# The error codes as module constants (OK, EINVAL, EDOMAIN, ...), from the
# library's own table (gdropout.Error, built from gd_error_name).
globals().update(Error.__members__)


def version() -> Tuple[int, int, int]:
    """The library's (major, minor, patch)."""
    v = lib.gd_version()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def version_string() -> str:
    """The library's version as text, e.g. "1.1.0" (gd_version_string)."""
    return lib.gd_version_string().decode()


def strerror(code: int) -> str:
    """gd_strerror: the message of an error code."""
    return lib.gd_strerror(code).decode()


def error_name(code: int) -> str:
    """gd_error_name: the symbol of an error code, e.g. "GD_EDOMAIN"."""
    return lib.gd_error_name(code).decode()


def dispatch_name() -> str:
    """The kernel family in use: "avx512", "avx2" or "scalar"."""
    return lib.gd_dispatch_name().decode()


__all__ = [
    "NONE", "Error", "GDropoutError", "Stream", "library_path", "version", "version_string",
    "strerror", "error_name", "dispatch_name",
    "philox4x32_10", "random_u32", "random_normal", "mask_bernoulli", "dropout_fwd",
    "dropout_bwd", "dropout_fwd_cols", "dropout_bwd_cols", "dropout_add_fwd", "dropout_add_bwd",
    "sum_cols", "gaussian_dropout_fwd", "gaussian_dropout_bwd", "gaussian_sigma",
    "Fisher", "TensorInfo", "Reduce", "Axis", "REDUCE_TENSOR_MEAN", "REDUCE_ELEMENT_MEAN",
    "REDUCE_SUM", "REDUCE_MAX", "AXIS_ROWS", "AXIS_COLS",
    "Plan", "SiteInfo", "Rule", "RULE_UNIFORM", "RULE_RANK_LINEAR", "RULE_SCORE_LINEAR",
    "RULE_LOG_SCORE_LINEAR", "control_rates", "CONTROLS", "CONTROL_STREAM", "library_source",
    "MaskRule", "MASK_32", "MASK_16", "mask_bernoulli_ex", "dropout_fwd_ex", "dropout_bwd_ex",
    "dropout_fwd_cols_ex", "dropout_bwd_cols_ex", "dropout_add_fwd_ex", "dropout_add_bwd_ex",
    "gaussian_dropout_fwd_ex", "gaussian_dropout_bwd_ex",
] + list(Error.__members__)
