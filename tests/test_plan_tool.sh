#!/bin/sh
# gdropout-plan on fixtures: expected plan files, messages and exit codes.
#   test_plan_tool.sh TOOL FIXTURE.safetensors DATA_DIR WORK_DIR
set -u
tool=$1 fixture=$2 data=$3 work=$4
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
expect_in "$work/err" "trunc.safetensors: cannot read the Fisher file: file is corrupt"
expect_status 1 "$data/scores.txt" -o "$work/no/such/dir/x.plan"
expect_in "$work/err" "cannot write the plan"

[ "$fails" -eq 0 ] && echo "test_plan_tool: all checks passed"
[ "$fails" -eq 0 ]
