#!/usr/bin/env bash
# `encoder fisher --sequences FILE` (ctest: encoder_fisher_sequences): the
# WordNet pass's own masked sequences, written with --write-sequences and
# read back, must give the same Fisher file and plan byte for byte (the
# known answer); one sequence less must not; and bad lines end the program
# naming the file and line.  A tiny 2-layer checkpoint; exit 77 without
# WordNet.
#   fisher_sequences.sh ENCODER WORK_DIR
set -eu
enc=$1 work=$2
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"
enc_test_tiny
common=(--ckpt t --threads 1 --log-every 1000000)

"$enc" fisher "${common[@]}" --wordnet "$wordnet" --fraction 0.001 --write-sequences seq.txt \
    --out wn.safetensors --plan wn.plan --sites wn.tsv >wn.log
"$enc" fisher "${common[@]}" --sequences seq.txt --out file.safetensors --plan file.plan \
    --sites file.tsv >file.log
n=$(wc -l <seq.txt)
if [ "$n" -lt 2 ]; then
    bad "seq.txt has $n sequences; the test needs at least 2"
elif cmp -s wn.safetensors file.safetensors && cmp -s wn.plan file.plan; then
    ok "$n sequences written and read back: the same Fisher file and plan"
else
    bad "the sequences read back give another Fisher file or plan than the WordNet pass"
fi
if grep -q "^Fisher pass: $n sequences, [0-9.]* s CPU" file.log; then
    ok "the pass's time is reported"
else
    bad "no 'Fisher pass: $n sequences, ... s CPU' line in file.log"
fi

head -n $((n - 1)) seq.txt >short.txt
"$enc" fisher "${common[@]}" --sequences short.txt --out short.safetensors --plan short.plan \
    --sites short.tsv >short.log
if cmp -s wn.safetensors short.safetensors; then
    bad "one sequence less gives the same Fisher file"
else
    ok "one sequence less gives another Fisher file"
fi

# Bad input: the file and line, and why.
fisher=("$enc" fisher "${common[@]}" --out bad.safetensors --plan bad.plan --sites bad.tsv)
printf '2 5 4 3\t2:7\n2 5 200 3\t2:7\n' >f1
expect 1 "f1:2: token id 200 is not below 200" "a token id past the vocabulary" -- \
    "${fisher[@]}" --sequences f1
printf '2 5 4 3\t4:7\n' >f2
expect 1 "f2:1: target position 4 is not below 4" "a target past the sequence" -- \
    "${fisher[@]}" --sequences f2
printf '2 5 4 3\t2:200\n' >f3
expect 1 "f3:1: target label 200 is not below 200" "a label past the vocabulary" -- \
    "${fisher[@]}" --sequences f3
printf '2 5 4 3 2:7\n' >f4
expect 1 "f4:1: expected token ids, one tab" "no tab" -- "${fisher[@]}" --sequences f4
printf '2 5 4 3\t\n' >f5
expect 1 "f5:1: no targets" "no target" -- "${fisher[@]}" --sequences f5
printf '2 5 4 3\t2:7 2:8\n' >f6
expect 1 "f6:1: position 2 is a target twice" "a position twice" -- "${fisher[@]}" --sequences f6
printf '2 5 4 3\t2-7\n' >f7
expect 1 "f7:1: expected POS:LABEL" "a target without ':'" -- "${fisher[@]}" --sequences f7
printf '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\t2:7\n' >f8
expect 1 "f8:1: more than the model's max_len \(16\)" "a sequence past max_len" -- \
    "${fisher[@]}" --sequences f8
printf '2 x 4\t1:7\n' >f9
expect 1 "f9:1: expected token id" "a token that is no number" -- "${fisher[@]}" --sequences f9
: >f10
expect 1 "f10: no sequences" "an empty file" -- "${fisher[@]}" --sequences f10
expect 1 "missing: No such file" "a missing file" -- "${fisher[@]}" --sequences missing
expect 1 "--wordnet, --fraction and --seed do not apply" "--sequences with --fraction" -- \
    "${fisher[@]}" --sequences seq.txt --fraction 0.5
expect 1 "exclude each other" "--sequences with --write-sequences" -- \
    "${fisher[@]}" --sequences seq.txt --write-sequences again.txt
enc_test_end fisher_sequences
