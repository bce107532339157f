#!/usr/bin/env bash
# The Python binding (bindings/python).
# 1. Its unit tests against a freshly installed library, with Debian's
#    python3 + numpy, warnings as errors: the C library held to the numpy
#    reference bit for bit, every ctypes prototype checked against
#    include/gdropout/*.h, Fisher and plan objects, argument checks, thread
#    safety of close/merge, and the one-message ImportError.
# 2. The README's install commands exactly as written (the block after
#    "<!-- python-install" in README.md, which bindings/python/README.md
#    must repeat byte for byte), in a scratch copy laid out like a clone
#    after `scripts/dev demo`, then the README's Python example (the block
#    after "<!-- python-example") with the venv's python.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps

# The fenced block that follows the line starting "<!-- $1" in file $2.
block() {
    awk -v m="<!-- $1" 'index($0, m) == 1 { f = 1; next }
        f == 1 && /^```/ { f = 2; next }
        f == 2 && /^```/ { exit }
        f == 2 { print }' "$2"
}
install=$(block python-install README.md)
example=$(block python-example README.md)
if [ -z "$install" ] || [ -z "$example" ]; then
    echo "README.md: no python-install or python-example block" >&2
    exit 1
fi
if [ "$install" != "$(block python-install bindings/python/README.md)" ]; then
    echo "bindings/python/README.md's install block differs from README.md's:" >&2
    diff <(printf '%s
' "$install") <(block python-install bindings/python/README.md) >&2 || true
    exit 1
fi

# The packages of the README's own apt-get line, installed here first (with
# apt-get update, which a fresh image needs) so that the line then runs as
# written.
read -r -a pkgs <<<"$(sed -n 's/^apt-get install //p' <<<"$install")"
[ ${#pkgs[@]} -gt 0 ] || { echo "README.md: no apt-get install line" >&2; exit 1; }
need_pkgs "${pkgs[@]}"

py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clone=$work/clone # what the README assumes: bindings/python, the library in build/prefix
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$clone/build/prefix" \
    >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
lib=$clone/build/prefix/lib/libgdropout.so.1
[ -e "$lib" ] || { echo "no $lib after cmake --install" >&2; exit 1; }
mkdir -p "$clone/bindings"
cp -r bindings/python "$clone/bindings/python"

echo "-- unittest (PYTHONPATH=bindings/python, GDROPOUT_LIBRARY=$lib)"
GDROPOUT_LIBRARY=$lib PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 \
    "$py" -W error -m unittest discover -s bindings/python/tests -t bindings/python -v 2>&1 |
    tail -n 25

echo "-- unittest again, against an ASan build of the library (LD_PRELOAD=libasan)"
asan_flags="-fsanitize=address -fno-omit-frame-pointer"
cmake -S . -B "$work/asan" -DGD_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$asan_flags" -DCMAKE_SHARED_LINKER_FLAGS="$asan_flags" >/dev/null
cmake --build "$work/asan" -j "$(nproc)" >/dev/null
asan_lib=$(find "$work/asan" -name libgdropout.so.1 -print -quit)
libasan=$(gcc -print-file-name=libasan.so)
# Every test module but the torch ones: torch's C++ exceptions trip a CHECK
# in a preloaded libasan's __cxa_throw interceptor (a libasan limitation,
# not a finding); 62-torch.sh runs them against the plain library.
asan_modules=$(cd bindings/python && ls tests/test_*.py | grep -v '/test_torch' |
    sed 's|/|.|; s|\.py$||')
# shellcheck disable=SC2086
GDROPOUT_LIBRARY=$asan_lib LD_PRELOAD=$libasan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 \
    "$py" -W error -m unittest $asan_modules 2>&1 | tail -n 3

echo "-- the README's install commands, as written:"
printf '%s\n' "$install" | sed 's/^/   /'
printf '%s\n' "$example" >"$work/example.py"
out=$(cd "$clone" && env -u GDROPOUT_LIBRARY -u PYTHONPATH bash -euo pipefail -c "$install
venv/bin/python -W error '$work/example.py'
venv/bin/python -W error -c '
import sys, gdropout
assert gdropout.__file__.startswith(sys.prefix), gdropout.__file__  # the installed copy
assert \"torch\" not in sys.modules
print(\"installed\", gdropout.__file__)'" </dev/null 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -n 5
grep -q '^GD_EDOMAIN dropout_fwd: p=1.5 is outside \[0, 1\]' <<<"$out" ||
    { echo "the README example's error line differs from its comment" >&2; exit 1; }
