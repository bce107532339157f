#!/usr/bin/env bash
# Downstream builds against an INSTALLED prefix (not the source tree):
# find_package(gdropout 1) with the shared and the static target, pkg-config
# shared and --static (the archive must pull OpenBLAS itself), and the
# umbrella header compiled as C++11 with -pedantic -Werror.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs g++
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
tests/consumer/run.sh "$work/prefix" "$work/consumer"
# The same against clang, when it is there, for the C side.
if command -v clang >/dev/null; then
    CC=clang tests/consumer/run.sh "$work/prefix" "$work/consumer-clang" >/dev/null
    echo "-- consumers ok with clang too"
fi
