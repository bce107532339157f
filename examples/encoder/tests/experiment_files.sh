#!/usr/bin/env bash
# The experiment's results file under accidents (ctest: encoder_experiment_files;
# issue 26 items 2 and 10, issue 27 item 6): a full disk, a torn last row, a
# second process on the same file, a resume with a fraction the row format
# rounds, rows of other settings, a target or input that is not a regular
# file.
#   experiment_files.sh ENCODER WORK_DIR
# Exit 77 (skipped) without WordNet.  Every failure must exit 1 naming the
# file, and the file must hold only whole rows.
set -u
enc=$1 work=$2
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"

# whole FILE: every line ends in a newline and has the 19 fields.
whole() {
    [ ! -s "$1" ] || [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
    awk -F'\t' 'NF != 19 { bad = 1 } END { exit bad }' "$1"
}
rows() { awk 'NR > 1' "$1" | wc -l; }

"$enc" pretrain --out t --wordnet "$wordnet" --layers 1 --hidden 16 --heads 2 --ffn 32 \
    --vocab 200 --max-len 16 --batch 16 --steps 20 --warmup 2 --log-every 10 --eval-every 10 \
    --eval-n 50 --threads 1 >t.log 2>&1 || { cat t.log; exit 1; }
# Runs of two steps each: 6 per fraction.
grid=(experiment --ckpt t --wordnet "$wordnet" --tasks supersense --seeds 2 --epochs 1
      --min-steps 2 --max-steps 2 --eval-every 1 --regimes none,standard:0.1,standard:0.2)

echo "== a full disk: exit 1, only whole rows, the run resumes"
# ulimit -f counts 1 KiB blocks; with SIGXFSZ ignored a write past it fails
# with EFBIG, as on a full disk.
expect 1 'full\.tsv: append failed' "a full disk ends the run" -- \
    bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' _ "$enc" "${grid[@]}" --fractions 0.1,0.2 \
    --out full.tsv
whole full.tsv && ok "full.tsv holds only whole rows ($(rows full.tsv))" ||
    bad "full.tsv has a torn row: $(tail -c 80 full.tsv)"
n=$(rows full.tsv)
[ "$n" -lt 12 ] && ok "the disk filled before the last row ($n rows)" || bad "$n rows: the limit never bit"
expect 0 '' "the resume on a disk with room" -- "$enc" "${grid[@]}" --fractions 0.1,0.2 \
    --out full.tsv
[ "$(rows full.tsv)" -eq 12 ] && whole full.tsv && ok "12 whole rows after the resume" ||
    bad "after the resume: $(rows full.tsv) rows"
grep -q "^experiment: $((12 - n)) runs" out.log && ok "the resume ran only the $((12 - n)) missing cells" ||
    bad "the resume ran: $(grep '^experiment:' out.log)"

echo "== a torn last row (a crash mid-write) is cut on resume"
grep -v '	0\.2	' full.tsv | head -n 6 >torn.tsv
printf 'supersense\t0.1\t2\tstandard\t0.2\t0.0003' >>torn.tsv
expect 0 'torn\.tsv:[0-9]+: cutting a torn last line' "the torn row is named and cut" -- \
    "$enc" "${grid[@]}" --fractions 0.1 --out torn.tsv
[ "$(rows torn.tsv)" -eq 6 ] && whole torn.tsv && ok "6 whole rows, the torn cell rerun" ||
    bad "torn.tsv: $(rows torn.tsv) rows"

echo "== a fraction the rows round: resumes match, no duplicate rows"
expect 0 '' "fraction 0.3333333333" -- "$enc" "${grid[@]}" --fractions 0.3333333333 --seeds 1 \
    --out third.tsv
expect 0 '' "the same again" -- "$enc" "${grid[@]}" --fractions 0.3333333333 --seeds 1 \
    --out third.tsv
[ "$(rows third.tsv)" -eq 3 ] && ok "3 rows after two runs" || bad "third.tsv: $(rows third.tsv) rows"

echo "== rows of other settings are refused, not mixed"
expect 1 'full\.tsv:2: a row made with other settings' "another --lr on the same file" -- \
    "$enc" "${grid[@]}" --fractions 0.1 --lr 1e-3 --out full.tsv
expect 1 'full\.tsv:2: a row made with other settings' "another budget on the same file" -- \
    "$enc" "${grid[@]}" --fractions 0.1 --max-steps 3 --out full.tsv
[ "$(rows full.tsv)" -eq 12 ] && ok "full.tsv untouched" || bad "full.tsv: $(rows full.tsv) rows"

echo "== one writer at a time"
if command -v flock >/dev/null; then
    flock full.tsv sleep 30 &
    holder=$!
    sleep 1
    expect 1 'full\.tsv: another process is writing it' "a second process is refused" -- \
        "$enc" "${grid[@]}" --fractions 0.1 --out full.tsv
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
else
    echo "  skip (no flock(1))"
fi

echo "== targets that are not regular files"
mkfifo fifo.tsv
expect 1 'fifo\.tsv: not a regular file' "a FIFO as --out" -- \
    timeout 60 "$enc" "${grid[@]}" --fractions 0.1 --out fifo.tsv
ln -s full.tsv link.tsv
expect 1 'link\.tsv: not a regular file' "a symlink as --out" -- \
    "$enc" "${grid[@]}" --fractions 0.1 --out link.tsv
expect 1 'curves: not a regular file|fifo\.tsv: not a regular file' "a FIFO as --curves" -- \
    timeout 60 "$enc" "${grid[@]}" --fractions 0.1 --out c.tsv --curves fifo.tsv
# Read, not written: refused, not waited on (they hung).
expect 1 'fifo\.tsv: not a regular file' "a FIFO as --also" -- \
    timeout 60 "$enc" "${grid[@]}" --fractions 0.1 --out a.tsv --also fifo.tsv
expect 1 'fifo\.tsv: not a regular file' "a FIFO as --selection" -- \
    timeout 60 "$enc" "${grid[@]}" --fractions 0.1 --out s.tsv --selection fifo.tsv

enc_test_end experiment_files
