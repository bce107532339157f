#!/usr/bin/env bash
# Records N runs of `bench/run.sh --reps 7` (default 3), each under
# scripts/record-result into bench/results/runs/<UTC date-time>.md, a
# minute apart so that each meets the host in its own stretch; then
# regenerates bench/results/speed.md and the documents that paste it.
#   bench/record-runs.sh [N]
# Run it on an idle host (nothing else of yours running: the benchmark is
# one thread, but the other CPU's traffic shares the memory), before a
# change to the library's machine code as well as after: every such change
# starts the ranges again (bench/README.md, "Recording runs").
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
case $n in
'' | *[!0-9]* | 0) echo "record-runs.sh: N must be a whole number of runs, 1 or more, not '$n'" >&2; exit 2 ;;
esac
for ((i = 1; i <= n; i++)); do
    out=bench/results/runs/$(date -u +%Y-%m-%d-%H%M).md
    # two runs in one minute would share a name: wait for the next one
    while [ -e "$out" ]; do
        sleep 5
        out=bench/results/runs/$(date -u +%Y-%m-%d-%H%M).md
    done
    scripts/record-result "$out" -- bench/run.sh --reps 7 >/dev/null
    echo "record-runs.sh: run $i of $n: $out ($(grep -m1 '^### Goals missed' "$out" | sed 's/^### //'))"
    if [ "$i" -lt "$n" ]; then sleep 60; fi
done
/usr/bin/python3 bench/summarize.py
scripts/paste-results README.md bench/README.md docs/RESULTS.md
