#!/usr/bin/env bash
# Builds the benchmark (-DGD_BUILD_BENCH=ON, Release) and runs it; then, if
# Debian's /usr/bin/python3 can import torch, times the same ops in PyTorch in
# the same session and prints torch / gdropout ratios.
#   bench/run.sh [gd_bench options]      e.g. bench/run.sh --quick
# Environment: BUILD_DIR (default build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGD_BUILD_BENCH=ON -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target gd_bench >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
echo "command: bench/run.sh $*"
tsv=$(mktemp)
trap 'rm -f "$tsv"' EXIT
"$build/bench/gd_bench" --tsv "$tsv" "$@"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 bench/torch_bench.py "$tsv"
else
    echo
    echo "(PyTorch comparison skipped: /usr/bin/python3 cannot import torch;"
    echo " apt-get install python3-torch to enable it)"
fi
