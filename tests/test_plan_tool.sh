#!/bin/sh
# gdropout-plan on fixtures: expected plan files, messages and exit codes.
#   test_plan_tool.sh TOOL FIXTURE.safetensors DATA_DIR WORK_DIR [NAMES.safetensors]
set -u
tool=$1 fixture=$2 data=$3 work=$4 names=${5:-}
mkdir -p "$work"
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# expect_status STATUS ARGS...: run the tool, keep stdout/stderr in $work.
expect_status() {
    want=$1
    shift
    "$tool" "$@" >"$work/out" 2>"$work/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, expected $want: gdropout-plan $*"
}

expect_in() { # FILE TEXT
    grep -qF -- "$2" "$1" || fail "'$2' not in $1: $(cat "$1")"
}

same_file() { # GOT WANT
    cmp -s "$1" "$2" || fail "$1 differs from $2: $(diff "$2" "$1")"
}

# plans from the three inputs
expect_status 0 "$data/scores.txt" --p-max 0.099 -o "$work/scores.plan"
same_file "$work/scores.plan" "$data/scores.plan"
expect_in "$work/out" "layer.0.output"
expect_status 0 -q --out="$work/indexed.plan" "$data/scores_indexed.txt"
same_file "$work/indexed.plan" "$data/scores_indexed.plan"
[ -s "$work/out" ] && fail "--quiet printed a table"
expect_status 0 "$fixture" --p-max 0.3 -o "$work/fisher.plan"
same_file "$work/fisher.plan" "$data/fisher_small.plan"
expect_in "$work/err" "site 2 is fed by no tensor"
expect_in "$work/out" "encoder.0.attn.q"
expect_status 0 --input-format fisher --reduce max --rule uniform "$fixture" -o "$work/u.plan"
expect_in "$work/u.plan" "0 embeddings 4 0.100000001"
expect_status 0 --rule log-score-linear "$data/scores.txt"

# the site-naming examples of gdropout-plan(1) (issue 27 item 14): a common
# prefix cut at the last '.', none inside a part of a name ("-"), fc0
if [ -n "$names" ]; then
    expect_status 0 -q "$names" -o "$work/names.plan"
    expect_in "$work/names.plan" "0 encoder.layer.0.attention 1 "
    expect_in "$work/names.plan" "1 - 0.5 "
    expect_in "$work/names.plan" "2 fc0 0.25 "
fi

# usage errors: 2
expect_status 2
expect_in "$work/err" "no input file"
expect_status 2 --rule nope "$data/scores.txt"
expect_in "$work/err" "unknown rule 'nope'"
expect_status 2 --p-max 0.1 --p-min 0.2 "$data/scores.txt"
expect_status 2 --p-max nan "$data/scores.txt"
expect_status 2 --p-min -0.1 "$data/scores.txt"
expect_status 2 --reduce median "$fixture"
expect_status 2 --bogus "$data/scores.txt"
expect_status 2 "$data/scores.txt" "$data/scores.txt"
expect_status 2 --out
expect_status 0 --help
expect_in "$work/out" "Usage: gdropout-plan"
expect_status 0 --version
expect_in "$work/out" "libgdropout"
expect_status 2 --quiet=3 "$data/scores.txt"
expect_in "$work/err" "option '--quiet' takes no value"
expect_status 2 -o '' "$data/scores.txt"
expect_in "$work/err" "'-o' needs a file name"
[ -s "$work/out" ] && fail "'-o \'\'' printed a table before refusing"

# stdout that cannot be written (a full disk): exit 1 and say so, for the
# table, the help and the version alike (they once exited 0, output lost)
if [ -w /dev/full ]; then
    for args in "$data/scores.txt" --help --version; do
        # shellcheck disable=SC2086
        "$tool" $args >/dev/full 2>"$work/err"
        got=$?
        [ "$got" -eq 1 ] || fail "exit $got with stdout on /dev/full, expected 1: $args"
        expect_in "$work/err" "cannot write to standard output: No space left on device"
    done
fi

# data errors: 1, naming the file
expect_status 1 "$work/does-not-exist"
expect_in "$work/err" "does-not-exist"
expect_status 1 "$data/scores_dup.txt"
expect_in "$work/err" "index 0 is out of range or repeated"
printf 'a 1\nb x\n' >"$work/bad.txt"
expect_status 1 "$work/bad.txt"
expect_in "$work/err" "bad.txt:2:"
printf 'a 0\nb 1\n' >"$work/zero.txt"
expect_status 1 --rule log-score-linear "$work/zero.txt"
expect_in "$work/err" "needs every score > 0"
head -c 100 "$fixture" >"$work/trunc.safetensors"
expect_status 1 --input-format fisher "$work/trunc.safetensors"
expect_in "$work/err" "trunc.safetensors: truncated Fisher file"
expect_status 1 "$data/scores.txt" -o "$work/no/such/dir/x.plan"
expect_in "$work/err" "cannot write the plan"

# ---- issue 16 items 4 and 7, issue 14 item 7, issue 15 item 5 ----------

# the input is read once: piped scores keep every line ("-" and /dev/stdin)
i=0
while [ $i -lt 2000 ]; do echo "s$i $((i + 1))"; i=$((i + 1)); done >"$work/many.txt"
expect_status 0 -q "$work/many.txt" -o "$work/many_file.plan"
cat "$work/many.txt" | "$tool" -q - -o "$work/many_dash.plan" || fail "stdin as '-'"
same_file "$work/many_dash.plan" "$work/many_file.plan"
cat "$work/many.txt" | "$tool" -q /dev/stdin -o "$work/many_stdin.plan" || fail "/dev/stdin"
same_file "$work/many_stdin.plan" "$work/many_file.plan"
[ "$(grep -vc '^#' "$work/many_dash.plan")" -eq 2000 ] || fail "piped plan lost sites"
expect_in "$work/many_dash.plan" "0 s0 1 0.100000001"
cat "$fixture" | "$tool" -q --p-max 0.3 - -o "$work/fisher_pipe.plan" 2>/dev/null ||
    fail "Fisher file on stdin"
same_file "$work/fisher_pipe.plan" "$work/fisher.plan"

# stdin from a file already partly read: the rest is the input (the sniff
# once read offset 0 and the loader the rest: "truncated Fisher file")
{ printf '# ignored\n'; cat "$fixture"; } >"$work/prefixed.st"
{ head -c 10 >/dev/null; "$tool" -q --p-max 0.3 - -o "$work/fisher_offset.plan"; } \
    <"$work/prefixed.st" 2>"$work/err" || fail "stdin at an offset: $(cat "$work/err")"
same_file "$work/fisher_offset.plan" "$work/fisher.plan"

# getopt_long: "--" ends the options, "-oFILE" is one argument
expect_status 0 -q -o "$work/spaced.plan" "$data/scores.txt"
expect_status 0 -q "-o$work/glued.plan" -- "$data/scores.txt"
same_file "$work/glued.plan" "$work/spaced.plan"

# the library's number grammar: no hex, no nan/inf, in files and options
printf 'a 0x10\nb 1\n' >"$work/hex.txt"
expect_status 1 "$work/hex.txt"
expect_in "$work/err" "hex.txt:1: score '0x10' is not a decimal number"
printf 'a nan\n' >"$work/nan.txt"
expect_status 1 "$work/nan.txt"
expect_in "$work/err" "nan.txt:1: score 'nan' is not finite"
printf 'a 1\nb 1e39\n' >"$work/inf.txt"
expect_status 1 "$work/inf.txt"
expect_in "$work/err" "inf.txt:2: score '1e39' is not finite"
expect_status 2 --p-max 0x0.1p0 "$data/scores.txt"
expect_status 2 --p-max inf "$data/scores.txt"
expect_status 2 -o - "$data/scores.txt"
expect_in "$work/err" "'-o -'"
[ -e ./- ] && fail "'-o -' wrote a file named '-'"

# a refused name is shown with its invisible bytes escaped (U+0085, a C1
# control, once printed as nothing: "bad name 'a'")
printf 'a\302\205 1\nb 2\n' >"$work/c1.txt"
expect_status 1 "$work/c1.txt"
expect_in "$work/err" "c1.txt:1: bad name 'a\\xc2\\x85'"

# second pass: a text file forced as Fisher is not called a truncated one
printf 'abcdefgh{ 1\n' >"$work/brace.txt"
expect_status 1 --input-format fisher "$work/brace.txt"
expect_in "$work/err" "brace.txt: cannot read the Fisher file"

# inputs that are not files of scores, each named with its reason
expect_status 1 "$work"
expect_in "$work/err" "is a directory"
expect_status 1 "$data/f16.safetensors"
expect_in "$work/err" 'tensor "enc.1.w" has dtype F16'
expect_status 1 "$data/nosamples.safetensors"
expect_in "$work/err" 'tensor "enc.1.w" (site 1) has no samples'
{ printf 'a '; i=0; while [ $i -lt 1030 ]; do printf '1'; i=$((i + 1)); done; echo; } >"$work/long.txt"
expect_status 1 "$work/long.txt"
expect_in "$work/err" "long.txt:1: line longer than 1024 bytes"
if command -v mkfifo >/dev/null && command -v timeout >/dev/null; then
    mkfifo "$work/fifo"
    timeout 20 "$tool" "$work/fifo" >"$work/out" 2>"$work/err"
    [ $? -eq 1 ] || fail "a FIFO without a writer: exit 1 at once"
    expect_in "$work/err" "no scores (the input is empty)"
fi

# the tool reads its own plan files back
expect_status 0 -q "$data/scores.txt" --p-max 0.099 -o "$work/own.plan"
expect_status 0 -q "$work/own.plan" --p-max 0.099 -o "$work/own_again.plan"
same_file "$work/own_again.plan" "$work/own.plan"
expect_status 0 -q "$data/fisher_small.plan" --rule uniform
printf '0 a 1 1.5\n' >"$work/bad_p.plan"
expect_status 1 "$work/bad_p.plan"
expect_in "$work/err" "bad_p.plan:1: p '1.5' is not a probability"

# work follows the tensors, not the site numbers: site 10^9 in 200 bytes
expect_status 0 "$data/site1e9.safetensors"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "one note for the missing sites: $(head -3 "$work/err")"
expect_in "$work/err" "999999999 sites are fed by no tensor (1, 2, 3"
expect_in "$work/out" "1000000000 b"

# controls (gd_plan_control): the same rates, moved
expect_status 0 -q "$data/scores.txt" --p-max 0.3 -o "$work/base.plan"
expect_status 0 -q "$data/scores.txt" --p-max 0.3 --control reversed -o "$work/rev.plan"
rates() { awk '!/^#/ { print $4 }' "$1" | sort -g | paste -sd' '; }
[ "$(rates "$work/rev.plan")" = "$(rates "$work/base.plan")" ] || fail "reversed changed the rates"
# rank-linear to 0: the reversed rate of a site is 0.3 minus its own
paste "$work/base.plan" "$work/rev.plan" | awk '!/^#/ { d = $4 + $8 - 0.3; if (d > 1e-7 || d < -1e-7) bad = 1 }
    END { exit bad }' || fail "reversed is not 0.3 - p site by site"
expect_status 0 -q "$data/scores.txt" --p-max 0.3 --control permuted --seed 7 -o "$work/perm7.plan"
[ "$(rates "$work/perm7.plan")" = "$(rates "$work/base.plan")" ] || fail "permuted changed the rates"
expect_status 0 -q "$data/scores.txt" --p-max 0.3 --control permuted --seed 7 -o "$work/perm7b.plan"
same_file "$work/perm7b.plan" "$work/perm7.plan"
expect_status 0 "$data/scores.txt" --p-max 0.3 --control matched
expect_in "$work/out" "control matched (seed 0)"
expect_status 2 "$data/scores.txt" --control sideways
expect_in "$work/err" "unknown control 'sideways'"
expect_status 2 "$data/scores.txt" --control permuted --seed -1
expect_in "$work/err" "'-1' is not a seed"

[ "$fails" -eq 0 ] && echo "test_plan_tool: all checks passed"
[ "$fails" -eq 0 ]
