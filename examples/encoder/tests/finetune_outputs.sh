#!/usr/bin/env bash
# What `encoder finetune` and `encoder experiment` show and keep (ctest:
# encoder_finetune_outputs; issue 27 items 5, 6 and 15): progress lines
# during a run (none with --quiet); --save writes a model that loads again;
# --predictions writes the test predictions the printed test score was
# computed from; a regression score is named neg_mse, not acc; experiment
# rows record their rate and lr and refuse rows made with another plan.
#   finetune_outputs.sh ENCODER WORK_DIR
# Exit 77 (skipped) without WordNet (the tiny checkpoint's corpus).
set -u
enc=$1 work=$2
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"
enc_test_tiny || { cat t.log; exit 1; }

# tsv FILE N class|score: a header line, then N lines label<TAB>text.
tsv() {
    awk -v n="$2" -v kind="$3" 'BEGIN {
        k = split("animal plant food person body location artifact substance", w, " ")
        print (kind == "class" ? "label" : "score") "\ttext"
        for (i = 0; i < n; i++) {
            label = kind == "class" ? i % 3 : sprintf("%.2f", (i % 5) / 4)
            print label "\ta " w[i % k + 1] " of the " w[(3 * i) % k + 1]
        }
    }' >"$1"
}
tsv tr.tsv 48 class
tsv va.tsv 24 class
tsv te.tsv 30 class
tsv rtr.tsv 48 score
tsv rva.tsv 24 score
tsv rte.tsv 30 score
# field NAME FILE: the value of NAME=... on the result line.
field() { sed -n "s/^result .* $1=\([^ ]*\).*/\1/p" "$2"; }

budget=(--max-steps 20 --min-steps 20 --threads 1)
cls=(finetune --ckpt t --task tsv --train tr.tsv --val va.tsv --test te.tsv "${budget[@]}")

echo "== progress lines, --save and --predictions"
expect 0 '' "finetune --save ft --predictions pred.tsv" -- "$enc" "${cls[@]}" --save ft \
    --predictions pred.tsv
cp out.log cls.log
n=$(grep -Ec '^ +step +[0-9]+/20 +train loss [0-9.]+ +val acc [0-9.]+' cls.log)
[ "$n" -ge 5 ] && grep -Eq '^ +step +20/20 ' cls.log && ok "$n progress lines, the last at step 20" ||
    bad "progress: $n lines: $(head -n 3 cls.log)"
expect 0 '' "the same with --quiet" -- "$enc" "${cls[@]}" --quiet
if grep -Eq '^ +step ' out.log || ! grep -q '^result ' out.log; then
    bad "--quiet: $(head -n 3 out.log)"
else
    ok "--quiet: the result line only"
fi
[ -s ft/model.safetensors ] && cmp -s ft/vocab.txt t/vocab.txt && ok "ft/ holds the model and t's vocabulary" ||
    bad "ft/: $(ls ft 2>&1)"
expect 0 '' "the saved model loads as a checkpoint" -- "$enc" "${cls[@]}" --ckpt ft --max-steps 2 \
    --min-steps 2 --quiet
[ "$(head -n 1 pred.tsv)" = "$(printf 'predicted\tlabel')" ] && [ "$(awk 'END { print NR - 1 }' pred.tsv)" = 30 ] &&
    ok "pred.tsv: a header and 30 predictions" || bad "pred.tsv: $(head -n 2 pred.tsv)"
acc=$(awk -F'\t' 'NR > 1 { right += $1 == $2 } END { printf "%.4f", right / (NR - 1) }' pred.tsv)
[ "$acc" = "$(field test_acc cls.log)" ] && ok "pred.tsv's accuracy $acc is the printed test_acc" ||
    bad "pred.tsv's accuracy $acc, printed test_acc $(field test_acc cls.log)"
expect 1 'no/such/dir' "--predictions into a missing folder fails before the run" -- \
    "$enc" "${cls[@]}" --predictions no/such/dir/p.tsv
grep -q '^task ' out.log && bad "the run started before --predictions was checked" ||
    ok "nothing run"

echo "== regression: the score is named neg_mse"
expect 0 '' "finetune --regression" -- "$enc" finetune --ckpt t --task tsv --regression \
    --train rtr.tsv --val rva.tsv --test rte.tsv "${budget[@]}" --predictions rpred.tsv
grep -Eq '^ +step +[0-9]+/20 +train loss [0-9.]+ +val neg_mse -[0-9.]+' out.log &&
    ok "progress: $(grep -Em1 'val neg_mse' out.log | sed 's/^ *//')" || bad "progress: $(grep -m1 step out.log)"
mse=$(field test_neg_mse out.log)
if [ -n "$mse" ] && ! grep -q 'val_acc=\|test_acc=' out.log; then
    ok "the result line has val_neg_mse and test_neg_mse, no acc"
else
    bad "result: $(grep '^result' out.log)"
fi
# The printed score is minus the mean squared error of the predictions.
awk -F'\t' -v want="$mse" 'NR > 1 { s += ($1 - $2) ^ 2 } END { d = -s / (NR - 1) - want;
    exit !(NR == 31 && d < 5e-4 && d > -5e-4) }' rpred.tsv &&
    ok "rpred.tsv: minus its mean squared error is test_neg_mse $mse" ||
    bad "rpred.tsv does not give test_neg_mse $mse"

echo "== experiment rows: metric, rate and lr recorded; another plan refused"
# Plans for the 7 sites of the tiny 2-layer model, rank-linear from 0.3 down
# to 0: scores rising with the site (a.plan) and falling (b.plan).
plan() { # FILE ORDER(1 or -1)
    awk -v o="$2" 'BEGIN { print "# gdropout plan, 7 sites: <index> <name or -> <score> <p>"
        for (i = 0; i < 7; i++) { r = o > 0 ? i : 6 - i; printf "%d - %d %.2f\n", i, r + 1, 0.05 * (6 - r) } }' >"$1"
}
plan a.plan 1
plan b.plan -1
grid=(experiment --ckpt t --wordnet "$wordnet" --tasks tsv --train rtr.tsv --val rva.tsv --test rte.tsv
      --regression --seeds 1 --fractions 1 --epochs 1 --min-steps 2 --max-steps 2 --eval-every 1
      --regimes guided:0.2 --lr 5e-4)
expect 0 '' "experiment --regression --plan a.plan" -- "$enc" "${grid[@]}" --plan a.plan --out x.tsv
# columns: 5 rate, 6 lr, 13 metric
awk -F'\t' 'NR == 2 { exit !($4 == "guided" && $5 == "0.2" && $6 == "0.0005" && $13 == "neg_mse") }
    END { exit NR != 2 }' x.tsv && ok "the row: guided, rate 0.2, lr 0.0005, metric neg_mse" ||
    bad "x.tsv: $(cat x.tsv)"
expect 1 'x\.tsv:2: a row made with other settings' "the same file with another plan" -- \
    "$enc" "${grid[@]}" --plan b.plan --out x.tsv
expect 0 '' "the same plan again: nothing to run" -- "$enc" "${grid[@]}" --plan a.plan --out x.tsv
[ "$(awk 'END { print NR }' x.tsv)" = 2 ] && ok "x.tsv still holds its one row" || bad "x.tsv: $(cat x.tsv)"

echo "== a plan's site names must be the model's"
# Sites are applied by index: a plan made for another model of as many
# sites, or edited, was once applied without a word.  The plan `encoder
# fisher` writes and an unnamed one (a.plan, "-" for every name) are taken.
"$enc" fisher --ckpt t --wordnet "$wordnet" --fraction 0.0005 --threads 1 --out g.safetensors \
    --plan g.plan --sites g.tsv >g.log 2>&1 || { cat g.log; exit 1; }
guided=("${cls[@]}" --max-steps 2 --min-steps 2 --quiet --regime guided)
expect 0 '' "finetune --plan g.plan (written by encoder fisher)" -- "$enc" "${guided[@]}" --plan g.plan
expect 0 '' "finetune --plan a.plan (unnamed sites)" -- "$enc" "${guided[@]}" --plan a.plan
sed 's/^1 encoder\.layer\.0\.attention\.self\.dropout /1 foo /' g.plan >foo.plan
expect 1 'foo\.plan: site 1 is "foo" in the plan but "encoder\.layer\.0\.attention\.self\.dropout" in the model' \
    "finetune --plan with site 1 renamed" -- "$enc" "${guided[@]}" --plan foo.plan
# The names of sites 2 and 3 swapped: every name the model's, at another index.
awk '$1 == 2 { $2 = "encoder.layer.0.output.dropout" } $1 == 3 { $2 = "encoder.layer.0.attention.output.dropout" } 1' \
    g.plan >swap.plan
expect 1 'swap\.plan: site 2 is "encoder\.layer\.0\.output\.dropout" in the plan but "encoder\.layer\.0\.attention\.output\.dropout"' \
    "finetune --plan with two names swapped" -- "$enc" "${guided[@]}" --plan swap.plan
expect 1 'foo\.plan: site 1 is "foo"' "experiment --plan with site 1 renamed" -- \
    "$enc" "${grid[@]}" --plan foo.plan --out foo.tsv

enc_test_end finetune_outputs
