#!/usr/bin/env bash
# The encoder experiment's --quick mode (issue 11): a tiny encoder pretrained
# for 300 steps, its MLM Fisher and plan (read back with gdropout-plan), the
# selection on validation, 2 seeds x 2 tasks x every regime, the TF-IDF
# baseline and the report; fails unless every regime produced rows and the
# report names them.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs wordnet-base python3-numpy python3-scipy python3-sklearn python3-matplotlib
build=build-ci-experiment
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$PWD/$build/prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
cmake --install "$build" >/dev/null
cmake -S examples -B "$build/examples" -DCMAKE_PREFIX_PATH="$PWD/$build/prefix" >/dev/null
cmake --build "$build/examples" -j "$(nproc)" --target encoder >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
BUILD_DIR=$build examples/encoder/run-experiment.sh --quick --out "$out"
for r in none standard gaussian guided matched scratch tfidf-lr; do
    n=$(cat "$out"/results-*.tsv | awk -F'\t' -v r=$r '$4 == r' | wc -l)
    [ "$n" -ge 4 ] || { echo "regime $r: $n rows, want 2 seeds x 2 tasks"; exit 1; }
    grep -q "$r" "$out/results.md" || { echo "the report does not mention $r"; exit 1; }
done
echo "encoder experiment --quick OK in $((SECONDS - start)) s"
