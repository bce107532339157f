#!/usr/bin/env bash
# Builds and runs the consumer against an INSTALLED libgdropout, every way a
# downstream project would: CMake package (shared and static), pkg-config
# (shared and static), and a C++ compile of the umbrella header.
#   tests/consumer/run.sh <prefix> <scratch dir>
# With prefix /usr the system copy (the Debian packages) is used as is.
set -euo pipefail
prefix=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"

if [ "$prefix" != /usr ]; then
    libdir=$(dirname "$(find "$prefix" -name 'libgdropout.so.1' -print -quit)")
    export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    cmake_prefix=(-DCMAKE_PREFIX_PATH="$prefix")
else
    cmake_prefix=()
fi
cc=${CC:-cc}
cxx=${CXX:-g++}
warn=(-std=c11 -Wall -Wextra -Wpedantic -Werror)

# A static binary must not ask the loader for libgdropout.so.
no_shared_gdropout() {
    if readelf -d "$1" | grep 'NEEDED.*libgdropout' >/dev/null; then
        echo "$1 links libgdropout.so although it asked for the archive" >&2
        exit 1
    fi
}

echo "-- CMake: find_package(gdropout 1 REQUIRED)"
cmake -S "$here" -B "$work/cmake" "${cmake_prefix[@]}" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"
no_shared_gdropout "$work/cmake/consumer_static"
"$work/cmake/consumer_static"

echo "-- pkg-config, shared: $(pkg-config --libs gdropout)"
# shellcheck disable=SC2046
$cc "${warn[@]}" "$here/main.c" -o "$work/pc_shared" $(pkg-config --cflags --libs gdropout)
"$work/pc_shared"

# The archive by name, then every private dependency pkg-config lists.
static_libs=$(pkg-config --static --libs gdropout | sed 's/-lgdropout\b/-l:libgdropout.a/')
echo "-- pkg-config, static: $static_libs"
# shellcheck disable=SC2046,SC2086
$cc "${warn[@]}" "$here/main.c" -o "$work/pc_static" $(pkg-config --cflags gdropout) $static_libs
no_shared_gdropout "$work/pc_static"
"$work/pc_static"

echo "-- C++: $cxx -std=c++11 -pedantic -Werror on <gdropout/gdropout.h>"
# shellcheck disable=SC2046
$cxx -std=c++11 -Wall -Wextra -Werror -pedantic "$here/header.cpp" -o "$work/header_cpp" \
    $(pkg-config --cflags --libs gdropout)
"$work/header_cpp"
echo "-- consumers ok"
