#!/usr/bin/env bash
# Debian packaging (debian/): build libgdropout1, libgdropout-dev and
# gdropout-tools with dpkg-buildpackage in a copy of the tracked tree (the
# Check suite runs inside, through dh_auto_test), require a build log free
# of compiler warnings and lintian free of errors, install the packages with
# apt, build and run the consumer against the system copy (pkg-config and
# find_package, shared and static), run gdropout-plan, then purge them.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
. .ci/lib.sh
need_build_deps
need_pkgs debhelper dpkg-dev lintian g++ man-db python3

work=$(mktemp -d)
packages=(libgdropout1 libgdropout-dev gdropout-tools)
cleanup() {
    apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# Only what git tracks: local build trees must not leak into the package.
mkdir "$work/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/src"

echo "-- dpkg-buildpackage -us -uc -b"
start=$SECONDS
(cd "$work/src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
    >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; exit 1; }
echo "   built in $((SECONDS - start)) s; $(grep -E 'tests passed' "$work/build.log")"
if grep -E ': warning:' "$work/build.log"; then
    echo "compiler warnings in the package build (above)" >&2
    exit 1
fi

echo "-- lintian"
lintian --fail-on error --tag-display-limit 0 "$work"/gdropout_*.changes

echo "-- apt-get install ./*.deb"
debs=()
for p in "${packages[@]}"; do
    debs+=("$(ls "$work"/"${p}"_*.deb)")
done
apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
dpkg -L libgdropout1 | grep -q 'libgdropout.so.1$'

echo "-- consumers against the system copy"
"$top/tests/consumer/run.sh" /usr "$work/consumer"

echo "-- gdropout-plan"
gdropout-plan --version
gdropout-plan --help >/dev/null
printf 'embeddings 0.2\nattention.0 3.5\nffn.0 1.25\n' >"$work/scores.txt"
gdropout-plan --input-format scores --p-max 0.1 --p-min 0 -o "$work/plan.txt" "$work/scores.txt"
# rank-linear: the lowest score gets p_max, the highest p_min
if ! grep -Eq '^0 embeddings 0.200000003 0.100000001$' "$work/plan.txt" ||
    ! grep -Eq '^1 attention.0 3.5 0$' "$work/plan.txt"; then
    cat "$work/plan.txt"
    echo "unexpected plan" >&2
    exit 1
fi
man -w gdropout-plan >/dev/null && man -w 3 gdropout >/dev/null
# one page per function, from the headers, in libgdropout-dev
man -w gd_dropout_fwd >/dev/null && man -w gd_plan_load >/dev/null
echo "-- debian ok"
