#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined,
# library objects with fuzzer-no-link coverage) and runs each for a bounded
# time, starting from its committed corpus.  Any crash, sanitizer report,
# invariant trap, leak, timeout or out-of-memory fails the step; the input
# that did it is left in build-fuzz/artifacts/ (replay it with
# `build-fuzz/fuzz/<target> <file>`, then commit it to fuzz/corpus/<target>/
# with the fix).
#
#   FUZZ_SECONDS   seconds per target (default 45; 0 = until stopped)
#   FUZZ_JOBS      targets run at once (default: the number of cores)
#   FUZZ_TARGETS   which targets (default: all that were built)
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
# libclang-rt-14-dev ships libclang_rt.fuzzer-x86_64.a (libFuzzer) and the
# sanitizer runtimes for clang 14.
need_pkgs clang libclang-rt-14-dev

build="build-fuzz"
seconds=${FUZZ_SECONDS:-45}
jobs=${FUZZ_JOBS:-$(nproc)}
CC=clang cmake -S . -B "$build" -DGD_BUILD_FUZZ=ON -DGD_BUILD_TESTS=OFF -DGD_BUILD_TOOLS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_all

if [ -z "${FUZZ_TARGETS:-}" ]; then
    FUZZ_TARGETS=$(for d in fuzz/corpus/*/; do basename "$d"; done)
fi
mkdir -p "$build/artifacts" "$build/logs"
run_one() {
    local t=$1 build=$2 seconds=$3
    [ -x "$build/fuzz/$t" ] || { echo "$t: not built" >&2; return 1; }
    mkdir -p "$build/corpus-run/$t"
    # New inputs go to the scratch corpus (first directory); the committed
    # corpus is only read.  OpenBLAS on one thread keeps runs reproducible.
    if OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 \
        "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
        "$build/corpus-run/$t" "fuzz/corpus/$t" >"$build/logs/$t.log" 2>&1; then
        echo "$t: $(grep -m1 '^Done' "$build/logs/$t.log" || echo 'finished')"
    else
        echo "$t: FAILED (log below, inputs in $build/artifacts/)" >&2
        tail -60 "$build/logs/$t.log" >&2
        return 1
    fi
}
# The load targets write each input to a file and save what they load
# (fsync included): on tmpfs that costs little.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
export -f run_one
# shellcheck disable=SC2086
printf '%s\n' $FUZZ_TARGETS | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$build" "$seconds"
