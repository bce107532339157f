#!/usr/bin/env bash
# The Python binding (bindings/python).
# 1. Its unit tests from the source tree against a freshly built library,
#    with Debian's python3 + numpy, warnings as errors: the C library held to
#    the numpy reference bit for bit, every ctypes prototype checked against
#    include/gdropout/*.h, Fisher and plan objects, argument checks, thread
#    safety of close/merge, the loader's order, every public name documented
#    and typed.  The torch tests are 62-torch.sh's (and part 5's).
# 2. The same (torch aside) against an ASan + UBSan build of the library
#    (LD_PRELOAD=libasan): e.g. a misaligned numpy array handed to the SIMD
#    kernels is a UBSan error there.
# 3. Debian's mypy on the package (torch's own annotations are skipped:
#    pyproject.toml's [tool.mypy]).
# 4. bindings/python/README.md's install commands exactly as written (the
#    block after "<!-- python-install"), in a scratch copy of the clone:
#    pip builds the library with CMake and bundles it; the venv's gdropout
#    must load the bundled copy. Then the top README's Python example (the
#    block after "<!-- python-example") with the venv's python.
# 5. `python3 -m build --wheel --no-isolation` from that copy: a
#    py3-none-<platform> wheel with gdropout/_lib/libgdropout.so.1, installed
#    into a fresh venv (--system-site-packages, for Debian's numpy and torch)
#    and tested from a folder outside the source tree, no GDROPOUT_LIBRARY.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
start=$SECONDS

# The fenced block that follows the line starting "<!-- $1" in file $2.
block() {
    awk -v m="<!-- $1" 'index($0, m) == 1 { f = 1; next }
        f == 1 && /^```/ { f = 2; next }
        f == 2 && /^```/ { exit }
        f == 2 { print }' "$2"
}
install=$(block python-install bindings/python/README.md)
example=$(block python-example README.md)
if [ -z "$install" ] || [ -z "$example" ]; then
    echo "no python-install block in bindings/python/README.md or python-example in README.md" >&2
    exit 1
fi

# The packages of the README's own apt-get line, installed here first (with
# apt-get update, which a fresh image needs) so that the line then runs as
# written; python3-build and python3-mypy for parts 3 and 5.
read -r -a pkgs <<<"$(sed -n 's/^apt-get install //p' <<<"$install")"
[ ${#pkgs[@]} -gt 0 ] || { echo "bindings/python/README.md: no apt-get install line" >&2; exit 1; }
need_pkgs "${pkgs[@]}" python3-build python3-mypy

py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DGD_BUILD_MAN=OFF \
    -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
lib=$work/prefix/lib/libgdropout.so.1
[ -e "$lib" ] || { echo "no $lib after cmake --install" >&2; exit 1; }

echo "-- 1. unittest (PYTHONPATH=bindings/python, GDROPOUT_LIBRARY=$lib)"
log=$work/unit.log
# Every test module but the torch ones (62-torch.sh runs those).
modules=$(cd bindings/python && ls tests/test_*.py | grep -v '/test_torch' |
    sed 's|/|.|; s|\.py$||')
# shellcheck disable=SC2086
if ! GDROPOUT_LIBRARY=$lib PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 \
        "$py" -W error -m unittest -v $modules >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -n 3 "$log"

echo "-- 2. unittest again, against an ASan + UBSan build of the library (LD_PRELOAD=libasan)"
san_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$work/asan" -DGD_BUILD_TESTS=OFF -DGD_BUILD_TOOLS=OFF -DGD_BUILD_MAN=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$san_flags" -DCMAKE_SHARED_LINKER_FLAGS="$san_flags" >/dev/null
cmake --build "$work/asan" -j "$(nproc)" >/dev/null
asan_lib=$(find "$work/asan" -name libgdropout.so.1 -print -quit)
libasan=$(gcc -print-file-name=libasan.so)
# Not the torch modules either: torch's C++ exceptions trip a CHECK in a
# preloaded libasan's __cxa_throw interceptor (a libasan limitation, not a
# finding).
# shellcheck disable=SC2086
GDROPOUT_LIBRARY=$asan_lib LD_PRELOAD=$libasan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 \
    "$py" -W error -m unittest $modules 2>&1 | tail -n 3

echo "-- 3. mypy"
(cd bindings/python && "$py" -m mypy --cache-dir "$work/mypy-cache")

echo "-- 4. bindings/python/README.md's install commands, as written:"
printf '%s\n' "$install" | sed 's/^/   /'
clone=$work/clone # a copy of the committed files, laid out like a clone
mkdir -p "$clone"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$clone"
printf '%s\n' "$example" >"$work/example.py"
out=$(cd "$clone" && env -u GDROPOUT_LIBRARY -u PYTHONPATH bash -euo pipefail -c "$install
venv/bin/python -W error '$work/example.py'
venv/bin/python -W error -c '
import sys, gdropout
assert gdropout.__file__.startswith(sys.prefix), gdropout.__file__  # the installed copy
assert gdropout.library_source() == \"bundled\", gdropout.library_source()
assert gdropout.library_path().startswith(sys.prefix), gdropout.library_path()
assert \"torch\" not in sys.modules
print(\"installed\", gdropout.__file__, gdropout.library_source())'" </dev/null 2>&1) ||
    { echo "$out"; exit 1; }
echo "$out" | tail -n 5
grep -q '^GD_EDOMAIN dropout_fwd: p=1.5 is outside \[0, 1\]' <<<"$out" ||
    { echo "the README example's error line differs from its comment" >&2; exit 1; }

echo "-- 5. python3 -m build --wheel --no-isolation; the wheel tested outside the source tree"
(cd "$clone/bindings/python" && env -u GDROPOUT_NO_BUNDLE \
    "$py" -m build --wheel --no-isolation --outdir "$work/dist" >"$work/build.log" 2>&1) ||
    { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/gdropout-*.whl)
case $wheel in
*-py3-none-linux_*.whl) ;;
*) echo "unexpected wheel tag: $wheel" >&2; exit 1 ;;
esac
"$py" -m zipfile -l "$wheel" | grep 'gdropout/_lib/libgdropout.so.1' >/dev/null ||
    { echo "$wheel holds no gdropout/_lib/libgdropout.so.1" >&2; exit 1; }
"$py" -m venv --system-site-packages "$work/wheel-venv"
"$work/wheel-venv/bin/pip" install -q --no-index --no-deps "$wheel"
mkdir "$work/outside"
cp -r bindings/python/tests "$work/outside/tests"
log=$work/wheel.log
if ! (cd "$work/outside" && env -u GDROPOUT_LIBRARY -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
        GDROPOUT_PLAN="$work/prefix/bin/gdropout-plan" "$work/wheel-venv/bin/python" -W error -c '
import gdropout, sys
assert gdropout.library_source() == "bundled", gdropout.library_source()
print("wheel:", gdropout.__file__, gdropout.library_path())' &&
        env -u GDROPOUT_LIBRARY -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
        GDROPOUT_PLAN="$work/prefix/bin/gdropout-plan" "$work/wheel-venv/bin/python" -W error \
        -m unittest discover -s tests -t . -v) >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
grep '^wheel:' "$log"
tail -n 3 "$log"
echo "-- the step took $((SECONDS - start)) s"
