#!/usr/bin/env bash
# Builds and runs the benchmark in quick mode: a smoke test that it builds,
# runs and checks the two-thread split bit for bit.  No speed thresholds (CI
# machines are shared and noisy); no PyTorch (too big to install here).
set -euo pipefail
cd "$(dirname "$0")/../.."
for p in build-essential cmake pkgconf libopenblas-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing=1
done
if [ -n "${missing:-}" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        build-essential cmake pkgconf libopenblas-dev
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
BUILD_DIR=build-ci-bench timeout 300 bench/run.sh --quick | tee "$out"
grep -q 'bitwise the same' "$out"
