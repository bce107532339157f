#!/usr/bin/env bash
# The Rust binding (bindings/rust): gdropout-sys's build.rs finds an
# installed libgdropout through pkg-config; its test parses
# include/gdropout/*.h and fails on any declaration, parameter type or
# constant that diverges; the safe crate's tests check the kernels against
# an independent Rust Philox + drop rule, Fisher and Plan against f64 sums,
# and Send/!Sync at compile time.  Each run is made twice, linked to the
# shared object and statically (GDROPOUT_STATIC=1, readelf proving that no
# libgdropout.so is needed):
#   bash .ci/steps/70-rust.sh            against a temporary CMake prefix
#                                        (PKG_CONFIG_PATH), then `cargo
#                                        package` of both crates
#   bash .ci/steps/70-rust.sh --system   against /usr, the installed Debian
#                                        packages (80-debian.sh runs this)
# Offline, no crates, warnings denied; Rust 1.63 (Debian 12's rustc) suffices.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
system=0
[ "${1:-}" = --system ] && system=1
[ $system = 1 ] || need_build_deps
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
command -v cargo >/dev/null || need_pkgs cargo rustc
cargo --version
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$OLDPWD/bindings/rust/Cargo.lock"' EXIT

if [ $system = 1 ]; then
    where=/usr
    dpkg-query -W libgdropout-dev >/dev/null || { echo "libgdropout-dev is not installed" >&2; exit 1; }
    unset PKG_CONFIG_PATH
    libdir=$(pkg-config --variable=libdir gdropout)
else
    cmake -S . -B "$work/build" -DGD_BUILD_TESTS=OFF -DGD_BUILD_MAN=OFF \
        -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
    cmake --build "$work/build" -j "$(nproc)" >/dev/null
    cmake --install "$work/build" >/dev/null
    libdir=$(dirname "$(find "$work/prefix" -name libgdropout.so.1 -print -quit)")
    where=$work/prefix
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
fi

cd bindings/rust
export RUSTFLAGS="-D warnings" CARGO_NET_OFFLINE=true
# Show only the summaries, or everything when it fails.
run() {
    local log=$work/cargo.log
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        exit 1
    fi
    grep -E '^test result|^warning' "$log" || true
}
echo "-- cargo test, shared, against $where (libdir $libdir)"
if [ $system = 1 ]; then
    CARGO_TARGET_DIR="$work/target" run cargo test --offline --workspace
else
    LD_LIBRARY_PATH="$libdir" CARGO_TARGET_DIR="$work/target" run cargo test --offline --workspace
fi
for t in "$work"/target/debug/deps/kernels-*; do
    [ -x "$t" ] || continue
    readelf -d "$t" | grep 'NEEDED.*libgdropout\.so\.1' >/dev/null ||
        { echo "shared test binary $t does not need libgdropout.so.1" >&2; exit 1; }
done

echo "-- cargo test, static (GDROPOUT_STATIC=1), against $where"
GDROPOUT_STATIC=1 CARGO_TARGET_DIR="$work/target-static" run cargo test --offline -p gdropout
n=0
for t in "$work"/target-static/debug/deps/kernels-*; do
    [ -x "$t" ] || continue
    n=$((n + 1))
    if readelf -d "$t" | grep 'NEEDED.*libgdropout' >/dev/null; then
        echo "static test binary $t needs libgdropout.so" >&2
        exit 1
    fi
done
[ $n -gt 0 ] || { echo "no static test binary found" >&2; exit 1; }

if [ $system = 0 ]; then
    # Both crates as crates.io would get them, built from the .crate files,
    # warnings (missing metadata included) fatal.  Offline, the safe crate's
    # gdropout-sys dependency resolves from a local directory source holding
    # the packaged gdropout-sys.
    echo "-- cargo package"
    export CARGO_TARGET_DIR="$work/target-package"
    pkg() {
        local log=$work/package.log
        if ! "$@" >"$log" 2>&1 || grep -E '^warning' "$log"; then
            cat "$log"
            echo "cargo package is not clean (above)" >&2
            exit 1
        fi
    }
    pkg cargo package --offline --allow-dirty -p gdropout-sys
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' gdropout-sys/Cargo.toml)
    vendor=$work/vendor/gdropout-sys-$version
    mkdir -p "$vendor"
    tar -xzf "$CARGO_TARGET_DIR/package/gdropout-sys-$version.crate" -C "$vendor" --strip-components=1
    printf '{"files":{},"package":"%s"}\n' \
        "$(sha256sum "$CARGO_TARGET_DIR/package/gdropout-sys-$version.crate" | cut -d' ' -f1)" \
        >"$vendor/.cargo-checksum.json"
    mkdir -p "$work/cargo-home"
    cat >"$work/cargo-home/config.toml" <<TOML
[source.crates-io]
replace-with = "local"
[source.local]
directory = "$work/vendor"
TOML
    CARGO_HOME=$work/cargo-home pkg cargo package --offline --allow-dirty -p gdropout
    ls "$CARGO_TARGET_DIR"/package/*.crate | sed 's/^/   /'
fi
echo "-- rust ok"
