#!/usr/bin/env bash
# The whole ctest suite under valgrind memcheck: any invalid access, use of
# uninitialised memory, or definite/indirect leak fails the test it is in.
#
# Every test runs through valgrind as CMake's test launcher
# (CMAKE_CROSSCOMPILING_EMULATOR applies to add_test even for a native build),
# so ctest keeps each test's environment (CK_FORK=no, GDROPOUT_DISPATCH=...).
# GD_TEST_QUICK=1 shrinks the few slow tests instead of skipping them.
# tests/valgrind.supp holds only suppressions for OpenBLAS's own internals.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs valgrind

build="build-valgrind"
vg="valgrind;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite,indirect"
vg="$vg;--show-leak-kinds=definite,indirect;--track-origins=yes;--num-callers=30"
vg="$vg;--suppressions=$PWD/tests/valgrind.supp;--gen-suppressions=all"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_BUILD_TOOLS=OFF \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=$vg" >/dev/null
cmake --build "$build" -j "$(nproc)"
# OpenBLAS's worker threads are serialised by valgrind anyway; one thread
# keeps the run short and deterministic.
# test_kernels runs once per dispatch level.  valgrind implements no
# AVX-512 and hides it from cpuid, so under valgrind the default run and the
# avx512-capped run both pick the avx2 family: they would repeat
# test_kernels_avx2 exactly, and are left out here (they run natively, under
# ASan and under TSan).
GD_TEST_QUICK=1 OPENBLAS_NUM_THREADS=1 \
    ctest --test-dir "$build" --output-on-failure -j "$(nproc)" --timeout 600 \
    -E '^test_kernels(_avx512)?$'
