# Sourced by the encoder's shell tests (reliability.sh, experiment_files.sh,
# site_rules.sh, fisher_sequences.sh, finetune_outputs.sh, fault_sweep.sh):
# the preamble and the checks they share, written once.
#   . lib.sh; enc_test_begin WORK_DIR    skips (exit 77) without WordNet, then
#                                        works in a fresh WORK_DIR
#   ok WHAT / bad WHAT                   report a check; bad counts a failure
#   expect STATUS PATTERN WHAT -- CMD... CMD's exit status must be STATUS and,
#                                        when PATTERN is not empty, its stderr
#                                        must hold PATTERN (an extended regex);
#                                        returns 1 when not
#   enc_test_tiny                        a tiny 2-layer checkpoint in ./t
#                                        (5 steps; its log in t.log)
#   enc_test_end NAME                    exit 1 if any check failed
# Needs enc (the encoder binary) set.  Sets wordnet (GDX_WORDNET, default
# /usr/share/wordnet), python (GDX_PYTHON3, default /usr/bin/python3) and
# fails.
# shellcheck shell=bash
wordnet=${GDX_WORDNET:-/usr/share/wordnet}
python=${GDX_PYTHON3:-/usr/bin/python3}
fails=0

enc_test_begin() {
    if [ ! -r "$wordnet/data.noun" ]; then
        echo "skipped: no WordNet in $wordnet (apt-get install wordnet-base)"
        exit 77
    fi
    rm -rf "$1"
    mkdir -p "$1"
    cd "$1" || exit 1
}

ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }

expect() {
    local want=$1 pattern=$2 what=$3 status=0
    shift 4
    "$@" >out.log 2>err.log || status=$?
    if [ "$status" -ne "$want" ]; then
        bad "$what: exit $status, expected $want"
        sed 's/^/       /' err.log | tail -n 5
        return 1
    fi
    if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" err.log; then
        bad "$what: stderr lacks /$pattern/"
        sed 's/^/       /' err.log | tail -n 5
        return 1
    fi
    ok "$what${pattern:+: $(grep -Em1 -- "$pattern" err.log)}"
}

enc_test_end() {
    if [ "$fails" -ne 0 ]; then
        echo "$1: $fails check(s) FAILED"
        exit 1
    fi
    echo "$1: all checks passed"
}

enc_test_tiny() {
    "$enc" pretrain --out t --wordnet "$wordnet" --layers 2 --hidden 16 --heads 2 --ffn 32 \
        --vocab 200 --max-len 16 --batch 16 --steps 5 --warmup 1 --log-every 5 --eval-every 5 \
        --eval-n 20 --threads 1 >t.log
}
