# Sourced by the scripts that time or run sgemm (bench/run.sh,
# bench/encoder_speed.sh, examples/encoder/env.sh): exports
# OPENBLAS_CORETYPE, unless the caller set it, to the kernels this CPU runs
# best.  Debian 12's OpenBLAS 0.3.21 does not know every recent CPU: it
# takes AVX-512 Xeons of family 6 model 207 for a Prescott, whose SSE3
# sgemm is 4x slower (on AMD Zen 5 it picks Cooperlake, the SkylakeX sgemm).
# A caller's choice stands: the encoder's results are bit-reproducible only
# on one core, and bench/run.sh unsets it first (this machine kind exports
# Haswell, whose AVX2 sgemm took 1.9x SkylakeX's time: bench/README.md
# round 10).  The reports record the core used.
# shellcheck shell=bash
# SkylakeX's kernels use AVX-512 F, BW, DQ and VL (a Xeon Phi has F alone).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
    has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
    if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
        export OPENBLAS_CORETYPE=SkylakeX
    elif has avx2 && has fma; then
        export OPENBLAS_CORETYPE=Haswell
    fi
    unset -f has
    unset flags
fi
