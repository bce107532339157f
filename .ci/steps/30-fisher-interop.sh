#!/usr/bin/env bash
# Fisher files against Debian's json + numpy, and the gdropout-plan tool:
# the interop test skips itself without numpy, so here numpy is installed and
# a skip is a failure.  The same for a host's sgemm against a second BLAS:
# BLIS (libblis-dev, beside OpenBLAS, which stays the system default).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs python3 python3-numpy libblis-dev
cmake -S . -B build-interop -DGD_PYTHON3=/usr/bin/python3 >/dev/null
cmake --build build-interop -j "$(nproc)" --target gdropout-plan write_fisher_fixture \
    test_fisher_sgemm
log=$(ctest --test-dir build-interop \
    -R 'fisher_fixture|test_plan_tool|test_safetensors_python|test_fisher_sgemm_blis' \
    --output-on-failure 2>&1) || { echo "$log"; exit 1; }
echo "$log" | tail -3
if grep -q 'Skipped\|Not Run' <<<"$log"; then
    echo "interop test skipped although numpy and BLIS are installed" >&2
    exit 1
fi
