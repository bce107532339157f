#!/usr/bin/env bash
# The benchmark:
#   1. built and run in quick mode: a smoke test that it builds, runs, times
#      the generator alone and checks the two-thread split bit for bit.  No
#      speed thresholds (CI machines are shared and noisy); no PyTorch (too
#      big to install here);
#   2. bench/results/speed.md, the README's Speed table, is what
#      bench/summarize.py makes of the committed runs in bench/results/runs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs python3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
BUILD_DIR=build-ci-bench timeout 300 bench/run.sh --quick | tee "$out"
grep -q 'bitwise the same' "$out"
grep -q '^| generator: Philox words of n elements |' "$out" || {
    echo "no generator row in the bench output"
    exit 1
}
/usr/bin/python3 bench/summarize.py --check
