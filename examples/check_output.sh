#!/bin/sh
# Checks a gdropout-transfer run: check_output.sh LOG RESULTS.md
#   LOG         its stdout, run with --log-every N
#   RESULTS.md  the table it wrote (--out)
# Fails unless every 'loss' line is finite, every run's loss went down from
# its first logged step to its last, every regime trained, and the table has a
# row of numbers for every regime and both paired differences.
set -eu
log=$1
table=$2
regimes="none standard gaussian guided per-unit"

awk -v regimes="$regimes" '
$1 == "loss" {
    run = ""
    for (i = 2; i <= NF && $i !~ /^step=/; i++) run = run " " $i
    v = $NF; sub(/^value=/, "", v)
    if (v !~ /^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
        printf "not a finite loss: %s\n", $0; bad = 1; next
    }
    if (!(run in first)) { first[run] = v + 0; order[++n] = run }
    last[run] = v + 0
    split(run, kv, /[ =]/)
    for (i = 1; i in kv; i++) if (kv[i] == "regime") seen[kv[i + 1]] = 1
}
END {
    if (n == 0) { print "no loss lines (run with --log-every)"; exit 1 }
    for (i = 1; i <= n; i++) {
        r = order[i]
        if (!(last[r] < first[r])) {
            printf "loss did not decrease:%s (%g -> %g)\n", r, first[r], last[r]; bad = 1
        }
    }
    k = split(regimes, want, " ")
    for (i = 1; i <= k; i++)
        if (!(want[i] in seen)) { printf "no loss lines for regime %s\n", want[i]; bad = 1 }
    if (!bad) printf "loss: %d runs, every one finite and decreasing\n", n
    exit bad
}' "$log"

status=0
for row in $regimes "guided − standard" "per-unit − standard"; do
    line=$(grep -F "| $row |" "$table" | head -n 1 || true)
    if [ -z "$line" ]; then
        echo "table: no row for '$row'"
        status=1
    elif printf '%s\n' "$line" | grep -qiE 'nan|inf'; then
        echo "table: non-finite value in row '$row': $line"
        status=1
    elif ! printf '%s\n' "$line" | grep -qE '\| [-+]?[0-9]+\.[0-9]+'; then
        echo "table: no numbers in row '$row': $line"
        status=1
    fi
done
[ $status -eq 0 ] && echo "table: a row of numbers for every regime and difference"
exit $status
