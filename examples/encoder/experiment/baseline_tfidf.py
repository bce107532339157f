#!/usr/bin/python3
"""TF-IDF + logistic regression on exactly the encoder experiment's subsets.

    baseline_tfidf.py EXPORT_DIR --out FILE.tsv [--seeds N]

EXPORT_DIR is what `encoder experiment --export DIR` wrote: for each task a
folder with train.tsv, val.tsv, test.tsv (label<TAB>text, or
label<TAB>text_a<TAB>text_b for pairs) and subsets.tsv (fraction, seed,
comma-separated 0-based row indices into train.tsv).  For every (task,
fraction, seed) in subsets.tsv the model is trained on exactly those rows and
scored on the same validation and test sets as the encoder, and one row in
the experiment's TSV format (_common.COLUMNS) is appended to FILE.tsv:
regime `tfidf-lr`, rate 0, lr the chosen C (nan for a one-class subset),
steps, budget and best_step 0, train_loss and best_train_loss both the
chosen model's mean log-loss on its training rows, metric acc, config
"tfidf".  Rows already in FILE.tsv are skipped (as the C driver does), so an
interrupted run resumes.  --seeds N keeps the N smallest seeds.  As the C
driver's rows, each is appended whole and fsync'ed or not at all (a full
disk cuts it back and exits 1 naming the file), a torn last line (a crash
mid-row) is cut on the next run, and a second process on FILE.tsv is
refused (flock).

Model (deterministic: no random state is involved):
  * features: sklearn TfidfVectorizer (lowercased word unigrams and bigrams,
    sublinear tf, l2-normalised), fitted on the training subset only, so the
    vocabulary is what a model trained on that subset could know;
  * pairs, two feature sets, chosen on validation with C: "separate", one
    vectorizer for text_a and another for text_b, their features hstacked,
    so a word counts differently as the hyponym's or the hypernym's gloss;
    and "pair", one vectorizer fitted on both columns and, with A and B the
    two texts' vectors, [A, B, |A - B|, A * B] (elementwise): the
    bag-of-words analogue of the encoder's pair head, whose A * B is the
    texts' shared words;
  * classifier: LogisticRegression (lbfgs, multinomial, max_iter 5000) with
    C from the grid C_GRID = 0.01, 0.1, 1, 10, 100, 1000, chosen with the
    feature set per (task, fraction, seed) by validation accuracy (ties:
    higher validation macro-F1, then the earlier feature set in the order
    above, then the smaller C).  The grid stops at 1000 because
    validation accuracy has levelled off there (supersense, whole pool:
    0.8200 at C 100, 0.8242 at 1000, 0.8242 at 10000); one fit on the whole
    pool takes about 12 s of CPU;
  * macro-F1: the mean over all the task's classes (the labels in train, val
    and test) of per-class F1, a class with no true or predicted example
    scoring 0, as finetune.c computes it.
`seconds` is the wall time of the grid search and scoring (the only
non-deterministic column).
"""
import argparse
import fcntl
import os
import stat
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import HEADER, FormatError, open_text, read_results, require, row_key  # noqa: E402

require("numpy", "scipy", "sklearn")
import numpy as np  # noqa: E402
from scipy.sparse import hstack  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score, log_loss  # noqa: E402

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
REGIME = "tfidf-lr"
CONFIG = "tfidf"


class InputError(Exception):
    pass


def read_set(path):
    """(labels, list of text columns) of a task set; every row must have the
    same number of fields (2: single text, 3: pair)."""
    labels, texts = [], None
    with open_text(path, InputError) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if texts is None:
                if len(fields) not in (2, 3):
                    raise InputError("%s:%d: expected label<TAB>text or label<TAB>text_a<TAB>text_b"
                                     % (path, lineno))
                texts = [[] for _ in fields[1:]]
            if len(fields) != len(texts) + 1:
                raise InputError("%s:%d: %d fields, the first row had %d"
                                 % (path, lineno, len(fields), len(texts) + 1))
            labels.append(fields[0])
            for col, text in zip(texts, fields[1:]):
                col.append(text)
    if not labels:
        raise InputError("%s: no rows" % path)
    return labels, texts


def read_subsets(path, n_train):
    """[(fraction text as written, fraction, seed, [indices])] in file order."""
    out = []
    with open_text(path, InputError) as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if lineno == 1 and fields[0] == "fraction":
                continue
            try:
                if len(fields) != 3:
                    raise ValueError("expected fraction<TAB>seed<TAB>indices")
                idx = [int(i) for i in fields[2].split(",")]
                if not idx or min(idx) < 0 or max(idx) >= n_train or len(set(idx)) != len(idx):
                    raise ValueError("indices must be distinct rows of train.tsv (0..%d)"
                                     % (n_train - 1))
                out.append((fields[0], float(fields[0]), int(fields[1]), idx))
            except ValueError as e:
                raise InputError("%s:%d: %s" % (path, lineno, e)) from None
    return out


def vectorizer():
    return TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True)


def featurize(train_texts):
    """The feature sets to choose from, fitted on the training rows: a list
    of (name, transform), transform mapping text columns to a sparse
    matrix.  One text: [tfidf]; pairs: [separate, pair] (see the module's
    docstring)."""
    vecs = [vectorizer().fit(col) for col in train_texts]

    def separate(texts):
        mats = [v.transform(col) for v, col in zip(vecs, texts)]
        return mats[0].tocsr() if len(mats) == 1 else hstack(mats).tocsr()
    if len(train_texts) == 1:
        return [("tfidf", separate)]
    shared = vectorizer().fit(list(train_texts[0]) + list(train_texts[1]))

    def pair(texts):
        a, b = shared.transform(texts[0]), shared.transform(texts[1])
        return hstack([a, b, abs(a - b), a.multiply(b)]).tocsr()
    return [("separate", separate), ("pair", pair)]


def scores(y_true, y_pred, classes):
    acc = float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
    f1 = float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0))
    return acc, f1


def run_one(train, val, test, idx, classes, features=None):
    """Trains on the rows idx of train, picks the feature set and C on val;
    (val_acc, val_f1, test_acc, test_f1, C, feature set, training
    log-loss).  features, if given, limits the feature sets to those
    names."""
    y = [train[0][i] for i in idx]
    sub = [[col[i] for i in idx] for col in train[1]]
    sets = [fs for fs in featurize(sub) if features is None or fs[0] in features]
    if len(set(y)) < 2:
        # One class in the subset: logistic regression is undefined; the
        # only sensible prediction is that class.
        va, vf = scores(val[0], [y[0]] * len(val[0]), classes)
        ta, tf = scores(test[0], [y[0]] * len(test[0]), classes)
        return va, vf, ta, tf, float("nan"), sets[0][0], float("nan")
    best = None
    for name, transform in sets:
        x, xv = transform(sub), transform(val[1])
        for c in C_GRID:
            model = LogisticRegression(C=c, solver="lbfgs", max_iter=5000).fit(x, y)
            va, vf = scores(val[0], model.predict(xv), classes)
            # Strict improvement only: ties keep the earlier set, the smaller C.
            if best is None or (va, vf) > best[0]:
                best = ((va, vf), c, name, transform, model, x)
    (va, vf), c, name, transform, model, x = best
    ta, tf = scores(test[0], model.predict(transform(test[1])), classes)
    loss = float(log_loss(y, model.predict_proba(x), labels=model.classes_))
    return va, vf, ta, tf, c, name, loss


def load_task(d):
    """(train, val, test, classes, subsets) of one exported task folder."""
    train, val, test = (read_set(os.path.join(d, n + ".tsv")) for n in ("train", "val", "test"))
    if not len(train[1]) == len(val[1]) == len(test[1]):
        raise InputError("%s: train, val and test differ in the number of texts" % d)
    classes = sorted(set(train[0]) | set(val[0]) | set(test[0]))
    subsets = read_subsets(os.path.join(d, "subsets.tsv"), len(train[0]))
    return train, val, test, classes, subsets


def load_export(export_dir):
    """{task: load_task(...)} for every <task>/subsets.tsv under export_dir."""
    if not os.path.isdir(export_dir):
        raise InputError("%s: not a folder" % export_dir)
    names = sorted(d for d in os.listdir(export_dir)
                   if os.path.isfile(os.path.join(export_dir, d, "subsets.tsv")))
    if not names:
        raise InputError("%s: no <task>/subsets.tsv (written by encoder experiment --export)"
                         % export_dir)
    return {t: load_task(os.path.join(export_dir, t)) for t in names}


def open_results(path):
    """path opened for appending rows (created if missing, a regular file
    only), locked against a second writer as the C driver locks its results
    file, with a torn last line cut off; its descriptor.  InputError naming
    path when it cannot be."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise InputError("%s: cannot open: %s" % (path, e.strerror)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError("%s: not a regular file" % path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise InputError("%s: another process is writing it (%s)" % (path, e.strerror)) \
                from None
        with open(path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            sys.stderr.write("baseline_tfidf: %s:%d: cutting a torn last line (an interrupted "
                             "write)\n" % (path, data.count(b"\n") + 1))
            os.ftruncate(fd, keep)
            os.fsync(fd)
    except OSError as e:
        os.close(fd)
        raise InputError("%s: %s" % (path, e.strerror)) from None
    except InputError:
        os.close(fd)
        raise
    return fd


def append_row(fd, path, text):
    """Appends text to fd (path's) whole and fsync'ed, or cuts the file back
    to its length before and raises InputError naming path."""
    data, before = text.encode("utf-8"), os.fstat(fd).st_size
    try:
        done = 0
        while done < len(data):
            done += os.write(fd, data[done:])
        os.fsync(fd)
    except OSError as e:
        try:
            os.ftruncate(fd, before)
            state = "the file is back at its previous length"
        except OSError:
            state = "could not cut the partial row; remove it by hand"
        raise InputError("%s: append failed: %s (%s)" % (path, e.strerror, state)) from None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export_dir")
    ap.add_argument("--out", required=True, help="results TSV (appended; present rows skipped)")
    ap.add_argument("--seeds", type=int, default=0, help="keep the N smallest seeds (0: all)")
    a = ap.parse_args(argv)
    if a.seeds < 0:
        ap.error("--seeds must be >= 0")
    try:
        # Every input is read and checked before --out is touched.
        tasks = load_export(a.export_dir)
        out = open_results(a.out)
        try:
            done = {row_key(r) for r in read_results(a.out)}
            if os.fstat(out).st_size == 0:
                append_row(out, a.out, HEADER)
            for task, (train, val, test, classes, subsets) in tasks.items():
                seeds = sorted({s for _, _, s, _ in subsets})
                keep = set(seeds[:a.seeds] if a.seeds else seeds)
                for frac_text, frac, seed, idx in subsets:
                    key = (task, frac_text, seed, REGIME, "0")
                    if seed not in keep or key in done:
                        continue
                    t0 = time.monotonic()
                    va, vf, ta, tf, c, feats, loss = run_one(train, val, test, idx, classes)
                    sec = time.monotonic() - t0
                    append_row(out, a.out,
                               "%s\t%s\t%d\t%s\t0\t%.9g\t%d\t0\t0\t0\t%.6f\t%.6f\tacc\t"
                               "%.6f\t%.6f\t%.6f\t%.6f\t%.1f\t%s\n"
                               % (task, frac_text, seed, REGIME, c, len(idx), loss, loss,
                                  va, vf, ta, tf, sec, CONFIG))
                    done.add(key)
                    print("%s %s seed %d: n %d %s C %g train log-loss %.4f val %.4f test %.4f "
                          "(%.1f s)" % (task, frac_text, seed, len(idx), feats, c, loss, va, ta,
                                        sec))
        finally:
            os.close(out)
    except (InputError, FormatError) as e:
        sys.stderr.write("baseline_tfidf: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
