#!/usr/bin/env bash
# The encoder experiment's --quick mode: a tiny encoder pretrained for 300
# steps, its MLM Fisher and plan (read back with gdropout-plan), the rate
# sweep and the rates chosen on validation, 2 seeds x 2 tasks x every regime
# and control, the TF-IDF baseline and the report; fails unless every regime
# produced rows with their training loss and best step, the report names
# them, and every run's progress line was shown.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs wordnet-base python3-numpy python3-scipy python3-sklearn python3-matplotlib
# --help answers before anything is built, and gives the full run's time.
BUILD_DIR=/nonexistent examples/encoder/run-experiment.sh --help | grep 'The full run: ' >/dev/null ||
    { echo "run-experiment.sh --help: no usage without a build, or no time for the full run"; exit 1; }
build=build-ci-experiment
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$PWD/$build/prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
cmake --install "$build" >/dev/null
cmake -S examples -B "$build/examples" -DCMAKE_PREFIX_PATH="$PWD/$build/prefix" >/dev/null
cmake --build "$build/examples" -j "$(nproc)" --target encoder >/dev/null
out=$(mktemp -d) log=$(mktemp)
trap 'rm -rf "$out" "$log"' EXIT
start=$SECONDS
BUILD_DIR=$build examples/encoder/run-experiment.sh --quick --out "$out" | tee "$log"
rows=("$out"/sweep-*.tsv "$out"/chosen-*.tsv "$out"/results-tfidf.tsv)
# Progress: a '[k/N]' line per fine-tuning run, from both processes of each
# grid (it once showed one process's).
runs=$(cat "$out"/sweep-*.tsv "$out"/chosen-*.tsv $(ls "$out"/edge-*.tsv 2>/dev/null) | grep -vc '^task')
lines=$(grep -c '^\[[0-9]*/[0-9]*\] ' "$log" || true)
[ "$lines" -eq "$runs" ] || { echo "$lines progress lines for $runs fine-tuning runs"; exit 1; }
for r in none standard gaussian guided matched reversed permuted kind scratch tfidf-lr; do
    n=$(cat "${rows[@]}" | awk -F'\t' -v r=$r '$4 == r' | wc -l)
    [ "$n" -ge 4 ] || { echo "regime $r: $n rows, want 2 seeds x 2 tasks"; exit 1; }
    grep -q "$r" "$out/results.md" || { echo "the report does not mention $r"; exit 1; }
done
# every fine-tuning row: steps run, a best step within them, a finite loss
awk -F'\t' '$1 != "task" && $4 != "tfidf-lr" && !($8 > 0 && $10 > 0 && $10 <= $8 && $11 == $11 + 0) {
    print "bad row: " $0; bad = 1 } END { exit bad }' "${rows[@]}"
grep -q 'standard' "$out/selection.tsv" || { echo "selection.tsv names no candidates"; exit 1; }
echo "encoder experiment --quick OK in $((SECONDS - start)) s"
