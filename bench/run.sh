#!/usr/bin/env bash
# Builds the benchmark (-DGD_BUILD_BENCH=ON, Release) and runs it; then, if
# Debian's /usr/bin/python3 can import torch, times the same ops in PyTorch in
# the same session and prints torch / gdropout ratios; then (not with
# --quick) times the example encoder's whole Fisher pass in sequences per
# second; and ends with the goals missed (bench/goals.tsv, bench/goals.py).
#   bench/run.sh [--no-torch] [gd_bench options]      e.g. bench/run.sh --quick
# --no-torch skips the PyTorch comparison (on a loaded machine its 16M
# dropout alone can take minutes).
# Environment: BUILD_DIR (default build-bench), FISHER_FRACTION (share of
# the encoder's corpus in its Fisher pass, default 0.005).  An inherited
# OPENBLAS_CORETYPE is replaced by scripts/openblas-core.sh's choice.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
quick=0 torch=1 args=()
for a in "$@"; do
    case $a in
    --no-torch) torch=0 ;;
    *) args+=("$a"); [ "$a" = --quick ] && quick=1 ;;
    esac
done
# The encoder's Fisher pass needs WordNet's glosses (Debian's wordnet-base).
encoder=0
[ $quick -eq 0 ] && [ -f /usr/share/wordnet/data.noun ] && encoder=1
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGD_BUILD_BENCH=ON -DGD_BUILD_TESTS=OFF \
    -DGD_BUILD_EXAMPLES=$([ $encoder -eq 1 ] && echo ON || echo OFF) >/dev/null
cmake --build "$build" -j "$(nproc)" --target gd_bench >/dev/null
[ $encoder -eq 0 ] || cmake --build "$build" -j "$(nproc)" --target encoder >/dev/null
echo "machine: $(lscpu | awk '/^Model name:/ && !n++ { sub(/^Model name: */, ""); print }'), $(nproc) CPUs"
echo "command: bench/run.sh $*"
# What was measured (bench/digest.sh): the committed sources, and the
# machine code built from them, by which bench/summarize.py ranges the runs.
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "source: $(bench/digest.sh source) ($(git rev-parse --short HEAD))"
else
    echo "source: unknown (not a git checkout)"
fi
with=()
[ $encoder -eq 0 ] || with=(encoder)
code=$(bench/digest.sh code "$build" "${with[@]}")
echo "code: $code"
# The Fisher rows' floor is one sgemm of OpenBLAS's best kernels for this
# CPU, whatever core the session's environment chose (this machine kind
# exports OPENBLAS_CORETYPE=Haswell, whose sgemm takes 1.9x the SkylakeX
# kernels' time here); the host line says which core ran.
unset OPENBLAS_CORETYPE
# shellcheck source=scripts/openblas-core.sh
. scripts/openblas-core.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bench/gd_bench" --tsv "$work/gd.tsv" "${args[@]}" | tee "$work/out.md"
if [ $torch -eq 0 ]; then
    echo
    echo "(PyTorch comparison skipped: --no-torch)"
elif [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 bench/torch_bench.py "$work/gd.tsv"
else
    echo
    echo "(PyTorch comparison skipped: /usr/bin/python3 cannot import torch;"
    echo " apt-get install python3-torch to enable it)"
fi
if [ $encoder -eq 1 ]; then
    # The whole pass as a user runs it (forward, backward, every tensor's
    # Fisher), one thread, on the committed pretrained encoder; the rate is
    # the last progress line's sequences over its seconds (the loop alone,
    # not loading or saving).
    frac=${FISHER_FRACTION:-0.005}
    TIMEFORMAT='%U %S'
    { time OPENBLAS_NUM_THREADS=1 "$build/examples/encoder/encoder" fisher \
        --ckpt examples/encoder/pretrained --fraction "$frac" --threads 1 --log-every 1000000 \
        --out "$work/f.safetensors" --plan "$work/g.plan" --sites "$work/s.tsv" \
        >"$work/enc.txt"; } 2>"$work/enc-cpu.txt"
    echo
    echo "### encoder: the example encoder's whole Fisher pass (encoder fisher, one thread)"
    echo
    line=$(sed -n 's/^ *\([0-9]*\)\/[0-9]* sequences *\([0-9.]*\) s.*/\1 \2/p' "$work/enc.txt" | tail -1)
    read -r seqs wall <<<"$line"
    read -r user sys < <(tail -1 "$work/enc-cpu.txt")
    awk -v f="$frac" -v n="$seqs" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
        printf "encoder fisher --ckpt examples/encoder/pretrained --fraction %s: %d sequences; " \
               "the loop %.2f s wall, %.1f sequences/s; the whole process %.2f CPU s " \
               "(loading and saving included), %.1f sequences per CPU second\n",
               f, n, w, n / w, u + s, n / (u + s) }'
fi
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 bench/goals.py "$work/out.md"
fi
