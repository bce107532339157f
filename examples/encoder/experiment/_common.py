"""What the experiment scripts share: the import check and the results TSV
format written by `encoder experiment` (examples/encoder/experiment.c)."""
import importlib
import sys

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


# One row per fine-tuning run, in experiment.c's column order.
COLUMNS = ("task", "fraction", "seed", "regime", "n_train", "steps",
           "val_acc", "val_f1", "test_acc", "test_f1", "seconds")
HEADER = "\t".join(COLUMNS) + "\n"
METRICS = ("val_acc", "val_f1", "test_acc", "test_f1", "seconds")


class FormatError(Exception):
    pass


def open_text(path, error=FormatError):
    """path opened for reading as UTF-8 text; error("path: why") when it
    cannot be."""
    try:
        return open(path, encoding="utf-8")
    except OSError as e:
        raise error("%s: %s" % (path, e.strerror)) from None


def read_results(path):
    """The rows of a results TSV as dicts (fraction, metrics: float; seed,
    n_train, steps: int), in file order.  A missing file has no rows.
    Raises FormatError naming path:line for a malformed row."""
    rows = []
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        return rows
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or (lineno == 1 and line.startswith("task\t")):
                continue
            fields = line.split("\t")
            if len(fields) != len(COLUMNS):
                raise FormatError("%s:%d: expected %d tab-separated fields, got %d"
                                  % (path, lineno, len(COLUMNS), len(fields)))
            row = dict(zip(COLUMNS, fields))
            try:
                row["fraction"] = float(row["fraction"])
                for k in ("seed", "n_train", "steps"):
                    row[k] = int(row[k])
                for k in METRICS:
                    row[k] = float(row[k])
            except ValueError as e:
                raise FormatError("%s:%d: %s" % (path, lineno, e)) from None
            rows.append(row)
    return rows


def row_key(row):
    """What identifies a run: the C driver skips a cell whose key is present."""
    return (row["task"], row["fraction"], row["seed"], row["regime"])
