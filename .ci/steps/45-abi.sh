#!/usr/bin/env bash
# The ABI guard of libgdropout.so.1.
#   1. abidiff against the committed v1 baseline (lib/abi/gdropout-1.abi),
#      limited to what the public headers declare; added symbols are fine,
#      any other change fails;
#   2. the dynamic symbol table: only gd_* functions, each versioned
#      @@GDROPOUT_1 (or a later GDROPOUT_1.x node), and exactly the map's;
#   3. every GD_API function of the headers is in lib/gdropout.map and vice
#      versa;
#   4. SONAME is libgdropout.so.1;
#   5. tests/abi/v1_consumer.c, compiled against the headers alone (with the
#      generated <gdropout/version.h>), runs against the freshly built shared
#      library;
#   6. the frozen node: the GDROPOUT_1 symbols are exactly the baseline's, and
#      every baseline symbol is exported in the same node (an addition placed
#      in GDROPOUT_1 instead of a new node fails here, abidiff allows it);
#   7. debian/libgdropout1.symbols lists exactly the exported symbols, each
#      with its node;
#   8. a 1.1 consumer: tests/test_fisher_sgemm.c (gd_fisher_set_sgemm) linked
#      to the shared library binds GDROPOUT_1.1 and passes;
#   9. a 1.2 consumer: tests/abi/v1_2_consumer.c (the _ex kernels of
#      <gdropout/mixed.h>) binds GDROPOUT_1.2 and passes.
#
# `bash .ci/steps/45-abi.sh --update-baseline` rewrites the baseline from
# this build instead of checking it (CONTRIBUTING.md, "Adding to the ABI":
# only for a deliberate, compatible addition in a new version node).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs abigail-tools binutils

build="build-abi"
baseline=lib/abi/gdropout-1.abi
map=lib/gdropout.map
# Debug info for abidw/abidiff; gcc as in the default build.
CC=gcc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_BUILD_TESTS=OFF \
    -DGD_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target gdropout
lib=$(readlink -f "$build/src/libgdropout.so")

if [ "${1:-}" = "--update-baseline" ]; then
    abidw --headers-dir include/gdropout --drop-private-types --no-corpus-path \
        --no-comp-dir-path --short-locs --out-file "$baseline" "$lib"
    echo "wrote $baseline from $lib"
    exit 0
fi

fail=0
problem() { echo "ABI: $*" >&2; fail=1; }

# 1. abidiff.  Exit status bits: 1 error, 2 usage, 4 change, 8 incompatible.
[ -f "$baseline" ] || { echo "ABI: missing baseline $baseline" >&2; exit 1; }
set +e
abidiff --no-added-syms --fail-no-debug-info --headers-dir2 include/gdropout \
    "$baseline" "$lib" >"$build/abidiff.txt" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    cat "$build/abidiff.txt" >&2
    problem "abidiff against $baseline: status $rc (4 = change, 8 = incompatible change)"
fi

# 2. the dynamic symbol table.
nm -D --defined-only "$lib" >"$build/dynsym.txt"
# Version-node markers (absolute symbols named like the nodes) are fine.
exported=$(awk '$2 != "A" { print $3 }' "$build/dynsym.txt")
while read -r sym; do
    [ -n "$sym" ] || continue
    case "$sym" in
    gd_*@@GDROPOUT_1 | gd_*@@GDROPOUT_1.*) ;;
    *) problem "unexpected or unversioned dynamic symbol: $sym" ;;
    esac
done <<<"$exported"
exported_names=$(cut -d@ -f1 <<<"$exported" | sort -u)

# 3. headers vs map.  A GD_API declaration names the function before '('.
header_fns=$(cat include/gdropout/*.h | tr '\n' ' ' | grep -oE 'GD_API[^;(]*\(' |
    grep -oE 'gd_[A-Za-z0-9_]+ *\($' | tr -d ' (' | sort -u)
map_fns=$(grep -oE '^[[:space:]]*gd_[A-Za-z0-9_]+;' "$map" | tr -d ' \t;' | sort -u)
[ -n "$header_fns" ] || problem "no GD_API function found in include/gdropout/*.h"
while read -r f; do problem "declared GD_API but not in $map: $f"; done \
    < <(comm -23 <(echo "$header_fns") <(echo "$map_fns") | sed '/^$/d')
while read -r f; do problem "in $map but no GD_API declaration: $f"; done \
    < <(comm -13 <(echo "$header_fns") <(echo "$map_fns") | sed '/^$/d')
while read -r f; do problem "in $map but not exported by the library: $f"; done \
    < <(comm -23 <(echo "$map_fns") <(echo "$exported_names") | sed '/^$/d')

# 4. SONAME.
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libgdropout.so.1" ] || problem "SONAME is '$soname', not libgdropout.so.1"

# 5. the v1 consumer, against the header alone and the new shared object.
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -Iinclude -I"$build/include" tests/abi/v1_consumer.c \
    -L"$build/src" -lgdropout -lm -o "$build/v1_consumer"
if ! LD_LIBRARY_PATH="$build/src" "$build/v1_consumer"; then
    problem "v1_consumer failed against $lib"
fi
# it must bind to the versioned v1 symbols
readelf -V "$build/v1_consumer" | grep 'Name: GDROPOUT_1' >/dev/null ||
    problem "v1_consumer does not require version GDROPOUT_1"

# 6. the frozen node against the baseline.
sym_nodes() { sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1@\2/p" "$1" | sort -u; }
lib_nodes=$(sed 's/@@/@/' <<<"$exported" | sort -u)
base_nodes=$(sym_nodes "$baseline")
while read -r s; do problem "baseline symbol not exported in its node: $s"; done \
    < <(comm -23 <(echo "$base_nodes") <(echo "$lib_nodes") | sed '/^$/d')
while read -r s; do problem "added to the frozen node GDROPOUT_1 (use a new node): $s"; done \
    < <(comm -13 <(echo "$base_nodes") <(echo "$lib_nodes") | grep '@GDROPOUT_1$')

# 7. the Debian symbols file.
deb_nodes=$(awk '/^ gd_/ { print $1 }' debian/libgdropout1.symbols | sort -u)
while read -r s; do problem "exported but not in debian/libgdropout1.symbols: $s"; done \
    < <(comm -23 <(echo "$lib_nodes") <(echo "$deb_nodes") | sed '/^$/d')
while read -r s; do problem "in debian/libgdropout1.symbols but not exported: $s"; done \
    < <(comm -13 <(echo "$lib_nodes") <(echo "$deb_nodes") | sed '/^$/d')

# 8. a 1.1 consumer against the new shared object.
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -Iinclude -I"$build/include" -Itests tests/test_fisher_sgemm.c \
    -L"$build/src" -lgdropout $(pkg-config --cflags --libs check openblas) -lm \
    -o "$build/v1_1_consumer"
if ! CK_FORK=no LD_LIBRARY_PATH="$build/src" "$build/v1_1_consumer" >"$build/v1_1.txt" 2>&1; then
    cat "$build/v1_1.txt" >&2
    problem "test_fisher_sgemm failed against $lib"
fi
readelf -V "$build/v1_1_consumer" | grep 'Name: GDROPOUT_1.1' >/dev/null ||
    problem "test_fisher_sgemm does not require version GDROPOUT_1.1"

# 9. a 1.2 consumer against the new shared object.
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -Iinclude -I"$build/include" tests/abi/v1_2_consumer.c \
    -L"$build/src" -lgdropout -lm -o "$build/v1_2_consumer"
if ! LD_LIBRARY_PATH="$build/src" "$build/v1_2_consumer"; then
    problem "v1_2_consumer failed against $lib"
fi
readelf -V "$build/v1_2_consumer" | grep 'Name: GDROPOUT_1.2' >/dev/null ||
    problem "v1_2_consumer does not require version GDROPOUT_1.2"

[ $fail -eq 0 ] || exit 1
echo "ABI: $(wc -l <<<"$exported_names") symbols ($(grep -c '@GDROPOUT_1$' <<<"$lib_nodes") in the frozen GDROPOUT_1), SONAME $soname, matches $baseline and the symbols file"
