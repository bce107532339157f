#!/usr/bin/env bash
# The benchmark:
#   1. built and run in quick mode: a smoke test that it builds, runs, times
#      the generator alone, records the host (kernel family, OpenBLAS core,
#      memory bandwidth) and checks the two-thread split bit for bit; it
#      prints the goals missed (bench/goals.tsv) for the log, but no speed
#      threshold fails CI (the machines are shared and noisy); no PyTorch (too
#      big to install here);
#   2. bench/results/speed.md, the README's Speed table, is what
#      bench/summarize.py makes of the committed runs in bench/results/runs/,
#      and bench/README.md's copy of it is current (the README's is checked
#      by 05-results.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs python3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
BUILD_DIR=build-ci-bench timeout 300 bench/run.sh --quick --no-torch | tee "$out"
grep -q 'bitwise the same' "$out"
grep -q '^| generator: Philox words of n elements |' "$out" || {
    echo "no generator row in the bench output"
    exit 1
}
grep -q '^host: kernel family `[a-z0-9]*`; OpenBLAS core `[A-Za-z0-9]*`' "$out" &&
    grep -q '^memory: scale loop .* GB/s$' "$out" || {
    echo "the bench output does not record its host"
    exit 1
}
grep -Eq '^source: [0-9a-f]{12} \([0-9a-f]+\)$' "$out" || {
    echo "the bench output does not record the source it measured (a clean checkout)"
    exit 1
}
grep -Eq '^code: [0-9a-f]{12}$' "$out" || {
    echo "the bench output does not record the machine code it measured"
    exit 1
}
grep -q '^### Goals missed (bench/goals.tsv): ' "$out" || {
    echo "the bench output does not end with the goals missed"
    exit 1
}
/usr/bin/python3 bench/summarize.py --check
scripts/paste-results --check bench/README.md
