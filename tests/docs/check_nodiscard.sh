#!/bin/sh
# GD_NODISCARD keeps its two promises with every compiler on the machine:
# a call whose result is dropped warns (fails with -Werror), and the same
# call cast to void compiles cleanly (common.h says how to discard a result).
# usage: check_nodiscard.sh <include dir> <generated include dir> <work dir>
set -eu
inc=$1 gen=$2 work=$3
mkdir -p "$work"
for form in ignored void; do
    if [ $form = void ]; then call='(void)gd_gaussian_sigma(0.5f, &sigma);'; else call='gd_gaussian_sigma(0.5f, &sigma);'; fi
    printf '#include <gdropout/gdropout.h>\nint main(void)\n{\n    float sigma = 0;\n    %s\n    return sigma > 2.0f;\n}\n' \
        "$call" >"$work/$form.c"
    cp "$work/$form.c" "$work/$form.cc"
done
checked=0
check() { # compiler, source suffix, standard
    cc=$1 ext=$2 std=$3
    command -v "$cc" >/dev/null 2>&1 || return 0
    flags="-std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I$inc -I$gen"
    # shellcheck disable=SC2086
    if ! "$cc" $flags "$work/void.$ext" 2>"$work/err.txt"; then
        cat "$work/err.txt"
        echo "FAIL: $cc -std=$std: a result cast to (void) still warns" >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    if "$cc" $flags "$work/ignored.$ext" 2>/dev/null; then
        echo "FAIL: $cc -std=$std: an ignored result does not warn" >&2
        exit 1
    fi
    echo "ok: $cc -std=$std"
    checked=$((checked + 1))
}
for std in c11 c17 c2x; do check gcc c $std; check clang c $std; done
for std in c++11 c++14 c++17; do check g++ cc $std; check clang++ cc $std; done
[ "$checked" -gt 0 ] || { echo "FAIL: no compiler found" >&2; exit 1; }
