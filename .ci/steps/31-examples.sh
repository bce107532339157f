#!/usr/bin/env bash
# The examples, built the way a host trainer builds: against an INSTALLED
# libgdropout found with find_package.  Runs the layer walkthrough and a short
# transfer run (checked by examples/check_output.sh), then both again under
# ASan/UBSan, and checks that bad input fails loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/dev deps

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
build="build-ci-examples"

cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" >/dev/null
export LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A tiny run: two seeds, one fraction, few steps; loss lines every 10 steps.
short=(--seeds 2 --fractions 0.5 --steps 60 --pretrain-steps 200 --log-every 10)

for flavour in plain asan; do
    bin=$work/examples-$flavour
    flags=()
    [ "$flavour" = asan ] && flags=(-DGDX_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
    cmake -S examples -B "$bin" -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" >/dev/null
    cmake --build "$bin" -j "$(nproc)"
    echo "== $flavour: layer_walkthrough"
    "$bin/layer_walkthrough"
    echo "== $flavour: gdropout-transfer ${short[*]}"
    "$bin/gdropout-transfer" "${short[@]}" --out "$work/results-$flavour.md" >"$work/run-$flavour.log"
    examples/check_output.sh "$work/run-$flavour.log" "$work/results-$flavour.md"
done

echo "== bad input fails with a message and a non-zero status"
t=$work/examples-plain/gdropout-transfer
expect_fail() {
    if "$t" "$@" >/dev/null 2>"$work/err"; then
        echo "expected failure: gdropout-transfer $*"
        exit 1
    fi
    [ -s "$work/err" ] || { echo "no message for: gdropout-transfer $*"; exit 1; }
    echo "  ok: $* -> $(tail -n 1 "$work/err")"
}
expect_fail --bogus
expect_fail --seeds 0
expect_fail --p 1.5
expect_fail --fractions 0.5,abc
expect_fail --steps
expect_fail --data "$work/missing.csv.gz"
printf 'not,a,digit\n' | gzip >"$work/junk.csv.gz"
expect_fail --data "$work/junk.csv.gz"
printf 'not gzip\n' >"$work/fake.csv.gz"
expect_fail --data "$work/fake.csv.gz"
"$t" --help | grep -q -- '--fractions' || { echo "--help does not list the flags"; exit 1; }
echo "examples OK"
