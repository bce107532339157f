#!/usr/bin/env bash
# Downstream builds.
# 1. Against an INSTALLED prefix (not the source tree): find_package(gdropout
#    1) with the shared and the static target, pkg-config shared and
#    --static (the archive must pull OpenBLAS itself), and the umbrella
#    header compiled as C++11 with -pedantic -Werror; the C side with clang
#    too.  find_package without openblas.pc: the shared component is found
#    and links, the static one is refused with a message naming OpenBLAS.
# 2. VENDORED (tests/consumer/vendor), by add_subdirectory of the checkout
#    and by FetchContent of its release tarball (scripts/release), with
#    pkg-config seeing only openblas.pc (no Check): only the library is
#    built, without -Werror, the parent's build type stays, and the parent's
#    install holds its own program only.
# SKIP_INSTALLED=1 runs part 2 and the find_package check only.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
. .ci/lib.sh
need_build_deps
need_pkgs g++
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
[ -n "${SKIP_INSTALLED:-}" ] || tests/consumer/run.sh "$work/prefix" "$work/consumer"
# The same against clang, when it is there, for the C side.
if [ -z "${SKIP_INSTALLED:-}" ] && command -v clang >/dev/null; then
    CC=clang tests/consumer/run.sh "$work/prefix" "$work/consumer-clang" >/dev/null
    echo "-- consumers ok with clang too"
fi

# pkg-config sees only the .pc files linked into $1 (a directory it makes).
only_pc() {
    local dir=$1 pc
    shift
    mkdir -p "$dir"
    for pc in "$@"; do
        ln -s "$pc" "$dir/"
    done
}
only_pc "$work/pc-none"
only_pc "$work/pc-openblas" "$(pkg-config --path openblas)"

echo "-- find_package without openblas.pc"
PKG_CONFIG_LIBDIR=$work/pc-none cmake -S tests/consumer -B "$work/no-blas" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DGD_CONSUMER_LINK=shared >/dev/null
cmake --build "$work/no-blas" >/dev/null
LD_LIBRARY_PATH=$work/prefix/lib "$work/no-blas/consumer"
if PKG_CONFIG_LIBDIR=$work/pc-none cmake -S tests/consumer -B "$work/no-blas-static" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DGD_CONSUMER_LINK=static >"$work/no-blas.log" 2>&1; then
    echo "find_package(gdropout COMPONENTS static) succeeded without openblas.pc" >&2
    exit 1
fi
grep -q 'static library needs OpenBLAS' "$work/no-blas.log" ||
    { cat "$work/no-blas.log"; echo "no message naming OpenBLAS" >&2; exit 1; }
echo "   shared found and linked; static refused, naming OpenBLAS"

# vendor NAME CMAKE-ARGS...: configure, build, run and install the vendoring
# parent, then check what it built and installed.
vendor() {
    local name=$1 b=$work/$1
    shift
    PKG_CONFIG_LIBDIR=$work/pc-openblas cmake -S tests/consumer/vendor -B "$b" \
        -DCMAKE_INSTALL_PREFIX="$b/prefix" "$@" >"$b.log" 2>&1 || { cat "$b.log"; exit 1; }
    cmake --build "$b" -j "$(nproc)" >>"$b.log" 2>&1 || { cat "$b.log"; exit 1; }
    "$b/vendor_shared" >/dev/null
    "$b/vendor_static" >/dev/null
    cmake --install "$b" >/dev/null
    # Built: the two programs and the two libraries, nothing else.
    local built
    built=$(cd "$b" && find . -path ./prefix -prune -o -path '*/CMakeFiles' -prune -o -path './_deps/*-src' -prune \
        -o -path './_deps/*-subbuild' -prune -o -type f \
        \( -perm -u+x -o -name '*.a' -o -name '*.so*' \) -print | sed 's|.*/||' | sort | tr '\n' ' ')
    # (the .so and .so.1 names are symlinks)
    if [ "$built" != "libgdropout.a libgdropout.so.$version vendor_shared vendor_static " ]; then
        echo "$name built more than the library: $built" >&2
        exit 1
    fi
    local installed
    installed=$(sed "s|^$b/prefix/||" "$b/install_manifest.txt" | paste -sd " ")
    [ "$installed" = "bin/vendor_static" ] ||
        { echo "$name installed more than its own program: $installed" >&2; exit 1; }
    if grep -rq -- '-Werror' "$b"/gdropout/src/CMakeFiles/*/flags.make "$b"/_deps/*-build/src/CMakeFiles/*/flags.make 2>/dev/null; then
        echo "$name: the vendored library is compiled with -Werror" >&2
        exit 1
    fi
    grep -q '^CMAKE_BUILD_TYPE:STRING=Debug$' "$b/CMakeCache.txt" ||
        { echo "$name: the parent's build type was changed" >&2; exit 1; }
    echo "   $name: built $built; installed $installed"
}
version=$(sed -n 's/^project(gdropout VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

echo "-- vendored: add_subdirectory (pkg-config sees only openblas.pc)"
vendor add_subdirectory -DGD_VENDOR_SOURCE="$top"

echo "-- vendored: FetchContent of the release tarball"
ref=$(git stash create)
# sed, not head: head exits after one line, and the second line then
# kills scripts/release with SIGPIPE, which pipefail makes a failure.
tarball=$(scripts/release tarball --out "$work/release" "${ref:-HEAD}" | sed -n 1p)
vendor fetchcontent -DGD_VENDOR_URL="file://$tarball" \
    -DGD_VENDOR_SHA256="$(sha256sum "$tarball" | cut -d' ' -f1)"
echo "-- consumers ok"
