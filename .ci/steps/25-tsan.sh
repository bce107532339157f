#!/usr/bin/env bash
# The whole test suite under ThreadSanitizer (test_threads* run kernels,
# Fisher and plan objects from several threads at once).  A separate build
# directory, gcc, -O1 -g: gcc links libtsan into the shared object as well,
# which its -z defs link needs (clang leaves sanitizer runtimes out of shared
# objects).  OpenBLAS is held to one thread: its own worker threads are not
# ours to check, and TSan cannot see through their hand-written locking.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps

build="build-tsan"
flags="-fsanitize=thread -g -O1 -fno-omit-frame-pointer"
CC=gcc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_BUILD_TOOLS=OFF \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
cmake --build "$build" -j "$(nproc)"
# halt_on_error: the first race fails the test; second_deadlock_stack for
# readable lock-order reports.
# GD_TEST_QUICK=1: the statistical kernel tests on 2^16 instead of 2^20
# elements (same assertions), as under valgrind; TSan is ~10x slower.
GD_TEST_QUICK=1 OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66" \
    ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
