# Sourced by the encoder's scripts (pretrain-base.sh, run-experiment.sh):
# where the build is, and how OpenBLAS must run here.  Sets top, build (the
# scripts/dev build root: BUILD_DIR, default build), enc (the encoder binary,
# built against the install in $build/prefix by scripts/dev demo or
# experiment) and exports OPENBLAS_CORETYPE.  No LD_LIBRARY_PATH: the encoder
# finds the installed libgdropout by its own RUNPATH, which scripts/dev checks.
# shellcheck shell=bash
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
enc=$build/examples/encoder/encoder
[ -x "$enc" ] || { echo "$0: $enc not built (run scripts/dev demo first)" >&2; exit 1; }
# shellcheck source=scripts/openblas-core.sh
. "$top/scripts/openblas-core.sh"
