#!/usr/bin/env bash
# The examples, built the way a host trainer builds: against an INSTALLED
# libgdropout found with find_package.
#   1. the prefix install runs as installed: bin/gdropout-plan with no
#      LD_LIBRARY_PATH (RUNPATH $ORIGIN/../<libdir>);
#   2. the layer walkthrough and a short transfer run (checked by
#      examples/check_output.sh, its --fisher-out file read by the installed
#      gdropout-plan), then both again under ASan/UBSan;
#   3. bad input fails loudly; scripts/dev demo with an absolute BUILD_DIR
#      installs there, builds no tests and prints its phase headings;
#   4. the README's digits tables: the committed examples/results/digits*.md
#      are rerun (20 seeds, --control, about 100 s each on an idle machine)
#      and must come out the same byte for byte (scripts/record-result
#      --check).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
build="build-ci-examples"

cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" >/dev/null
# Nothing below needs LD_LIBRARY_PATH: the tool has its RUNPATH, the
# examples the prefix's library directory in theirs (CMake's build tree).
unset LD_LIBRARY_PATH

echo "== the installed gdropout-plan runs from its prefix"
plan=$prefix/bin/gdropout-plan
# shellcheck disable=SC2016 # a literal $ORIGIN
readelf -d "$plan" | grep -q 'RUNPATH.*\$ORIGIN/' || {
    readelf -d "$plan" | grep -i path
    echo "installed gdropout-plan has no \$ORIGIN-relative RUNPATH"
    exit 1
}
"$plan" --help >/dev/null

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
    "$bin/gdropout-transfer" "${short[@]}" --out "$work/results-$flavour.md" \
        --fisher-out "$work/fisher-$flavour.safetensors" >"$work/run-$flavour.log"
    examples/check_output.sh "$work/run-$flavour.log" "$work/results-$flavour.md"
    # The saved Fisher is what a new user tries gdropout-plan on: the three
    # hidden sites (the input site is fed by no tensor), one line each.
    "$plan" -o "$work/plan-$flavour.txt" "$work/fisher-$flavour.safetensors" \
        2>"$work/plan.err" || { cat "$work/plan.err"; exit 1; }
    sites=$(grep -cE '(^|[[:space:]])fc[012]([[:space:]]|$)' "$work/plan-$flavour.txt" || true)
    [ "$sites" -eq 3 ] || {
        cat "$work/plan-$flavour.txt" "$work/plan.err"
        echo "gdropout-plan on the --fisher-out file: expected 3 sites, got $sites"
        exit 1
    }
    echo "   --fisher-out file planned by gdropout-plan: 3 sites"
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
expect_fail --select --fisher-out "$work/f.safetensors"
expect_fail "${short[@]}" --fisher-out "$work/no/such/dir/f.safetensors"
for flag in --fractions --fisher-out; do
    "$t" --help | grep -q -- "$flag" || { echo "--help does not list $flag"; exit 1; }
done

echo "== scripts/dev demo with an absolute BUILD_DIR builds only what the demo needs"
abs=$work/abs-build
BUILD_DIR=$abs scripts/dev demo --seeds 1 --fractions 0.5 --steps 10 --pretrain-steps 50 \
    >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
[ -x "$abs/prefix/bin/gdropout-plan" ] || { echo "demo did not install into $abs/prefix"; exit 1; }
[ -s "$abs/results.md" ] || { echo "demo wrote no $abs/results.md"; exit 1; }
[ ! -e "$abs/tests" ] || { echo "demo built the test suite"; exit 1; }
for h in configuring building installing "building the examples" "running the demo trainer"; do
    grep -q "^== scripts/dev: $h" "$work/demo.log" || { echo "demo: no '$h' heading"; exit 1; }
done
# (It used to install into $PWD/$BUILD_DIR/prefix, inside the clone.)
if git status --porcelain --untracked-files=all | grep "^??"; then
    echo "the demo left files in the source tree (above)"
    exit 1
fi

echo "== the README's digits tables reproduce (examples/results/)"
PATH="$work/examples-plain:$PATH" scripts/record-result --check examples/results/digits.md
# OpenBLAS's SkylakeX kernels need AVX-512.
if grep -qw avx512f /proc/cpuinfo; then
    PATH="$work/examples-plain:$PATH" \
        scripts/record-result --check examples/results/digits-skylakex.md
else
    echo "   digits-skylakex.md not rerun: this CPU has no AVX-512"
fi
echo "examples OK"
