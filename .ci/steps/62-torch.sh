#!/usr/bin/env bash
# gdropout.torch (bindings/python/gdropout/torch.py) with Debian's
# python3-torch: build and install the library and gdropout-plan into a
# temporary prefix, then
#   - `import gdropout` must not import torch;
#   - the torch tests (bindings/python/tests/test_torch*.py), warnings as
#     errors, none skipped for want of torch: every Fisher method against the
#     batch-of-one loop and a float64 nn.Linear reference, the traced
#     mapping against hand-written tables (a BertModel-shaped model among
#     them), Dropout bit for bit against the C kernels on both of its paths
#     (C kernels; Philox in torch ops, the path of other devices, run on CPU
#     tensors), the step in state_dict, two ranks under DDP (gloo, two
#     processes), gradcheck, apply_plan end to end with the gdropout-plan tool;
#   - the package pip-installed into a venv as a pure-Python package
#     (GDROPOUT_NO_BUNDLE=1: no CMake, the library from GDROPOUT_LIBRARY)
#     imports gdropout.torch (60-python.sh tests the bundling wheel);
#   - bindings/python/examples/guided_finetune.py runs to its table, timed.
# About 60 s of CPU once python3-torch is installed (the example ~30 s of it),
# so about a minute on an idle 2-core machine; the apt-get install comes on top.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
. .ci/lib.sh
need_build_deps
need_pkgs python3-torch python3-numpy python3-venv python3-setuptools
py=/usr/bin/python3
"$py" -c 'import torch; print("torch", torch.__version__)'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
lib=$(find "$work/prefix" -name libgdropout.so.1 -print -quit)
export GDROPOUT_LIBRARY=$lib GDROPOUT_PLAN=$work/prefix/bin/gdropout-plan
export PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1
echo "-- setup took $((SECONDS - start)) s"

echo "-- import gdropout does not import torch"
"$py" -W error -c 'import sys, gdropout; assert "torch" not in sys.modules, "gdropout imported torch"'

echo "-- torch tests"
t=$SECONDS
log="$work/tests.log"
if ! "$py" -W error -m unittest discover -s bindings/python/tests -t bindings/python \
        -p 'test_torch*.py' -v >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -n 3 "$log"
skips="skipped 'torch is not installed\|skipped 'gdropout-plan not found"
skips+="\|skipped 'torch.distributed"
if grep -q "$skips" "$log"; then
    cat "$log"
    echo "torch tests were skipped" >&2
    exit 1
fi
echo "-- torch tests took $((SECONDS - t)) s"

echo "-- pip install (GDROPOUT_NO_BUNDLE=1) into a venv, then import gdropout.torch from it"
"$py" -m venv --system-site-packages "$work/venv"
cp -r bindings/python "$work/src"
GDROPOUT_NO_BUNDLE=1 "$work/venv/bin/pip" install -q --no-index --no-build-isolation --no-deps \
    "$work/src"
(cd "$work" && PYTHONPATH= "$work/venv/bin/python" -W error -c '
import gdropout, gdropout.torch as gt, torch
assert gt.__file__.startswith("'"$work/venv"'"), gt.__file__
assert gdropout.library_source() == "GDROPOUT_LIBRARY", gdropout.library_source()
y = gt.Dropout(0.5, seed=1, site=2)(torch.ones(64))
print("installed", gt.__file__, "kept", int((y != 0).sum()), "of 64")')

echo "-- the example"
t=$SECONDS
out="$work/example.txt"
"$py" -W error bindings/python/examples/guided_finetune.py --out "$work/example" | tee "$out"
grep -q '^  guided ' "$out"
# the tool turns the example's scores file into the example's plan, byte for byte
LD_LIBRARY_PATH=$(dirname "$lib") "$GDROPOUT_PLAN" "$work/example/scores.txt" --p-max 0.2 \
    --quiet -o "$work/tool-plan.txt"
cmp "$work/example/plan.txt" "$work/tool-plan.txt"
echo "-- the example took $((SECONDS - t)) s; the step $((SECONDS - start)) s"
