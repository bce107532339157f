"""What the experiment scripts share: the import check and the formats
written by `encoder experiment` (examples/encoder/experiment.c): the results
TSV (one row per fine-tuning run) and the learning-curve TSV (one line per
evaluation); and the one way they write a whole file."""
import importlib
import math
import os
import sys
import tempfile

DEBIAN = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "sklearn": "python3-sklearn",
    "matplotlib": "python3-matplotlib",
}


def require(*modules, status=2):
    """Exits with `status` (77 = ctest's skip code, for the test) and a
    message naming the Debian packages to install when a module is missing:
    these scripts run on Debian's /usr/bin/python3, never with PyPI."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        pkgs = " ".join(DEBIAN.get(m, m) for m in missing)
        sys.stderr.write("%s: missing Python module(s) %s; install them with:\n"
                         "  apt-get install %s\n" % (sys.argv[0], ", ".join(missing), pkgs))
        sys.exit(status)


# One row per fine-tuning run, in experiment.c's column order.  rate is p
# (standard, gaussian, scratch), p_max of the plan (guided and the planned
# controls) or 0 (none, tfidf-lr); metric is "acc" or "neg_mse" (then the
# _acc columns hold -MSE); config is a digest of the run's settings.
COLUMNS = ("task", "fraction", "seed", "regime", "rate", "lr", "n_train", "steps", "budget",
           "best_step", "train_loss", "best_train_loss", "metric", "val_acc", "val_f1",
           "test_acc", "test_f1", "seconds", "config")
HEADER = "\t".join(COLUMNS) + "\n"
INTS = ("seed", "n_train", "steps", "budget", "best_step")
FLOATS = ("fraction", "rate", "lr", "train_loss", "best_train_loss", "val_acc", "val_f1",
          "test_acc", "test_f1", "seconds")
METRICS = ("acc", "neg_mse")
# One line per evaluation of a run, written before the run's row.
CURVE_COLUMNS = ("task", "fraction", "seed", "regime", "rate", "step", "train_loss", "val", "lr")
CURVE_HEADER = "\t".join(CURVE_COLUMNS) + "\n"


class FormatError(Exception):
    pass


def open_text(path, error=FormatError):
    """path opened for reading as UTF-8 text; error("path: why") when it
    cannot be."""
    try:
        return open(path, encoding="utf-8")
    except OSError as e:
        raise error("%s: %s" % (path, e.strerror)) from None


def write_text(path, text):
    """Writes text to path whole or not at all, as the encoder saves (a
    temporary file beside it, fsync'ed, renamed over it): a crash or a full
    disk leaves the previous file.  A target that is not a regular file is
    refused.  FormatError("path: why") on failure, path unchanged."""
    folder = os.path.dirname(path) or "."
    tmp = None
    try:
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
            raise FormatError("%s: not a regular file; refusing to replace it" % path)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise FormatError("%s: cannot write: %s (the previous file, if any, is unchanged)"
                          % (path, e.strerror)) from None
    finally:
        if tmp is not None:
            os.unlink(tmp)


def number(text):
    """A rate or fraction as a number to group by: the C driver writes a
    float's value with %.9g (0.05f as 0.0500000007), which six significant
    digits bring back to the value that was asked for (0.05)."""
    v = float(text)
    return v if math.isnan(v) else float("%.6g" % v)


def _rows(path, columns, header, what):
    """(line number, fields) of each data line of a TSV with the given
    columns; a missing file has none.  The first line may be the header,
    exactly; another first line starting with "task<TAB>" is an older
    format, refused by name."""
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if lineno == 1 and line.startswith("task\t"):
                if line + "\n" != header:
                    raise FormatError("%s:1: not a %s of this format (the header differs; "
                                      "expected: %s)" % (path, what, " ".join(columns)))
                continue
            fields = line.split("\t")
            if len(fields) != len(columns):
                raise FormatError("%s:%d: expected %d tab-separated fields, got %d"
                                  % (path, lineno, len(columns), len(fields)))
            yield lineno, fields


def read_results(path):
    """The rows of a results TSV as dicts in file order: the INTS as int,
    the FLOATS as float (fraction and rate by number()), and the fraction
    and rate as written in fraction_s and rate_s (the key's text).  A
    missing file has no rows.  Raises FormatError naming path:line for a
    malformed row."""
    rows = []
    for lineno, fields in _rows(path, COLUMNS, HEADER, "results TSV"):
        row = dict(zip(COLUMNS, fields))
        row["fraction_s"], row["rate_s"] = row["fraction"], row["rate"]
        try:
            for k in INTS:
                row[k] = int(row[k])
            for k in FLOATS:
                row[k] = float(row[k])
            row["fraction"], row["rate"] = number(row["fraction"]), number(row["rate"])
            if row["metric"] not in METRICS:
                raise ValueError("metric %r (expected %s)" % (row["metric"], " or ".join(METRICS)))
        except ValueError as e:
            raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
        rows.append(row)
    return rows


def row_key(row):
    """What identifies a run, as the C driver compares it: task, fraction,
    seed, regime and rate, the fraction and rate as written."""
    return (row["task"], row["fraction_s"], row["seed"], row["regime"], row["rate_s"])


def cell_key(row):
    """The same by value (fraction and rate by number()): what the report
    and the selection group by."""
    return (row["task"], row["fraction"], row["seed"], row["regime"], row["rate"])


def read_curves(path, curves=None):
    """The learning curves of a curve TSV, added to curves (a new dict if
    None): {cell key: {step: (train_loss, val, lr)}}, cell_key()'s key.  A
    (key, step) seen again (a rerun) replaces the earlier line.  A missing
    file adds nothing."""
    curves = {} if curves is None else curves
    for lineno, fields in _rows(path, CURVE_COLUMNS, CURVE_HEADER, "learning-curve TSV"):
        try:
            key = (fields[0], number(fields[1]), int(fields[2]), fields[3], number(fields[4]))
            step = int(fields[5])
            curves.setdefault(key, {})[step] = tuple(float(v) for v in fields[6:9])
        except ValueError as e:
            raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
    return curves
