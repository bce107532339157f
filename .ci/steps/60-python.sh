#!/usr/bin/env bash
# The Python binding (bindings/python): build and install the library into a
# temporary prefix, then run the binding's tests against it with Debian's
# python3 + numpy, warnings as errors.  The tests hold the C library to the
# pure-numpy reference bit for bit (Philox, masks, kernels, normal
# transform), check every ctypes prototype against include/gdropout/*.h,
# and exercise Fisher and plan objects (skipped only if the library lacks
# them), then `pip install` the package into a venv and import it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs python3-numpy python3-venv python3-setuptools
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
lib=$(find "$work/prefix" -name libgdropout.so.1 -print -quit)
export GDROPOUT_LIBRARY=$lib

echo "-- unittest (PYTHONPATH=bindings/python, GDROPOUT_LIBRARY=$lib)"
PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 \
    "$py" -W error -m unittest discover -s bindings/python/tests -t bindings/python -v 2>&1 |
    tail -n 25

echo "-- pip install into a venv (no network: the system setuptools builds it)"
"$py" -m venv --system-site-packages "$work/venv"
cp -r bindings/python "$work/src"
"$work/venv/bin/pip" install -q --no-build-isolation --no-deps "$work/src"
(cd "$work" && "$work/venv/bin/python" -W error -c '
import numpy as np, gdropout
from gdropout import reference as R
y, m = gdropout.dropout_fwd(np.ones(64, np.float32), 0.5, gdropout.Stream(1, 2))
assert (m == R.mask(1, 2, 0, 64, 0.5)).all()
print("installed gdropout", gdropout.version_string(), "from", gdropout.__file__)')
