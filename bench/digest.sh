#!/usr/bin/env bash
# What a benchmark run measured, as two digests (12 hex digits each):
#   bench/digest.sh source [REV]   the committed library, build and benchmark
#                                  sources at REV (default HEAD, then marked
#                                  "with uncommitted changes" if the work
#                                  tree's differ)
#   bench/digest.sh code DIR [encoder]
#                                  the machine code built in DIR: .text and
#                                  .rodata of gd_bench (which holds the
#                                  library's) and, with "encoder", of the
#                                  example encoder and libgdropout.so
#   bench/digest.sh commit REV     builds REV as bench/run.sh does, in a
#                                  temporary worktree, and prints
#                                  "REV<tab>code" (a line of
#                                  bench/results/codes.tsv)
# bench/summarize.py ranges the runs of the newest run's code.  A change to
# a comment or a document moves the source digest but not the code one, so
# it no longer restarts the ranges; a change that reaches the compiled code
# (or another compiler) does.  The build is reproducible: the digest does
# not depend on the build directory's path.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=(src include CMakeLists.txt bench/gd_bench.c bench/timing.c bench/timing.h bench/baselines.c bench/run.sh)
tmp='' tree=''
cleanup() {
    [ -z "$tmp" ] || rm -f "$tmp"
    [ -z "$tree" ] || { git worktree remove --force "$tree" >/dev/null 2>&1; rm -rf "$tree"; }
}
trap cleanup EXIT

usage() {
    sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

source_digest() {
    local list
    list=$(git ls-tree -r "$1" -- "${SOURCES[@]}") && [ -n "$list" ] ||
        { echo "digest.sh: no sources at $1" >&2; exit 1; }
    printf '%s\n' "$list" | sha1sum | cut -c1-12
}

code_digest() {
    local dir=$1 lib f files
    # gd_bench links the static library, so its code holds the kernels it
    # times; the encoder links the shared one
    [ -x "$dir/bench/gd_bench" ] || { echo "digest.sh: no $dir/bench/gd_bench" >&2; exit 1; }
    files=("$dir/bench/gd_bench")
    if [ "${2:-}" = encoder ]; then
        lib=$(readlink -f "$dir/src/libgdropout.so" 2>/dev/null) && [ -f "$lib" ] &&
            [ -x "$dir/examples/encoder/encoder" ] ||
            { echo "digest.sh: no encoder and libgdropout.so built in $dir" >&2; exit 1; }
        files+=("$dir/examples/encoder/encoder" "$lib")
    fi
    tmp=$(mktemp)
    for f in "${files[@]}"; do
        objcopy -O binary --only-section=.text --only-section=.rodata "$f" "$tmp"
        printf '%s %s\n' "$(sha1sum <"$tmp" | cut -c1-40)" "${f##*/}"
    done | sha1sum | cut -c1-12
}

commit_code() {
    local rev
    rev=$(git rev-parse --short "$1")
    tree=$(mktemp -d)
    git worktree add --detach "$tree" "$rev" >/dev/null 2>&1
    cmake -S "$tree" -B "$tree/b" -DCMAKE_BUILD_TYPE=Release -DGD_BUILD_BENCH=ON \
        -DGD_BUILD_TESTS=OFF -DGD_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$tree/b" -j "$(nproc)" --target gd_bench encoder >/dev/null
    printf '%s\t%s\n' "$rev" "$(code_digest "$tree/b" encoder)"
}

case ${1:-} in
source)
    [ $# -le 2 ] || usage
    if [ $# -eq 2 ]; then
        source_digest "$2"
    else
        dirty=$(git diff --quiet HEAD -- "${SOURCES[@]}" || echo " with uncommitted changes")
        echo "$(source_digest HEAD)$dirty"
    fi
    ;;
code)
    [ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$3" = encoder ]; } || usage
    code_digest "$2" "${3:-}"
    ;;
commit) [ $# -eq 2 ] || usage; commit_code "$2" ;;
*) usage ;;
esac
