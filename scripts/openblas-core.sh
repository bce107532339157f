# Sourced by the scripts that time or run sgemm (bench/run.sh,
# bench/encoder_speed.sh, examples/encoder/env.sh): exports
# OPENBLAS_CORETYPE, unless the caller set it, to the kernels this CPU runs
# best.  Debian 12's OpenBLAS 0.3.21 does not know recent CPUs: it takes
# AVX-512 Xeons (family 6 model 207) for a Prescott, whose SSE3 sgemm is
# 4x slower, and AMD Zen 5 (family 26) for a Haswell, whose AVX2 sgemm
# took 1.9x the SkylakeX kernels' time at 512 x 1024 by 512 x 1024
# (2026-12-07, bench/README.md round 10).  The reports record the core used.
# shellcheck shell=bash
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then
        export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then
        export OPENBLAS_CORETYPE=Haswell
    fi
fi
