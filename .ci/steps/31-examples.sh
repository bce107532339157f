#!/usr/bin/env bash
# The examples, built the way a host trainer builds: against an INSTALLED
# libgdropout found with find_package.
#   0. the README's install block, as written (into /opt/gdropout), and the
#      manual pages found the way it says;
#   1. the prefix install runs as installed: bin/gdropout-plan with no
#      LD_LIBRARY_PATH (RUNPATH $ORIGIN/../<libdir>);
#   2. the layer walkthrough and a short transfer run (checked by
#      examples/check_output.sh, its --fisher-out file read by the installed
#      gdropout-plan), then both again under ASan/UBSan;
#   3. bad input fails loudly, and at once (a bad --out before training);
#      scripts/dev digits with an absolute BUILD_DIR installs there, builds
#      no tests, links the examples to its install and prints its phase
#      headings;
#   4. docs/RESULTS.md's digits tables: the committed examples/results/digits*.md
#      are rerun (20 seeds, --control, about 100 s each on an idle machine)
#      and must come out the same byte for byte (scripts/record-result
#      --check).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps

need_pkgs man-db

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the README's install block, as written"
# The fenced block after the line starting "<!-- install:" in README.md.
install=$(awk 'index($0, "<!-- install:") == 1 { f = 1; next }
    f == 1 && /^```/ { f = 2; next }
    f == 2 && /^```/ { exit }
    f == 2 { print }' README.md)
[ -n "$install" ] || { echo "README.md: no install block"; exit 1; }
prefix=/opt/gdropout
grep -q -- "-DCMAKE_INSTALL_PREFIX=$prefix" <<<"$install" || {
    echo "README.md's install block no longer installs into $prefix (update this step)"
    exit 1
}
rm -rf "$prefix" # so what is checked below is this install
# Its last line prints where man found gd_dropout_fwd's page; MANPATH unset,
# as on a fresh login.
found=$(env -u MANPATH bash -euo pipefail -c "$install" | tail -n 1)
want=$prefix/share/man/man3/gd_dropout_fwd.3
[ "$found" = "$want" ] || { echo "man -w gd_dropout_fwd: '$found', want $want"; exit 1; }
grep -q "# $want" <<<"$install" || { echo "README.md's install block: say $want"; exit 1; }
[ "$(man -M "$prefix/share/man" -w gd_dropout_fwd)" = "$want" ] ||
    { echo "man -M $prefix/share/man does not find gd_dropout_fwd"; exit 1; }
echo "   installed into $prefix; man finds $found"
# Nothing below needs LD_LIBRARY_PATH: the tool has its RUNPATH, the
# examples the prefix's library directory in theirs (CMake's build tree).
unset LD_LIBRARY_PATH

echo "== the installed gdropout-plan runs from its prefix"
plan=$prefix/bin/gdropout-plan
# shellcheck disable=SC2016 # a literal $ORIGIN
readelf -d "$plan" | grep 'RUNPATH.*\$ORIGIN/' >/dev/null || {
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
    # The input site has no score (no tensor feeds it): said in words.
    if grep -n 'score  *nan' "$work/run-$flavour.log"; then
        echo "gdropout-transfer prints a nan score (above) without saying why"
        exit 1
    fi
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
# Each within 30 s: bad flags and paths are refused before the training
# (a default run takes minutes).
expect_fail() {
    if timeout 30 "$t" "$@" >/dev/null 2>"$work/err"; then
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
expect_fail --fisher-out "$work/no/such/dir/f.safetensors"
expect_fail --out "$work/no/such/dir/r.md"
expect_fail --out "$work"
for flag in --fractions --fisher-out; do
    "$t" --help | grep -- "$flag" >/dev/null || { echo "--help does not list $flag"; exit 1; }
done

echo "== scripts/dev digits with an absolute BUILD_DIR builds only what it needs"
abs=$work/abs-build
BUILD_DIR=$abs scripts/dev digits --seeds 1 --fractions 0.5 --steps 10 --pretrain-steps 50 \
    >"$work/digits.log" 2>&1 || { cat "$work/digits.log"; exit 1; }
[ -x "$abs/prefix/bin/gdropout-plan" ] || { echo "digits did not install into $abs/prefix"; exit 1; }
[ -s "$abs/digits/results.md" ] || { echo "digits wrote no $abs/digits/results.md"; exit 1; }
[ ! -e "$abs/suite" ] || { echo "digits built the test suite"; exit 1; }
# The examples load the library of the install, by their own RUNPATH.
loaded=$(env -u LD_LIBRARY_PATH ldd "$abs/examples/gdropout-transfer" | awk '/libgdropout/ { print $3 }')
case "$loaded" in
"$abs/prefix/"*) ;;
*) echo "the examples load libgdropout from '$loaded', not $abs/prefix"; exit 1 ;;
esac
for h in configuring building installing "building the examples" "running the digits trainer"; do
    grep -q "^== scripts/dev: $h" "$work/digits.log" || { echo "digits: no '$h' heading"; exit 1; }
done
# (It used to install into $PWD/$BUILD_DIR/prefix, inside the clone.)
if git status --porcelain --untracked-files=all | grep "^??"; then
    echo "scripts/dev digits left files in the source tree (above)"
    exit 1
fi
for h in help --help -h; do # exit 0, the usage without '#' (--help once exited 2)
    scripts/dev $h | grep '^usage: scripts/dev' >/dev/null || { echo "scripts/dev $h: no usage"; exit 1; }
    if scripts/dev $h | grep '^#' >/dev/null; then echo "scripts/dev $h prints '#' lines"; exit 1; fi
done
if scripts/dev no-such-command 2>/dev/null; then echo "scripts/dev took a bad command"; exit 1; fi

echo "== docs/RESULTS.md's digits tables reproduce (examples/results/)"
PATH="$work/examples-plain:$PATH" scripts/record-result --check examples/results/digits.md
# OpenBLAS's SkylakeX kernels need AVX-512.
if grep -qw avx512f /proc/cpuinfo; then
    PATH="$work/examples-plain:$PATH" \
        scripts/record-result --check examples/results/digits-skylakex.md
else
    echo "   digits-skylakex.md not rerun: this CPU has no AVX-512"
fi
echo "examples OK"
