#!/usr/bin/env bash
# The Rust binding (bindings/rust): gdropout-sys's build.rs finds an
# installed libgdropout through pkg-config (PKG_CONFIG_PATH at a temporary
# prefix); its test parses include/gdropout/*.h and fails on any declaration,
# parameter type or constant that diverges; the safe crate's tests check the
# kernels against an independent Rust Philox + drop rule, Fisher and Plan
# against f64 sums, and Send/!Sync at compile time.  Then once more linked
# statically (GDROPOUT_STATIC=1), with readelf proving it.  Offline, no
# crates, warnings denied; Rust 1.63 (Debian 12's rustc) suffices.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
command -v cargo >/dev/null || need_pkgs cargo rustc
cargo --version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name libgdropout.so.1 -print -quit)")

cd bindings/rust
export PKG_CONFIG_PATH="$libdir/pkgconfig" RUSTFLAGS="-D warnings" CARGO_TARGET_DIR="$work/target"
export CARGO_NET_OFFLINE=true
# Show only the summaries, or everything when it fails.
run() {
    local log=$work/cargo.log
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        exit 1
    fi
    grep -E '^test result|^warning' "$log"
}
echo "-- cargo test (shared, PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
LD_LIBRARY_PATH="$libdir" run cargo test --offline --workspace

echo "-- cargo test (static, GDROPOUT_STATIC=1)"
GDROPOUT_STATIC=1 CARGO_TARGET_DIR="$work/target-static" run cargo test --offline -p gdropout
for t in "$work"/target-static/debug/deps/kernels-*; do
    [ -x "$t" ] || continue
    if readelf -d "$t" | grep -q 'NEEDED.*libgdropout'; then
        echo "static test binary $t needs libgdropout.so" >&2
        exit 1
    fi
done
rm -f Cargo.lock
echo "-- rust ok"
