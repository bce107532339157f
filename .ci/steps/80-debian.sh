#!/usr/bin/env bash
# Debian packaging (debian/), from the release tarball as an upload would be:
# 1. scripts/release makes the orig tarball of the checkout (its uncommitted
#    changes to tracked files included; the encoder weights left out), and
#    dpkg-buildpackage builds the source and every binary package from it,
#    the Check suite running inside (dh_auto_test); the build log must be
#    free of compiler warnings;
# 2. lintian --pedantic on the source and binary packages: any tag fails,
#    but those debian/ overrides with a reason;
# 3. reproducibility: the binaries again from the same tarball in another
#    directory (other path and name length, nocheck: tests do not change
#    what is installed), while lintian runs; every .deb must be identical;
# 4. autopkgtest (null runner, on this machine): the library's test suite
#    against the installed packages, the consumer (pkg-config and
#    find_package, shared and static), the Python binding's tests against
#    python3-gdropout, the tool's --help;
# 5. the Rust crates against /usr, shared and static (70-rust.sh --system),
#    the tool on real input and the manual pages; then the packages are
#    purged.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Debian's tools first: a python3 from pyenv or a venv ahead on PATH breaks
# pybuild (python3-gdropout) and dh's helpers.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
top=$PWD
. .ci/lib.sh
need_build_deps
need_pkgs dpkg-dev lintian g++ man-db python3-numpy autopkgtest
# The build dependencies as the README installs them: debian/control's own
# list, read from the clone (a list of our own once left out the Python
# package's Build-Depends-Indep).
apt-get build-dep -y -qq ./ >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get build-dep -y -qq ./ >/dev/null; }

work=$(mktemp -d)
packages=(libgdropout1 libgdropout-dev gdropout-tools python3-gdropout)
cleanup() {
    apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The checkout as a commit (git stash create: tracked files, index and work
# tree, without touching either), or HEAD when it is clean.
ref=$(git stash create)
ref=${ref:-HEAD}
version=$(git show "$ref:CMakeLists.txt" | sed -n 's/^project(gdropout VERSION \([0-9.]*\).*/\1/p')
scripts/release tarball --out "$work/a" "$ref" >/dev/null
orig=gdropout_$version.orig.tar.xz
echo "-- $orig: $(du -k "$work/a/$orig" | cut -f1) kB"

# build DIR OPTIONS ARGS...: unpack the tarball in DIR and dpkg-buildpackage
# there; the log is DIR/build.log.
build() {
    local dir=$1 opts=$2
    shift 2
    [ -e "$dir/$orig" ] || cp "$work/a/$orig" "$dir/"
    tar -xJf "$dir/$orig" -C "$dir"
    (cd "$dir/gdropout-$version" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc "$@") \
        >"$dir/build.log" 2>&1 || { tail -n 60 "$dir/build.log"; return 1; }
}

echo "-- dpkg-buildpackage -us -uc (source and binaries, with the test suite)"
start=$SECONDS
build "$work/a" "parallel=$(nproc)"
echo "   built in $((SECONDS - start)) s; $(grep -E 'tests passed' "$work/a/build.log")"
if grep -E ': warning:' "$work/a/build.log"; then
    echo "compiler warnings in the package build (above)" >&2
    exit 1
fi

echo "-- lintian --pedantic, and the binaries built again elsewhere (reproducibility)"
start=$SECONDS
# Info tags are shown and fail below, not through --fail-on info: lintian
# 2.116 counts a tag its own screens mask (python/egg/metadata masks
# package-contains-documentation-outside-usr-share-doc on the dist-info's
# top_level.txt) and exits 2 without showing one.
lintian --pedantic --display-info --fail-on error,warning,pedantic --tag-display-limit 0 \
    "$work/a/gdropout_${version}-"*.changes >"$work/lintian.log" 2>&1 &
lintian_pid=$!
other=$work/b/a-longer-directory-name/to-move-every-path
mkdir -p "$other"
build "$other" "parallel=$(nproc) nocheck" -b
echo "   second build in $((SECONDS - start)) s"
lintian_rc=0
wait $lintian_pid || lintian_rc=$?
grep -v '^running with root privileges' "$work/lintian.log" || true
if [ $lintian_rc -ne 0 ] || grep -q '^[EWIP]: ' "$work/lintian.log"; then
    echo "lintian: tags above (exit status $lintian_rc)" >&2
    exit 1
fi

differ=0
for deb in "$work"/a/*.deb; do
    name=$(basename "$deb")
    if ! cmp -s "$deb" "$other/$name"; then
        differ=1
        echo "not reproducible: $name" >&2
        mkdir -p "$work/x1/$name" "$work/x2/$name"
        dpkg-deb -R "$deb" "$work/x1/$name"
        dpkg-deb -R "$other/$name" "$work/x2/$name"
        diff -r "$work/x1/$name" "$work/x2/$name" >&2 || true
    fi
done
[ $differ = 0 ] || exit 1
echo "   $(ls "$work"/a/*.deb | wc -l) packages, bit for bit the same"

echo "-- autopkgtest (null runner)"
debs=()
for p in "${packages[@]}"; do
    debs+=("$(ls "$work"/a/"${p}"_*.deb)")
done
start=$SECONDS
# Every test in debian/tests/control (no --test-name).  The output folder's
# log is the one to show: the console output lacks the tests' stderr (a
# failing test's traceback).  Then each registered test must be in the
# summary as PASS (autopkgtest's exit status alone would not notice one that
# is no longer registered).
apt_rc=0
autopkgtest --output-dir "$work/autopkgtest" "$work/a/gdropout_${version}-"*.dsc "${debs[@]}" -- null \
    >"$work/autopkgtest.log" 2>&1 || apt_rc=$?
if [ $apt_rc -ne 0 ]; then
    tail -n 80 "$work/autopkgtest/log" 2>/dev/null || tail -n 80 "$work/autopkgtest.log"
    echo "autopkgtest: exit status $apt_rc" >&2
    exit 1
fi
cat "$work/autopkgtest/summary"
for t in $(sed -n 's/^Tests: *//p' debian/tests/control | tr ',' ' '); do
    grep -Eq "^$t +PASS" "$work/autopkgtest/summary" || {
        echo "autopkgtest: debian/tests/$t did not PASS" >&2
        exit 1
    }
done
echo "   autopkgtest in $((SECONDS - start)) s"

echo "-- the installed packages, by hand"
apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
dpkg -L libgdropout1 | grep 'libgdropout.so.1$' >/dev/null
bash "$top/.ci/steps/70-rust.sh" --system
gdropout-plan --version
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
